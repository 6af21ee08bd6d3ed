use std::time::Duration;

use super::Jitter;
use super::jitter::mul_f64_saturating;
use crate::{ConfigError, DefaultRng, Rng};

/// Exponentially growing delays between attempts, randomised by a [`Jitter`].
///
/// One value is one sequence: [`next_delay`](Self::next_delay) hands out the delay
/// before the next retry and steps on; [`reset`](Self::reset) starts over. Keep a
/// configured template and give each request its own sequence with
/// [`reseeded`](Self::reseeded), so concurrent requests draw different delays that
/// still replay exactly for a given seed.
///
/// Without jitter, delay `n` (counting from 0) is `min(max, min × multiplier^n)`; see
/// [`Jitter`] for the randomised forms. Every delay lies within `[min, max]`, whatever
/// the configuration and however many steps are taken: the arithmetic saturates at
/// `max` instead of overflowing. `next_delay` never allocates.
///
/// # Defaults
///
/// [`ExponentialBackoff::default()`] (and the builder's starting values):
///
/// | setting | value | why |
/// |---|---|---|
/// | `min` | 250 ms | the vendor's own bridge waits 250 ms between API calls; every retry is billed, so a retry sooner than that buys little |
/// | `max` | 10 s | leaves room for several attempts within a typical 30 s caller deadline |
/// | `multiplier` | 2 | the classic doubling: 250 ms, 500 ms, 1 s, 2 s, 4 s, 8 s, then 10 s |
/// | `jitter` | [`Jitter::Full`] | the least work for the server in the AWS comparison |
/// | seed | 0 | deterministic; production code gives each request its own seed with [`reseeded`](Self::reseeded) |
///
/// With full jitter the first delay is always `min` and each later one is drawn from
/// `[min, base_n]`, so three retries wait at most 250 ms + 500 ms + 1 s in all.
///
/// ```
/// use std::time::Duration;
/// use resile_policy::ExponentialBackoff;
///
/// let mut backoff = ExponentialBackoff::default().reseeded(7);
/// for _ in 0..100 {
///     let delay = backoff.next_delay();
///     assert!(delay >= Duration::from_millis(250) && delay <= Duration::from_secs(10));
/// }
/// assert_eq!(backoff.attempt(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct ExponentialBackoff<R = DefaultRng> {
    min: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
    rng: R,
    /// Delays handed out since the last reset.
    attempt: u32,
    /// The un-jittered delay for the next step, `min(max, min × multiplier^attempt)`.
    base: Duration,
    /// The last delay handed out (`min` before the first), for decorrelated jitter.
    prev: Duration,
}

impl ExponentialBackoff {
    /// The default minimum delay, 250 ms.
    pub const DEFAULT_MIN: Duration = Duration::from_millis(250);
    /// The default maximum delay, 10 s.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(10);
    /// The default growth factor, 2.
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;

    /// A builder starting from the [defaults](Self#defaults).
    pub const fn builder() -> ExponentialBackoffBuilder {
        ExponentialBackoffBuilder::new()
    }
}

impl Default for ExponentialBackoff {
    /// 250 ms to 10 s, doubling, full jitter, seed 0; see [Defaults](Self#defaults).
    fn default() -> Self {
        Self::assemble(
            Self::DEFAULT_MIN,
            Self::DEFAULT_MAX,
            Self::DEFAULT_MULTIPLIER,
            Jitter::Full,
            DefaultRng::new(0),
        )
    }
}

impl<R> ExponentialBackoff<R> {
    /// Callers guarantee `min <= max` and a finite `multiplier >= 1`.
    const fn assemble(
        min: Duration,
        max: Duration,
        multiplier: f64,
        jitter: Jitter,
        rng: R,
    ) -> Self {
        Self {
            min,
            max,
            multiplier,
            jitter,
            rng,
            attempt: 0,
            base: min,
            prev: min,
        }
    }

    /// The smallest delay handed out.
    pub const fn min(&self) -> Duration {
        self.min
    }

    /// The largest delay handed out.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The growth factor between successive un-jittered delays.
    pub const fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// How delays are randomised.
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// How many delays [`next_delay`](Self::next_delay) has handed out since the last
    /// reset (saturating at `u32::MAX`).
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts the sequence over: the next delay is computed as the first one again.
    /// The random generator is not rewound.
    pub const fn reset(&mut self) {
        self.attempt = 0;
        self.base = self.min;
        self.prev = self.min;
    }

