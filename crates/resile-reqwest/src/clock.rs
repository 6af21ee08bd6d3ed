//! The tokio clock: time and sleeping that follow `tokio::time`, so tests under
//! `#[tokio::test(start_paused = true)]` run in virtual time.
#![allow(clippy::disallowed_methods)] // the adapters' one place that reads wall time

use std::time::{Duration, Instant, SystemTime};

use resile_policy::Clock;

/// Reads [`tokio::time::Instant`] and sleeps with [`tokio::time::sleep`].
///
/// Under paused time (`tokio::time::pause`, `start_paused = true`) the clock and the
/// sleeps move together, so a 30-second backoff takes no real time in a test.
/// Calendar time (`wall`) is real: it only turns `Retry-After` dates into delays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokioClock;

impl TokioClock {
    /// Sleeps for `duration` on the tokio timer (returns at once for zero).
    pub async fn sleep(self, duration: Duration) {
        if !duration.is_zero() {
            tokio::time::sleep(duration).await;
        }
    }

    /// Sleeps until `deadline` on the tokio timer.
    pub async fn sleep_until(self, deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_time() {
        let clock = TokioClock;
        let t0 = clock.now();
        clock.sleep(Duration::from_secs(30)).await;
        assert!(clock.now() - t0 >= Duration::from_secs(30));
        clock.sleep_until(t0 + Duration::from_secs(45)).await;
        assert!(clock.now() - t0 >= Duration::from_secs(45));
    }
}
