//! How early to refresh, and how patiently to retry a failing provider.

use std::time::{Duration, Instant};

use crate::{ConfigError, Rng};

/// The longest allowed `auth.retry_max`: one day, so `now + delay` never overflows.
const RETRY_MAX_LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

/// When a [`TokenState`](super::TokenState) refreshes, and how it backs off when the
/// caller's provider fails.
///
/// Build one with [`TokenPolicy::builder`]; [`TokenPolicy::default`] is the builder's
/// defaults:
///
/// | field | default | why |
/// |---|---|---|
/// | `refresh_ahead` | 60 s | refresh this long before a known expiry: room for a slow provider and two retries before any request waits |
/// | `refresh_jitter` | 0.2 | lead drawn from `[60 s, 72 s)`: a fleet started together spreads its refreshes over 12 s |
/// | `retry_min` | 200 ms | first wait after a failed refresh |
/// | `retry_max` | 10 s | longest wait; doubled from `retry_min` up to here |
/// | `retry_jitter` | 0.5 | each wait drawn from `(d·(1 − 0.5), d]`, never below `retry_min` |
/// | `max_refresh_attempts` | 3 | consecutive failures before waiting requests get the error: 200 ms + 400 ms of backoff at most |
/// | `refresh_timeout` | 30 s | an unanswered refresh is presumed lost (cancelled or hung) and another caller may start one |
///
/// ```
/// use std::time::Duration;
/// use resile_policy::TokenPolicy;
///
/// let policy = TokenPolicy::builder()
///     .refresh_ahead(Duration::from_secs(120))
///     .max_refresh_attempts(5)
///     .build()?;
/// assert_eq!(policy.refresh_ahead(), Duration::from_secs(120));
///
/// let err = TokenPolicy::builder().refresh_jitter(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "auth.refresh_jitter");
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "TokenPolicyBuilder"))]
pub struct TokenPolicy {
    refresh_ahead: Duration,
    refresh_jitter: f64,
    retry_min: Duration,
    retry_max: Duration,
    retry_jitter: f64,
    max_refresh_attempts: u32,
    refresh_timeout: Duration,
}

/// Builds a [`TokenPolicy`]; every field starts at the default listed there.
///
/// With the `serde` feature it deserializes (missing fields take their defaults, unknown
/// fields are refused), and so does `TokenPolicy`, through [`build`](Self::build).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct TokenPolicyBuilder {
    refresh_ahead: Duration,
    refresh_jitter: f64,
    retry_min: Duration,
    retry_max: Duration,
    retry_jitter: f64,
    max_refresh_attempts: u32,
    refresh_timeout: Duration,
}

impl TokenPolicyBuilder {
    const DEFAULT: Self = Self {
        refresh_ahead: Duration::from_secs(60),
        refresh_jitter: 0.2,
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_secs(10),
        retry_jitter: 0.5,
        max_refresh_attempts: 3,
        refresh_timeout: Duration::from_secs(30),
    };

    /// Refresh this long before a known expiry (default 60 s). A token whose whole life
    /// is shorter than twice this is refreshed after half its life instead.
    #[must_use]
    pub const fn refresh_ahead(mut self, lead: Duration) -> Self {
        self.refresh_ahead = lead;
        self
    }

    /// Lengthen the lead by up to this fraction of `refresh_ahead`, drawn per token
    /// (default 0.2; `0.0..=1.0`).
    #[must_use]
    pub const fn refresh_jitter(mut self, fraction: f64) -> Self {
        self.refresh_jitter = fraction;
        self
    }

    /// First wait after a failed refresh (default 200 ms; must be positive).
    #[must_use]
    pub const fn retry_min(mut self, delay: Duration) -> Self {
        self.retry_min = delay;
        self
    }

    /// Longest wait after failed refreshes (default 10 s; `retry_min..=1 day`).
    #[must_use]
    pub const fn retry_max(mut self, delay: Duration) -> Self {
        self.retry_max = delay;
        self
    }

    /// Shorten each wait by up to this fraction (default 0.5; `0.0..=1.0`).
    #[must_use]
    pub const fn retry_jitter(mut self, fraction: f64) -> Self {
        self.retry_jitter = fraction;
        self
    }

    /// Consecutive failures before waiting requests get the error (default 3; at least 1).
    #[must_use]
    pub const fn max_refresh_attempts(mut self, attempts: u32) -> Self {
        self.max_refresh_attempts = attempts;
        self
    }

