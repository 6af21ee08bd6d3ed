//! [`PacingBuilder`]: the pacing layer's settings, from documented defaults.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use governor::Quota;
use resile_policy::classify::BODY_PREFIX_LIMIT;
use resile_policy::{Classify, ConfigError, DefaultClassifier};

use super::PacingMiddleware;
use super::host::AdaptiveConfig;
use super::quota::HostQuota;
use crate::hosts::Hosts;

/// Configures a [`PacingMiddleware`]; starts from the documented defaults.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use resile_reqwest::PacingMiddleware;
///
/// let pacing = PacingMiddleware::builder()
///     .per_second(NonZeroU32::new(4).unwrap()) // the vendor's bulk pace
///     .burst(NonZeroU32::new(8).unwrap())
///     .max_hold(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// assert_eq!(pacing.holds(), 0);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PacingBuilder {
    quota: Option<Quota>,
    burst: Option<NonZeroU32>,
    max_hold: Duration,
    max_hold_wait: Duration,
    adaptive: Option<AdaptiveConfig>,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    max_hosts: NonZeroUsize,
    error: Option<ConfigError>,
}

impl Default for PacingBuilder {
    fn default() -> Self {
        Self {
            quota: None,
            burst: None,
            max_hold: Duration::from_secs(60),
            max_hold_wait: Duration::from_secs(60),
            adaptive: Some(AdaptiveConfig {
                start: Duration::from_millis(250),
                max: Duration::from_secs(4),
            }),
            classifier: Arc::new(DefaultClassifier::new()),
            body_limit: BODY_PREFIX_LIMIT,
            max_hosts: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            error: None,
        }
    }
}

impl PacingBuilder {
    /// A per-host quota, as governor expresses it (default: none). Each host
    /// (`host[:port]`) gets its own budget.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// A quota of `n` requests per second per host, with a burst of `n` unless
    /// [`burst`](Self::burst) says otherwise.
    pub fn per_second(self, n: NonZeroU32) -> Self {
        self.quota(Quota::per_second(n))
    }

    /// How many requests may leave at once after a quiet spell (needs a quota).
    pub fn burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The longest hold a `Retry-After` can set (default 60 s); longer hints are
    /// clamped to it.
    pub fn max_hold(mut self, max: Duration) -> Self {
        self.max_hold = max;
        self
    }

    /// The longest a request waits for a running hold (default 60 s); if the hold
    /// lasts longer, the request fails at once with [`Error::is_host_held`]. A
    /// [`Deadline`](crate::Deadline) on the request bounds the wait too.
    ///
    /// [`Error::is_host_held`]: crate::Error::is_host_held
    pub fn max_hold_wait(mut self, max: Duration) -> Self {
        self.max_hold_wait = max;
        self
    }

    /// The adaptive pace after unhinted 429s: the interval after the first one
    /// (default 250 ms) and the longest interval further ones can push it to
    /// (default 4 s).
    pub fn adaptive_interval(mut self, start: Duration, max: Duration) -> Self {
        if start.is_zero() || max < start {
            self.fail("pacing.adaptive_interval", "needs 0 < start <= max");
        }
        self.adaptive = Some(AdaptiveConfig { start, max });
        self
    }

    /// Turns the adaptive pace off: unhinted 429s change nothing here.
    pub fn no_adaptive(mut self) -> Self {
        self.adaptive = None;
        self
    }

    /// The classifier (default: the spec's table, [`DefaultClassifier`]). In a
    /// [`Stack`](crate::Stack), each attempt is classified once, by the innermost
    /// layer's classifier.
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = classifier;
        self
    }

    /// The most bytes of an error body read for classification (default 64 KiB).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// How many hosts' holds and paces to keep (default 1024; least recently used
    /// go first, hosts with a running hold or lowered pace last). In a
    /// [`Service`](crate::Service) the layers keep their per-host state in one
    /// table, as large as the largest of their `max_hosts`, and the service's
    /// own [`hosts`](crate::ServiceBuilder::hosts) are kept on top of it.
    pub fn max_hosts(mut self, n: NonZeroUsize) -> Self {
        self.max_hosts = n;
        self
    }

    fn fail(&mut self, field: &'static str, problem: &'static str) {
        self.error.get_or_insert(ConfigError::new(field, problem));
    }

    /// The middleware, or the first invalid setting.
    pub fn build(self) -> Result<PacingMiddleware, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let quota = match (self.quota, self.burst) {
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "pacing.burst",
                    "needs a quota (per_second or quota)",
                ));
            }
            (quota, burst) => quota.map(|q| burst.map_or(q, |b| q.allow_burst(b))),
        };
        if self.max_hold.is_zero() {
            return Err(ConfigError::new(
                "pacing.max_hold",
                "must be greater than zero",
            ));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                "pacing.body_limit",
                "must be greater than zero",
            ));
        }
        Ok(PacingMiddleware {
            quota: quota.map(HostQuota::new),
            hosts: Hosts::new(self.max_hosts),
            max_hold: self.max_hold,
            max_hold_wait: self.max_hold_wait,
            adaptive: self.adaptive,
            classifier: self.classifier,
            body_limit: self.body_limit,
            holds: AtomicU64::new(0),
            slowdowns: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(b: PacingBuilder) -> String {
        b.build().unwrap_err().to_string()
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let one = NonZeroU32::MIN;
        let b = PacingMiddleware::builder;
        assert!(field(b().burst(one)).contains("pacing.burst"));
        assert!(field(b().max_hold(Duration::ZERO)).contains("pacing.max_hold"));
        assert!(field(b().body_limit(0)).contains("pacing.body_limit"));
        let s = Duration::from_secs(1);
        assert!(field(b().adaptive_interval(2 * s, s)).contains("pacing.adaptive_interval"));
        assert!(
            field(b().adaptive_interval(Duration::ZERO, s)).contains("pacing.adaptive_interval")
        );
    }

    #[test]
    fn defaults_and_valid_settings_build() {
        let one = NonZeroU32::MIN;
        assert!(PacingMiddleware::builder().build().is_ok());
        let s = Duration::from_secs(1);
        let built = PacingMiddleware::builder()
            .per_second(one)
            .burst(NonZeroU32::new(3).unwrap())
            .adaptive_interval(s, s)
            .no_adaptive()
            .build()
            .unwrap();
        assert!(built.quota.is_some() && built.adaptive.is_none());
    }

    #[test]
    fn is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<PacingMiddleware>();
    }
}
