//! The rolling window: ten time buckets, advanced lazily by the `now` of each call.
//!
//! Its counts are atomics so that a success while nothing is wrong can be counted
//! without the breaker's lock ([`Window::try_add_success`]); everything else
//! (moving the window on, failures, sums) runs under that lock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::origin::Origin;

/// Buckets per window. Ten keeps the window accurate to a tenth of its length in 120
/// bytes, and summing them (done only on a failure) costs nothing.
const BUCKETS: usize = 10;

/// `head` before the first call.
const NOT_STARTED: u64 = u64::MAX;

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

impl Bucket {
    fn clear(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.failures.store(0, Ordering::Relaxed);
        self.slow.store(0, Ordering::Relaxed);
    }
}

/// Adds one (saturating) to a count only the lock holder changes.
fn bump(count: &AtomicU32, by: bool) {
    if by {
        let n = count.load(Ordering::Relaxed);
        count.store(n.saturating_add(1), Ordering::Relaxed);
    }
}

/// Counts summed over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub(super) calls: u64,
    pub(super) failures: u64,
    pub(super) slow: u64,
}

/// The buckets, on cache lines of their own: the counts written on every call
/// must not share a line with what every call reads (`head`, the breaker's word).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Buckets([Bucket; BUCKETS]);

/// Fixed-size ring of buckets. Bucket number `k` covers `[origin + k × width,
/// origin + (k + 1) × width)` and lives at index `k % BUCKETS`; `head` is the
/// number of the latest.
#[derive(Debug)]
pub(super) struct Window {
    buckets: Buckets,
    /// Bucket width in nanoseconds (at least 1).
    width: u64,
    /// The first `now` seen.
    origin: Origin,
    head: AtomicU64,
}

impl Window {
    /// An empty window of `length` (at least `BUCKETS` ns, checked by the config).
    pub(super) fn new(length: Duration) -> Self {
        let width = (length / BUCKETS as u32).as_nanos();
        Self {
            buckets: Default::default(),
            width: u64::try_from(width).unwrap_or(u64::MAX).max(1),
            origin: Origin::new(),
            head: AtomicU64::new(NOT_STARTED),
        }
    }

    /// Moves the head to the bucket holding `now`, emptying the buckets passed over.
    /// Only under the breaker's lock.
    ///
    /// Instants before the head's bucket (a thread that read the clock a little
    /// earlier than another) count in the head bucket.
    pub(super) fn advance(&self, now: Instant) {
        let at = self.origin.nanos(now);
        let head = self.head.load(Ordering::Relaxed);
        if head == NOT_STARTED {
            self.head.store(at / self.width, Ordering::Release);
            return;
        }
        if at < head.saturating_add(1).saturating_mul(self.width) {
            return; // the common case: same bucket, no division
        }
        let latest = at / self.width;
        let steps = latest - head;
        if steps >= BUCKETS as u64 {
            self.clear();
        } else {
            for k in head + 1..=latest {
                self.buckets.0[index(k)].clear();
            }
        }
        self.head.store(latest, Ordering::Release);
    }

    /// Counts one judged call in the head bucket. Only under the breaker's lock.
    pub(super) fn add(&self, failure: bool, slow: bool) {
        let b = &self.buckets.0[index(self.head.load(Ordering::Relaxed))];
        b.calls.fetch_add(1, Ordering::Relaxed);
        bump(&b.failures, failure);
        bump(&b.slow, slow);
    }

    /// Counts a success at `now` without the lock when `now` falls in the head
    /// bucket (or before it); `false` when the window must move on first.
    ///
    /// Racing the lock holder moving the window on, the success may count in the
    /// bucket before or after its own: within a tenth of the window.
    pub(super) fn try_add_success(&self, now: Instant) -> bool {
        let head = self.head.load(Ordering::Acquire);
        if head == NOT_STARTED
            || self.origin.nanos(now) >= head.saturating_add(1).saturating_mul(self.width)
        {
            return false;
        }
        self.buckets.0[index(head)]
            .calls
            .fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The sums over every bucket.
    pub(super) fn totals(&self) -> Totals {
        let load = |c: &AtomicU32| u64::from(c.load(Ordering::Relaxed));
        self.buckets
            .0
            .iter()
            .fold(Totals::default(), |t, b| Totals {
                calls: t.calls + load(&b.calls),
                failures: t.failures + load(&b.failures),
                slow: t.slow + load(&b.slow),
            })
    }

    /// Whether any bucket holds a failure.
    pub(super) fn has_failures(&self) -> bool {
        self.buckets
            .0
            .iter()
            .any(|b| b.failures.load(Ordering::Relaxed) > 0)
    }

    /// Forgets every count; bucket boundaries stay where they are.
    pub(super) fn clear(&self) {
        self.buckets.0.iter().for_each(Bucket::clear);
    }
}

const fn index(bucket: u64) -> usize {
    (bucket % BUCKETS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, ManualClock};

    #[test]
    fn buckets_expire_one_tenth_at_a_time() {
        let t0 = ManualClock::new().now();
        let w = Window::new(Duration::from_secs(10));
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
    fn a_success_counts_without_the_lock_only_in_the_head_bucket() {
        let t0 = ManualClock::new().now();
        let w = Window::new(Duration::from_secs(10));
        assert!(!w.try_add_success(t0), "not started");
        w.advance(t0); // buckets start here: [0 s, 1 s), [1 s, 2 s), ...
        w.advance(t0 + Duration::from_millis(1500));
        w.add(true, false);
        assert!(w.try_add_success(t0 + Duration::from_millis(1999)));
        assert!(w.try_add_success(t0), "earlier: the head bucket");
        assert!(
            !w.try_add_success(t0 + Duration::from_secs(2)),
            "next bucket"
        );
        assert_eq!((w.totals().calls, w.totals().failures), (3, 1));
        // Counted in bucket [1 s, 2 s): gone with it at 11 s.
        w.advance(t0 + Duration::from_millis(10_999));
        assert_eq!(w.totals().calls, 3);
        w.advance(t0 + Duration::from_secs(11));
        assert_eq!(w.totals(), Totals::default());
        assert!(w.try_add_success(t0 + Duration::from_secs(11)));
        assert_eq!(w.totals().calls, 1);
    }

    #[test]
    fn long_gaps_and_earlier_instants_are_safe() {
        let t0 = ManualClock::new().now();
        let w = Window::new(Duration::from_secs(10));
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