    /// The same configuration and sequence position, drawing from `rng` instead.
    pub fn with_rng<R2: Rng>(self, rng: R2) -> ExponentialBackoff<R2> {
        ExponentialBackoff {
            min: self.min,
            max: self.max,
            multiplier: self.multiplier,
            jitter: self.jitter,
            rng,
            attempt: self.attempt,
            base: self.base,
            prev: self.prev,
        }
    }

    /// A fresh sequence with the same configuration and a [`DefaultRng`] seeded with
    /// `seed`: the way to give each request its own deterministic delays from one
    /// template.
    #[must_use]
    pub const fn reseeded(&self, seed: u64) -> ExponentialBackoff {
        ExponentialBackoff::assemble(
            self.min,
            self.max,
            self.multiplier,
            self.jitter,
            DefaultRng::new(seed),
        )
    }
}

impl<R: Rng> ExponentialBackoff<R> {
    /// The delay before the next retry; steps the sequence.
    ///
    /// Always within `[min, max]`; never panics or allocates, even after billions of
    /// calls.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self
            .jitter
            .delay(self.min, self.base, self.prev, self.max, &mut self.rng);
        self.prev = delay;
        self.base = self.grow(self.base);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// `min(max, base × multiplier)`, never below `base`.
    fn grow(&self, base: Duration) -> Duration {
        if self.multiplier <= 1.0 || base >= self.max {
            return base;
        }
        mul_f64_saturating(base, self.multiplier)
            .max(base)
            .min(self.max)
    }
}

/// Configures an [`ExponentialBackoff`]; from [`ExponentialBackoff::builder`].
///
/// Starts from the [defaults](ExponentialBackoff#defaults). [`build`](Self::build)
/// checks the values and names the offending field (`backoff.min`, `backoff.max`,
/// `backoff.multiplier`) in its [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use]
pub struct ExponentialBackoffBuilder {
    min: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
    seed: u64,
}

impl ExponentialBackoffBuilder {
    const fn new() -> Self {
        Self {
            min: ExponentialBackoff::DEFAULT_MIN,
            max: ExponentialBackoff::DEFAULT_MAX,
            multiplier: ExponentialBackoff::DEFAULT_MULTIPLIER,
            jitter: Jitter::Full,
            seed: 0,
        }
    }

    /// The first and smallest delay (default 250 ms). Zero is accepted only with
    /// [`Jitter::None`] (every delay is then zero, handy in tests); with jitter a zero
    /// minimum would never grow, which is surely a mistake.
    pub const fn min(mut self, min: Duration) -> Self {
        self.min = min;
        self
    }

    /// The largest delay (default 10 s); must be at least `min`.
    pub const fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The growth factor (default 2); must be finite and at least 1 (1 gives a constant
    /// base delay).
    pub const fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// How delays are randomised (default [`Jitter::Full`]).
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The seed of the [`DefaultRng`] (default 0).
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the values and builds the backoff.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `backoff.min` (zero with a jitter other than
    /// [`Jitter::None`]), `backoff.max` (below `min`) or `backoff.multiplier` (not
    /// finite, or below 1).
    pub fn build(self) -> Result<ExponentialBackoff, ConfigError> {
        if self.min.is_zero() && self.jitter != Jitter::None {
            return Err(ConfigError::new(
                "backoff.min",
                "must be greater than zero unless jitter is `None`: a zero minimum never grows",
            ));
        }
        if self.max < self.min {
            return Err(ConfigError::new("backoff.max", "must be at least `min`"));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(ConfigError::new(
                "backoff.multiplier",
                "must be a finite number of at least 1.0",
            ));
        }
        Ok(ExponentialBackoff::assemble(
            self.min,
            self.max,
            self.multiplier,
            self.jitter,
            DefaultRng::new(self.seed),
        ))
    }
}

impl Default for ExponentialBackoffBuilder {
    /// The [defaults](ExponentialBackoff#defaults).
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn take<R: Rng>(mut b: ExponentialBackoff<R>, n: usize) -> Vec<Duration> {
        (0..n).map(|_| b.next_delay()).collect()
    }

    fn backoff(jitter: Jitter) -> ExponentialBackoff {
        ExponentialBackoff::builder()
            .min(ms(100))
            .max(ms(10_000))
            .jitter(jitter)
            .seed(1)
            .build()
            .unwrap()
    }

    #[test]
    fn no_jitter_doubles_up_to_max() {
        let delays = take(backoff(Jitter::None), 10);
        let want = [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000].map(ms);
        assert_eq!(delays, want);
    }

    #[test]
    fn default_numbers() {
        let b = ExponentialBackoff::default();
        assert_eq!(
            (b.min(), b.max(), b.multiplier()),
            (ms(250), ms(10_000), 2.0)
        );
        assert_eq!(b.jitter(), Jitter::Full);
        assert_eq!(Jitter::default(), Jitter::Full);
        let built = ExponentialBackoff::builder().build().unwrap();
        assert_eq!(take(ExponentialBackoff::default(), 20), take(built, 20));
    }

    #[test]
    fn reset_and_attempt() {
        let mut b = backoff(Jitter::Full);
        let first: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(b.attempt(), 5);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay(), ms(100), "full jitter starts at min");
        assert_eq!(first[0], ms(100));
    }

    #[test]
    fn reseeded_gives_fresh_deterministic_sequences() {
        let mut template = backoff(Jitter::Full);
        let _ = template.next_delay();
        let a = take(template.reseeded(9), 30);
        let b = take(template.reseeded(9), 30);
        let c = take(template.reseeded(10), 30);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a[0], ms(100), "reseeded starts a new sequence");
    }

