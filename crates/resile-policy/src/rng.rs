//! Randomness, behind a seam.
//!
//! Jitter needs random numbers; tests need them to repeat. Everything here that draws
//! takes an [`Rng`] type parameter defaulting to [`DefaultRng`], a small seedable
//! generator, so a seed fixes every delay a test will see.

/// A source of uniformly distributed 64-bit values.
pub trait Rng {
    /// The next value.
    fn next_u64(&mut self) -> u64;

    /// A float uniformly distributed in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        // 53 high bits give every representable multiple of 2^-53.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl<R: Rng + ?Sized> Rng for &mut R {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// The default generator: wyrand, a 64-bit generator with one word of state.
///
/// Not cryptographic; it only spreads retries apart. `DefaultRng::new(seed)` is
/// deterministic, which is what tests and benches want; production code seeds it from
/// anything that differs between processes (the adapters use the address of a heap
/// allocation mixed with a counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRng {
    state: u64,
}

impl DefaultRng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl Default for DefaultRng {
    /// Seed 0: deterministic. Seed explicitly where variety matters.
    fn default() -> Self {
        Self::new(0)
    }
}

impl Rng for DefaultRng {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_floats_in_unit_interval() {
        let mut a = DefaultRng::new(7);
        let mut b = DefaultRng::new(7);
        let mut c = DefaultRng::new(8);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        for _ in 0..10_000 {
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn floats_are_spread() {
        let mut r = DefaultRng::new(1);
        let mean: f64 = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }
}
