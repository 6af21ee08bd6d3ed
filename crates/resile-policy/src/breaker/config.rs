//! [`BreakerConfig`], validated once by [`BreakerBuilder`] and shared by many breakers.

use std::time::Duration;

use super::CircuitBreaker;
use crate::ConfigError;

/// The longest any breaker duration may be: 365 days. Longer values are surely a unit
/// mistake, and the bound keeps instant arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A validated breaker configuration.
///
/// Build one with [`BreakerBuilder`] (or deserialize one, which validates the same way)
/// and hand it to [`CircuitBreaker::new`] once per host. `Default` holds the builder's
/// defaults, listed on each [`BreakerBuilder`] method.
///
/// With the `serde` feature it (de)serializes with the builder's field names; missing
/// fields take their defaults, unknown fields are an error.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "BreakerBuilder"))]
pub struct BreakerConfig {
    failure_ratio: f64,
    window: Duration,
    minimum_calls: u32,
    consecutive_failures: u32,
    open_for: Duration,
    max_open_for: Duration,
    jitter: f64,
    probes: u32,
    probe_timeout: Duration,
    slow_call: Option<Duration>,
    seed: u64,
}

impl BreakerConfig {
    /// A builder starting from the defaults.
    pub const fn builder() -> BreakerBuilder {
        BreakerBuilder::new()
    }
    /// Failure ratio in the window at which the breaker trips.
    pub const fn failure_ratio(&self) -> f64 {
        self.failure_ratio
    }
    /// Length of the rolling window.
    pub const fn window(&self) -> Duration {
        self.window
    }
    /// Judged calls the window needs before the ratio can trip the breaker.
    pub const fn minimum_calls(&self) -> u32 {
        self.minimum_calls
    }
    /// Failures in a row that trip the breaker; 0 when that rule is off.
    pub const fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
    /// Open duration after the first trip.
    pub const fn open_for(&self) -> Duration {
        self.open_for
    }
    /// Cap on the grown open duration (before jitter).
    pub const fn max_open_for(&self) -> Duration {
        self.max_open_for
    }
    /// Relative spread of each open duration.
    pub const fn jitter(&self) -> f64 {
        self.jitter
    }
    /// Probes admitted while half-open, all of which must succeed to close.
    pub const fn probes(&self) -> u32 {
        self.probes
    }
    /// How long an unreported probe holds its slot.
    pub const fn probe_timeout(&self) -> Duration {
        self.probe_timeout
    }
    /// Successes slower than this count as failures; `None` when off.
    pub const fn slow_call(&self) -> Option<Duration> {
        self.slow_call
    }
    /// Seed of the jitter generator used by [`CircuitBreaker::new`].
    pub const fn seed(&self) -> u64 {
        self.seed
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerBuilder::new().assemble()
    }
}

/// Builds a [`BreakerConfig`] or a [`CircuitBreaker`]; every setting has a default.
///
/// The defaults suit an API host serving a steady stream of calls: trip at half the
/// calls failing over 10 s (given 20 calls), or 5 failures in a row; stay open 5 s,
/// doubling per failed probe up to 60 s, ±10 %; one probe, declared lost after 10 s.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct BreakerBuilder {
    failure_ratio: f64,
    window: Duration,
    minimum_calls: u32,
    consecutive_failures: u32,
    open_for: Duration,
    max_open_for: Duration,
    jitter: f64,
    probes: u32,
    probe_timeout: Duration,
    slow_call: Option<Duration>,
    seed: u64,
}

impl BreakerBuilder {
    /// A builder holding the defaults.
    pub const fn new() -> Self {
        Self {
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            minimum_calls: 20,
            consecutive_failures: 5,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(60),
            jitter: 0.1,
            probes: 1,
            probe_timeout: Duration::from_secs(10),
            slow_call: None,
            seed: 0,
        }
    }

    /// Trip when at least this share of the window's calls failed. In (0, 1]; default
    /// 0.5: a host failing half its calls is better left alone for a few seconds.
    pub const fn failure_ratio(mut self, ratio: f64) -> Self {
        self.failure_ratio = ratio;
        self
    }

