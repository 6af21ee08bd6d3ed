//! Deterministic per-request randomness.
//!
//! Every random choice the simulator makes is a pure function of the seed, the request's
//! sequence number and a salt (the fault's index on the timeline), so the same seed and
//! the same request order give the same faults, run after run. No generator state is
//! shared between requests, so concurrency cannot reorder draws within one request.

/// splitmix64's finaliser: a bijective mix of 64 bits.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The draw for `(seed, seq, salt)`: 64 well-mixed bits.
pub(crate) const fn draw(seed: u64, seq: u64, salt: u64) -> u64 {
    mix(mix(mix(seed) ^ seq) ^ salt.wrapping_mul(0xd6e8_feb8_6659_fd93))
}

/// The draw for `(seed, seq, salt)` as a float uniformly distributed in `[0, 1)`.
pub(crate) fn unit(seed: u64, seq: u64, salt: u64) -> f64 {
    (draw(seed, seq, salt) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_repeat_for_the_same_inputs_and_differ_otherwise() {
        assert_eq!(draw(1, 2, 3), draw(1, 2, 3));
        assert_ne!(draw(1, 2, 3), draw(2, 2, 3));
        assert_ne!(draw(1, 2, 3), draw(1, 3, 3));
        assert_ne!(draw(1, 2, 3), draw(1, 2, 4));
    }

    #[test]
    fn unit_is_in_range_and_spread() {
        let n = 20_000u64;
        let mut below_fifth = 0;
        let mut sum = 0.0;
        for seq in 0..n {
            let u = unit(42, seq, 0);
            assert!((0.0..1.0).contains(&u));
            sum += u;
            if u < 0.2 {
                below_fifth += 1;
            }
        }
        let mean = sum / n as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        let frac = f64::from(below_fifth) / n as f64;
        assert!((frac - 0.2).abs() < 0.02, "fraction {frac}");
    }
}