    /// How long a refresh may stay unanswered before another caller may start one
    /// (default 30 s; must be positive).
    #[must_use]
    pub const fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// Checks the values; the error names the first bad field (`auth.<field>`).
    pub fn build(self) -> Result<TokenPolicy, ConfigError> {
        let fraction = |field: &'static str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::new(field, "must be between 0.0 and 1.0"))
            }
        };
        fraction("auth.refresh_jitter", self.refresh_jitter)?;
        fraction("auth.retry_jitter", self.retry_jitter)?;
        if self.retry_min.is_zero() {
            return Err(ConfigError::new("auth.retry_min", "must be positive"));
        }
        if self.retry_max < self.retry_min {
            return Err(ConfigError::new(
                "auth.retry_max",
                "must be at least `retry_min`",
            ));
        }
        if self.retry_max > RETRY_MAX_LIMIT {
            return Err(ConfigError::new(
                "auth.retry_max",
                "must be at most one day",
            ));
        }
        if self.max_refresh_attempts == 0 {
            return Err(ConfigError::new(
                "auth.max_refresh_attempts",
                "must be at least 1",
            ));
        }
        if self.refresh_timeout.is_zero() {
            return Err(ConfigError::new("auth.refresh_timeout", "must be positive"));
        }
        let Self {
            refresh_ahead,
            refresh_jitter,
            retry_min,
            retry_max,
            retry_jitter,
            max_refresh_attempts,
            refresh_timeout,
        } = self;
        Ok(TokenPolicy {
            refresh_ahead,
            refresh_jitter,
            retry_min,
            retry_max,
            retry_jitter,
            max_refresh_attempts,
            refresh_timeout,
        })
    }
}

impl Default for TokenPolicyBuilder {
    /// The defaults listed on [`TokenPolicy`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<TokenPolicyBuilder> for TokenPolicy {
    type Error = ConfigError;
    fn try_from(builder: TokenPolicyBuilder) -> Result<Self, ConfigError> {
        builder.build()
    }
}

impl Default for TokenPolicy {
    /// 60 s ahead with 0.2 jitter; retries 200 ms to 10 s with 0.5 jitter; 3 attempts;
    /// 30 s refresh timeout (see the table on [`TokenPolicy`]).
    fn default() -> Self {
        let d = TokenPolicyBuilder::DEFAULT;
        Self {
            refresh_ahead: d.refresh_ahead,
            refresh_jitter: d.refresh_jitter,
            retry_min: d.retry_min,
            retry_max: d.retry_max,
            retry_jitter: d.retry_jitter,
            max_refresh_attempts: d.max_refresh_attempts,
            refresh_timeout: d.refresh_timeout,
        }
    }
}

impl TokenPolicy {
    /// A builder starting from the defaults.
    #[must_use]
    pub const fn builder() -> TokenPolicyBuilder {
        TokenPolicyBuilder::DEFAULT
    }

    /// How long before a known expiry to refresh.
    #[must_use]
    pub const fn refresh_ahead(&self) -> Duration {
        self.refresh_ahead
    }

    /// The largest fraction by which the lead is lengthened.
    #[must_use]
    pub const fn refresh_jitter(&self) -> f64 {
        self.refresh_jitter
    }

    /// First wait after a failed refresh.
    #[must_use]
    pub const fn retry_min(&self) -> Duration {
        self.retry_min
    }

    /// Longest wait after failed refreshes.
    #[must_use]
    pub const fn retry_max(&self) -> Duration {
        self.retry_max
    }

    /// The largest fraction by which a wait is shortened.
    #[must_use]
    pub const fn retry_jitter(&self) -> f64 {
        self.retry_jitter
    }

    /// Consecutive failures before waiting requests get the error.
    #[must_use]
    pub const fn max_refresh_attempts(&self) -> u32 {
        self.max_refresh_attempts
    }

    /// How long a refresh may stay unanswered before another may start.
    #[must_use]
    pub const fn refresh_timeout(&self) -> Duration {
        self.refresh_timeout
    }

    /// When to refresh a token installed at `now` that expires at `expires_at`:
    /// `expires_at − refresh_ahead·(1 + refresh_jitter·u)`, but never before half the
    /// token's remaining life has passed (so never before `now`, and never after expiry).
    pub(super) fn refresh_at(
        &self,
        now: Instant,
        expires_at: Instant,
        rng: &mut impl Rng,
    ) -> Instant {
        let life = expires_at.saturating_duration_since(now);
        let lead = scale(
            self.refresh_ahead,
            1.0 + self.refresh_jitter * rng.next_f64(),
        );
        let wait = life.saturating_sub(lead).max(life / 2);
        now.checked_add(wait).unwrap_or(expires_at)
    }

