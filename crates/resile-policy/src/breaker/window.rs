//! The rolling window: ten time buckets, advanced lazily by the `now` of each call.

use std::time::{Duration, Instant};

/// Buckets per window. Ten keeps the window accurate to a tenth of its length in 120
/// bytes, and summing them (done only on a failure) costs nothing.
const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    calls: u32,
    failures: u32,
    slow: u32,
}

/// Counts summed over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub(super) calls: u64,
    pub(super) failures: u64,
    pub(super) slow: u64,
}

/// Fixed-size ring of buckets; `head` is the bucket that started at `head_start`.
#[derive(Debug)]
pub(super) struct Window {
    buckets: [Bucket; BUCKETS],
    width: Duration,
    head: usize,
    head_start: Option<Instant>,
}

impl Window {
    /// An empty window of `length` (at least `BUCKETS` ns, checked by the config).
    pub(super) fn new(length: Duration) -> Self {
        Self {
            buckets: [Bucket::default(); BUCKETS],
            width: (length / BUCKETS as u32).max(Duration::from_nanos(1)),
            head: 0,
            head_start: None,
        }
    }

    /// Moves the head to the bucket holding `now`, emptying the buckets passed over.
    ///
    /// Instants at or before the head's start (a thread that read the clock a little
    /// earlier than another) count in the head bucket.
    pub(super) fn advance(&mut self, now: Instant) {
        let Some(start) = self.head_start else {
            self.head_start = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < self.width {
            return; // the common case: same bucket, no division
        }
        let steps = elapsed.as_nanos() / self.width.as_nanos();
        if steps >= BUCKETS as u128 {
            self.clear();
            self.head_start = Some(now);
            return;
        }
        for _ in 0..steps {
            self.head = (self.head + 1) % BUCKETS;
            self.buckets[self.head] = Bucket::default();
        }
        // steps < BUCKETS, and steps * width <= elapsed, so this lands at or before `now`.
        let moved = self.width.saturating_mul(steps as u32);
        self.head_start = Some(start.checked_add(moved).unwrap_or(now));
    }

    /// Counts one judged call in the head bucket.
    pub(super) fn add(&mut self, failure: bool, slow: bool) {
        let b = &mut self.buckets[self.head];
        b.calls = b.calls.saturating_add(1);
        b.failures = b.failures.saturating_add(u32::from(failure));
        b.slow = b.slow.saturating_add(u32::from(slow));
    }

    /// The sums over every bucket.
    pub(super) fn totals(&self) -> Totals {
        self.buckets.iter().fold(Totals::default(), |t, b| Totals {
            calls: t.calls + u64::from(b.calls),
            failures: t.failures + u64::from(b.failures),
            slow: t.slow + u64::from(b.slow),
        })
    }

    /// Whether any bucket holds a failure.
    pub(super) fn has_failures(&self) -> bool {
        self.buckets.iter().any(|b| b.failures > 0)
    }

    /// Forgets every count; bucket boundaries stay where they are.
    pub(super) fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, ManualClock};

    #[test]
    fn buckets_expire_one_tenth_at_a_time() {
        let t0 = ManualClock::new().now();
        let mut w = Window::new(Duration::from_secs(10));
        w.advance(t0);
        w.add(true, false);
        w.advance(t0 + Duration::from_millis(1500));
        w.add(false, true);
        assert_eq!(
            w.totals(),
            Totals {
                calls: 2,
                failures: 1,
                slow: 1
            }
        );
        // The first bucket [t0, t0+1s) is still inside at t0 + 9.999 s ...
        w.advance(t0 + Duration::from_millis(9999));
        assert_eq!(w.totals().failures, 1);
        // ... and gone at t0 + 10 s; the second bucket [t0+1s, t0+2s) stays until 11 s.
        w.advance(t0 + Duration::from_secs(10));
        assert_eq!(
            w.totals(),
            Totals {
                calls: 1,
                failures: 0,
                slow: 1
            }
        );
        assert!(!w.has_failures());
        w.advance(t0 + Duration::from_secs(11));
        assert_eq!(w.totals(), Totals::default());
    }

    #[test]
    fn long_gaps_and_earlier_instants_are_safe() {
        let t0 = ManualClock::new().now();
        let mut w = Window::new(Duration::from_secs(10));
        w.advance(t0 + Duration::from_secs(5));
        w.add(true, false);
        w.advance(t0); // earlier: counts in the head bucket
        w.add(true, false);
        assert_eq!(w.totals().failures, 2);
        w.advance(t0 + Duration::from_secs(3600));
        assert_eq!(w.totals(), Totals::default());
        w.add(false, false);
        w.clear();
        assert_eq!(w.totals(), Totals::default());
    }
}