    /// Length of the rolling window, kept as ten buckets. At least 10 ns, at most 365
    /// days; default 10 s: long enough to smooth bursts, short enough to forget.
    pub const fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Judged calls the window must hold before the ratio rule applies. At least 1;
    /// default 20, so a few failures on a quiet client do not trip it.
    pub const fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// Trip after this many failures in a row (any success restarts the count); 0 turns
    /// the rule off. Default 5: catches a hard outage before the window fills.
    pub const fn consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = failures;
        self
    }

    /// Open duration after the first trip; doubles per trip without a full close.
    /// More than zero, at most 365 days; default 5 s.
    pub const fn open_for(mut self, duration: Duration) -> Self {
        self.open_for = duration;
        self
    }

    /// Cap on the doubled open duration, applied before jitter. At least `open_for`, at
    /// most 365 days; default 60 s: a dead host is probed about once a minute.
    pub const fn max_open_for(mut self, duration: Duration) -> Self {
        self.max_open_for = duration;
        self
    }

    /// Each open duration is multiplied by a uniform factor in `[1 - jitter, 1 + jitter)`.
    /// In [0, 1); default 0.1, enough to spread clients that tripped together.
    pub const fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Probes admitted while half-open; that many successes close the breaker. At least
    /// 1; default 1.
    pub const fn probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// When no probe has been admitted for this long and none came back, the probe
    /// slots re-arm. More than zero, at most 365 days; default 10 s, the order of a
    /// request timeout.
    pub const fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Count successes that took longer than this as failures. `None` (the default)
    /// turns it off; `Some(ZERO)` is refused.
    pub const fn slow_call(mut self, threshold: Option<Duration>) -> Self {
        self.slow_call = threshold;
        self
    }

    /// Seed of the jitter generator used by [`CircuitBreaker::new`]. Default 0; give
    /// processes that must not jitter alike different seeds.
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The validated configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field, such as `breaker.failure_ratio`.
    pub fn config(self) -> Result<BreakerConfig, ConfigError> {
        let err =
            |field: &'static str, problem: &'static str| Err(ConfigError::new(field, problem));
        let too_long = |d: Duration| d > MAX_DURATION;
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return err("breaker.failure_ratio", "must be in (0, 1]");
        }
        if self.window < Duration::from_nanos(10) || too_long(self.window) {
            return err("breaker.window", "must be between 10 ns and 365 days");
        }
        if self.minimum_calls == 0 {
            return err("breaker.minimum_calls", "must be at least 1");
        }
        if self.open_for.is_zero() || too_long(self.open_for) {
            return err(
                "breaker.open_for",
                "must be more than zero and at most 365 days",
            );
        }
        if self.max_open_for < self.open_for || too_long(self.max_open_for) {
            return err(
                "breaker.max_open_for",
                "must be at least `open_for` and at most 365 days",
            );
        }
        if !(self.jitter >= 0.0 && self.jitter < 1.0) {
            return err("breaker.jitter", "must be in [0, 1)");
        }
        if self.probes == 0 {
            return err("breaker.probes", "must be at least 1");
        }
        if self.probe_timeout.is_zero() || too_long(self.probe_timeout) {
            return err(
                "breaker.probe_timeout",
                "must be more than zero and at most 365 days",
            );
        }
        if self.slow_call.is_some_and(|d| d.is_zero()) {
            return err(
                "breaker.slow_call",
                "must be more than zero; use `None` to turn it off",
            );
        }
        Ok(self.assemble())
    }

    /// The configuration, unchecked: only for values that passed [`config`](Self::config)
    /// or are the defaults.
    const fn assemble(self) -> BreakerConfig {
        BreakerConfig {
            failure_ratio: self.failure_ratio,
            window: self.window,
            minimum_calls: self.minimum_calls,
            consecutive_failures: self.consecutive_failures,
            open_for: self.open_for,
            max_open_for: self.max_open_for,
            jitter: self.jitter,
            probes: self.probes,
            probe_timeout: self.probe_timeout,
            slow_call: self.slow_call,
            seed: self.seed,
        }
    }

    /// A breaker with the validated configuration and a [`DefaultRng`](crate::DefaultRng)
    /// seeded from [`seed`](Self::seed).
    ///
    /// # Errors
    ///
    /// As [`config`](Self::config).
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config().map(CircuitBreaker::new)
    }
}

impl Default for BreakerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<BreakerBuilder> for BreakerConfig {
    type Error = ConfigError;

    fn try_from(builder: BreakerBuilder) -> Result<Self, Self::Error> {
        builder.config()
    }
}