    /// The wait after the `failures`-th consecutive failure (1-based): the ceiling
    /// `retry_min·2^(failures−1)` capped at `retry_max`, shortened by up to
    /// `retry_jitter` of itself, never below `retry_min`.
    pub(super) fn retry_delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let ceiling = self
            .retry_min
            .checked_mul(1 << doublings)
            .map_or(self.retry_max, |d| d.min(self.retry_max));
        let delay = scale(ceiling, 1.0 - self.retry_jitter * rng.next_f64());
        delay.max(self.retry_min)
    }
}

/// `d × factor` for a finite `factor ≥ 0`, saturating; exact when `factor` is 1.
fn scale(d: Duration, factor: f64) -> Duration {
    if factor == 1.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DefaultRng;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn defaults_build_and_match_the_docs() {
        let p = TokenPolicy::builder().build().unwrap();
        assert_eq!(p, TokenPolicy::default());
        assert_eq!(p.refresh_ahead(), Duration::from_secs(60));
        assert_eq!(p.refresh_jitter(), 0.2);
        assert_eq!(
            (p.retry_min(), p.retry_max()),
            (200 * MS, Duration::from_secs(10))
        );
        assert_eq!(p.retry_jitter(), 0.5);
        assert_eq!(p.max_refresh_attempts(), 3);
        assert_eq!(p.refresh_timeout(), Duration::from_secs(30));
    }

    #[test]
    fn bad_values_name_their_field() {
        let b = TokenPolicy::builder;
        let cases = [
            (b().refresh_jitter(-0.1), "auth.refresh_jitter"),
            (b().refresh_jitter(f64::NAN), "auth.refresh_jitter"),
            (b().retry_jitter(1.01), "auth.retry_jitter"),
            (b().retry_jitter(f64::INFINITY), "auth.retry_jitter"),
            (b().retry_min(Duration::ZERO), "auth.retry_min"),
            (b().retry_min(MS * 20).retry_max(MS * 10), "auth.retry_max"),
            (b().retry_max(RETRY_MAX_LIMIT + MS), "auth.retry_max"),
            (b().max_refresh_attempts(0), "auth.max_refresh_attempts"),
            (b().refresh_timeout(Duration::ZERO), "auth.refresh_timeout"),
        ];
        for (builder, field) in cases {
            assert_eq!(builder.build().unwrap_err().field(), field);
        }
        // Edges that are fine.
        let ok = b()
            .refresh_jitter(0.0)
            .retry_jitter(1.0)
            .refresh_ahead(Duration::MAX);
        assert!(ok.retry_min(MS).retry_max(MS).build().is_ok());
    }

    #[test]
    fn retry_delay_doubles_to_the_cap_without_jitter() {
        let p = b_no_jitter().build().unwrap();
        let mut rng = DefaultRng::new(1);
        let got: Vec<_> = (1..=8).map(|n| p.retry_delay(n, &mut rng)).collect();
        let want = [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000].map(|ms| ms * MS);
        assert_eq!(got, want);
        assert_eq!(p.retry_delay(u32::MAX, &mut rng), 10_000 * MS);
        assert_eq!(p.retry_delay(0, &mut rng), 200 * MS);
    }

    #[test]
    fn retry_delay_jitter_stays_in_its_band() {
        let p = TokenPolicy::default();
        let mut rng = DefaultRng::new(9);
        for n in 1..=10 {
            let ceiling = (200 * MS * (1 << (n - 1))).min(10_000 * MS);
            let floor = (ceiling / 2).max(200 * MS);
            for _ in 0..200 {
                let d = p.retry_delay(n, &mut rng);
                assert!(d >= floor && d <= ceiling, "failure {n}: {d:?}");
            }
        }
    }

    #[test]
    fn scale_saturates_and_is_exact_at_one() {
        assert_eq!(scale(Duration::MAX, 1.5), Duration::MAX);
        assert_eq!(scale(Duration::from_nanos(1), 1.0), Duration::from_nanos(1));
        assert_eq!(scale(MS * 10, 0.0), Duration::ZERO);
    }

    fn b_no_jitter() -> TokenPolicyBuilder {
        TokenPolicy::builder().refresh_jitter(0.0).retry_jitter(0.0)
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_fills_defaults_and_validates() {
        let p: TokenPolicy = serde_json::from_str(r#"{"max_refresh_attempts": 5}"#).unwrap();
        assert_eq!(p.max_refresh_attempts(), 5);
        assert_eq!(p.refresh_ahead(), Duration::from_secs(60));
        let err = serde_json::from_str::<TokenPolicy>(r#"{"retry_jitter": 2.0}"#).unwrap_err();
        assert!(err.to_string().contains("auth.retry_jitter"), "{err}");
        assert!(serde_json::from_str::<TokenPolicy>(r#"{"refresh_ahed": 1}"#).is_err());
        let back: TokenPolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