    #[test]
    fn with_rng_keeps_position() {
        let mut b = backoff(Jitter::None);
        let _ = (b.next_delay(), b.next_delay());
        let mut moved = b.with_rng(DefaultRng::new(5));
        assert_eq!(moved.attempt(), 2);
        assert_eq!(moved.next_delay(), ms(400));
    }

    /// Mean of `n` delays at attempt `step` (after `step` warm-up delays), in ms.
    fn mean_at(jitter: Jitter, step: usize, n: u32) -> f64 {
        let template = backoff(jitter);
        let mut sum = 0.0;
        for seed in 0..u64::from(n) {
            let mut b = template.reseeded(seed);
            for _ in 0..step {
                let _ = b.next_delay();
            }
            sum += b.next_delay().as_secs_f64() * 1000.0;
        }
        sum / f64::from(n)
    }

    #[test]
    fn full_jitter_is_uniform_between_min_and_base() {
        // Step 4: base 1600 ms, so uniform[100, 1600] has mean 850 ms.
        let mean = mean_at(Jitter::Full, 4, 10_000);
        assert!((mean - 850.0).abs() < 20.0, "mean {mean}");
    }

    #[test]
    fn equal_jitter_is_uniform_in_upper_half() {
        // Step 4: uniform[800, 1600], mean 1200 ms.
        let mean = mean_at(Jitter::Equal, 4, 10_000);
        assert!((mean - 1200.0).abs() < 15.0, "mean {mean}");
        let mut b = backoff(Jitter::Equal);
        for _ in 0..4 {
            let _ = b.next_delay();
        }
        let d = b.next_delay();
        assert!(d >= ms(800) && d <= ms(1600), "{d:?}");
    }

    #[test]
    fn decorrelated_jitter_grows_from_the_previous_delay() {
        // First: uniform[100, 300], mean 200 ms.
        let mean = mean_at(Jitter::Decorrelated, 0, 10_000);
        assert!((mean - 200.0).abs() < 5.0, "mean {mean}");
        // Each delay is at most three times the one before.
        let mut b = backoff(Jitter::Decorrelated);
        let mut prev = ms(100);
        for _ in 0..1000 {
            let d = b.next_delay();
            assert!(
                d >= ms(100) && d <= (prev * 3).min(ms(10_000)),
                "{d:?} after {prev:?}"
            );
            prev = d;
        }
    }

    #[test]
    fn builder_rejects_bad_values_naming_the_field() {
        let b = ExponentialBackoff::builder;
        let field = |r: Result<ExponentialBackoff, ConfigError>| r.unwrap_err().field().to_owned();
        assert_eq!(field(b().min(Duration::ZERO).build()), "backoff.min");
        assert_eq!(field(b().min(ms(2)).max(ms(1)).build()), "backoff.max");
        for m in [0.5, f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(field(b().multiplier(m).build()), "backoff.multiplier");
        }
        let zero = b()
            .min(Duration::ZERO)
            .max(Duration::ZERO)
            .jitter(Jitter::None);
        assert!(take(zero.build().unwrap(), 5).iter().all(|d| d.is_zero()));
        assert!(b().multiplier(1.0).min(ms(5)).max(ms(5)).build().is_ok());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn jitter_serializes_in_snake_case() {
        let json = serde_json::to_string(&Jitter::Decorrelated).unwrap();
        assert_eq!(json, "\"decorrelated\"");
        assert_eq!(
            serde_json::from_str::<Jitter>("\"full\"").unwrap(),
            Jitter::Full
        );
    }
}
