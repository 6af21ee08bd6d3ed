//! The configured per-host quota: governor's keyed GCRA limiter on tokio time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use resile_policy::Clock as _;

use crate::TokioClock;

/// How many checks between two trims of the keyed store.
pub(super) const TRIM_EVERY: u64 = 256;

/// governor's view of [`TokioClock`]: `std::time::Instant` readings of tokio time,
/// so a paused test runtime moves the limiter's time with its sleeps.
///
/// Private on purpose: implementing governor's trait on the public `TokioClock`
/// would tie our public API to governor's major version.
#[derive(Debug, Clone, Copy, Default)]
struct TokioTime;

impl governor::clock::Clock for TokioTime {
    type Instant = Instant;

    fn now(&self) -> Instant {
        TokioClock.now()
    }
}

type Keyed = RateLimiter<String, DashMapStateStore<String>, TokioTime, NoOpMiddleware<Instant>>;

/// One GCRA cell budget per host, keyed by authority.
///
/// governor's keyed store keeps an entry for every key it has seen. Every
/// [`TRIM_EVERY`] checks, [`RateLimiter::retain_recent`] drops the hosts whose
/// budget has fully refilled (forgetting those loses nothing: a new entry starts
/// full), then the map is shrunk. Between trims the store holds the hosts used
/// within about one burst period plus at most `TRIM_EVERY` new ones.
pub(super) struct HostQuota {
    quota: Quota,
    limiter: Keyed,
    checks: AtomicU64,
}

impl HostQuota {
    pub(super) fn new(quota: Quota) -> Self {
        Self {
            quota,
            limiter: RateLimiter::new(quota, DashMapStateStore::default(), TokioTime),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a cell for `host`, or says how long from now until one is free.
    pub(super) fn check(&self, host: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % TRIM_EVERY == TRIM_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&host.to_owned())
            .map_err(|not_until| not_until.wait_time_from(TokioClock.now()))
    }

    /// Hosts in the keyed store now.
    pub(super) fn len(&self) -> usize {
        self.limiter.len()
    }
}

impl fmt::Debug for HostQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostQuota")
            .field("quota", &self.quota)
            .field("hosts", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn per_second(n: u32) -> Quota {
        Quota::per_second(NonZeroU32::new(n).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn waits_follow_tokio_time() {
        let q = HostQuota::new(per_second(2));
        let host = "a.example".to_string();
        assert_eq!(q.check(&host), Ok(()));
        assert_eq!(q.check(&host), Ok(()), "burst of 2");
        let wait = q.check(&host).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        TokioClock.sleep(Duration::from_millis(499)).await;
        assert!(q.check(&host).is_err());
        TokioClock.sleep(Duration::from_millis(1)).await;
        assert_eq!(q.check(&host), Ok(()));
        assert_eq!(q.check("b.example"), Ok(()), "per host");
    }

    #[tokio::test(start_paused = true)]
    async fn the_keyed_store_is_trimmed() {
        let q = HostQuota::new(per_second(10));
        for n in 0..1000 {
            let _ = q.check(&format!("h{n}.example"));
        }
        assert!(q.len() > 1000 - TRIM_EVERY as usize, "{}", q.len());
        TokioClock.sleep(Duration::from_secs(2)).await;
        let busy = "busy.example".to_string();
        for _ in 0..TRIM_EVERY {
            let _ = q.check(&busy);
        }
        assert_eq!(q.len(), 1, "only the host in use survives a trim");
    }
}
