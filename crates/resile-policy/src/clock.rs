//! Time, behind a seam.
//!
//! Every decision in this crate takes `now` as an argument; whoever calls it reads
//! that `now` from a [`Clock`]. Production code uses [`SystemClock`] (or the tokio
//! clock in `resile-reqwest`), tests use [`ManualClock`] and move time by hand, so a
//! ten-minute outage replays in microseconds and exactly the same way every run.
#![allow(clippy::disallowed_methods)] // the one place allowed to read real time

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A source of time.
///
/// `now` is monotonic and drives every decision (backoff, budget windows, breaker
/// timers, token expiry). `wall` is calendar time, read only to turn an HTTP-date
/// (`Retry-After`, `Date`) into a delay.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current monotonic instant.
    fn now(&self) -> Instant;

    /// The current calendar time.
    fn wall(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn wall(&self) -> SystemTime {
        (**self).wall()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn wall(&self) -> SystemTime {
        (**self).wall()
    }
}

/// The real clock: [`Instant::now`] and [`SystemTime::now`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to; for tests and simulations.
///
/// Clones share one time: a test keeps a copy and calls [`advance`](Self::advance)
/// while the breaker or budget under test holds another.
///
/// ```
/// use std::time::Duration;
/// use resile_policy::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// let t0 = clock.now();
/// shared.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - t0, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    origin: Instant,
    wall_origin: SystemTime,
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at an arbitrary origin, with calendar time at the Unix epoch plus
    /// 1.7e9 s (late 2023), so HTTP-dates in tests have a fixed reference.
    pub fn new() -> Self {
        Self::with_wall(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }

    /// A clock whose calendar time starts at `wall`.
    pub fn with_wall(wall: SystemTime) -> Self {
        Self {
            origin: Instant::now(),
            wall_origin: wall,
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves time forward by `by` for every clone of this clock.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturate instead of wrapping: a test that advances by years must not go back.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(nanos))
            });
    }

    /// Time elapsed since this clock was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.wall_origin + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        let (t0, w0) = (a.now(), a.wall());
        b.advance(Duration::from_millis(1500));
        assert_eq!(a.now() - t0, Duration::from_millis(1500));
        assert_eq!(
            a.wall().duration_since(w0).unwrap(),
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn manual_clock_saturates() {
        let a = ManualClock::new();
        a.advance(Duration::MAX);
        a.advance(Duration::from_secs(1));
        assert_eq!(a.elapsed(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn clock_is_object_safe() {
        let c: Box<dyn Clock> = Box::new(SystemClock);
        assert!(c.now() <= c.now());
    }
}
