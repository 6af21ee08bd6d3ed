use std::time::Duration;

use crate::Rng;

/// How a delay is randomised around the exponential sequence.
///
/// In the formulas, `base_n = min(max, min × multiplier^n)` is the un-jittered delay
/// before retry `n` (counting from 0), `prev` is the previous delay handed out (`min`
/// before the first) and `uniform[a, b]` is a uniformly drawn duration. Every kind
/// keeps each delay within `[min, max]`. See the [module docs](super) for why jitter
/// matters and how the kinds compare.
///
/// The default is [`Full`](Self::Full): in the AWS comparison it did the least work
/// and spread clients the best.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: `delay_n = base_n`.
    ///
    /// The first delay is `min` and delays never decrease. Only for tests, or for a
    /// single client that cannot collide with others.
    None,
    /// Full jitter: `delay_n = uniform[min, base_n]`.
    ///
    /// The first delay is `min` (the range is empty); afterwards the ceiling doubles
    /// (with the default multiplier) while the floor stays at `min`.
    #[default]
    Full,
    /// Equal jitter: `delay_n = max(min, base_n / 2 + uniform[0, base_n / 2])`.
    ///
    /// Always waits at least half the exponential delay.
    Equal,
    /// Decorrelated jitter: `delay_n = min(max, uniform[min, 3 × prev])`.
    ///
    /// Grows from the previous delay rather than from the attempt number, so it
    /// ignores the multiplier; on average each delay is about 1.5 times the last.
    Decorrelated,
}

impl Jitter {
    /// The delay for one step; `min <= base <= max` and `min <= prev` hold.
    pub(super) fn delay<R: Rng + ?Sized>(
        self,
        min: Duration,
        base: Duration,
        prev: Duration,
        max: Duration,
        rng: &mut R,
    ) -> Duration {
        match self {
            Self::None => base,
            Self::Full => between(min, base, rng.next_f64()),
            Self::Equal => {
                let half = base / 2;
                between(half, base, rng.next_f64()).max(min)
            }
            Self::Decorrelated => between(min, prev.saturating_mul(3), rng.next_f64()).min(max),
        }
    }
}

/// `lo + (hi - lo) × f` for `f` in `[0, 1)`, kept within `[lo, hi]` (`lo <= hi`).
fn between(lo: Duration, hi: Duration, f: f64) -> Duration {
    let span = hi.saturating_sub(lo);
    lo.saturating_add(mul_f64_saturating(span, f)).min(hi)
}

/// `d × f` for a non-negative `f` (infinity included), saturating at [`Duration::MAX`]
/// instead of panicking the way [`Duration::mul_f64`] does.
pub(super) fn mul_f64_saturating(d: Duration, f: f64) -> Duration {
    // Exact for durations under 2^53 ns (104 days), close enough beyond.
    let nanos = d.as_nanos() as f64 * f;
    if nanos.is_nan() || nanos <= 0.0 {
        // NaN only from 0 × inf; a negative factor never reaches here.
        Duration::ZERO
    } else if nanos < u64::MAX as f64 {
        Duration::from_nanos(nanos as u64)
    } else {
        Duration::try_from_secs_f64(nanos / 1e9).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_saturates_and_is_exact_for_small_values() {
        let ms = Duration::from_millis;
        assert_eq!(mul_f64_saturating(ms(100), 2.0), ms(200));
        assert_eq!(mul_f64_saturating(ms(100), 0.0), Duration::ZERO);
        assert_eq!(
            mul_f64_saturating(Duration::ZERO, f64::INFINITY),
            Duration::ZERO
        );
        assert_eq!(mul_f64_saturating(ms(1), f64::INFINITY), Duration::MAX);
        assert_eq!(mul_f64_saturating(ms(1), 1e300), Duration::MAX);
        assert_eq!(mul_f64_saturating(Duration::MAX, 2.0), Duration::MAX);
        let big = mul_f64_saturating(Duration::from_secs(1 << 40), 3.0);
        assert_eq!(big.as_secs(), 3 << 40);
    }

    #[test]
    fn between_stays_in_range() {
        let (lo, hi) = (Duration::from_millis(10), Duration::MAX);
        assert_eq!(between(lo, hi, 0.0), lo);
        assert!(between(lo, hi, 0.999_999_999_999) <= hi);
        assert_eq!(between(hi, hi, 0.5), hi);
    }
}
