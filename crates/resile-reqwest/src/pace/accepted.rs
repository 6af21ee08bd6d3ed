//! Host successes counted per second, without a lock: what the host accepts.
//!
//! Every success to a paced host is counted (the count is what a 429 lowers the
//! pace to), so counting is on every request's path: one compare-and-swap, no
//! lock. Seconds are whole seconds since the first success counted.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Successes in the latest second and in the one before it, each packed as
/// `second << 32 | count` (seconds since `origin`).
#[derive(Debug, Default)]
pub(super) struct Accepted {
    origin: OnceLock<Instant>,
    current: AtomicU64,
    previous: AtomicU64,
}

/// `(second, count)` out of one packed word.
const fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

const fn pack(second: u32, count: u32) -> u64 {
    ((second as u64) << 32) | count as u64
}

impl Accepted {
    /// The second `now` falls in (the first call sets second 0; earlier instants
    /// fall in it too).
    fn second(&self, now: Instant) -> u32 {
        let origin = *self.origin.get_or_init(|| now);
        u32::try_from(now.saturating_duration_since(origin).as_secs()).unwrap_or(u32::MAX)
    }

    /// Counts one success at `now`. A success from a second already rolled past
    /// (its request was sent before a newer one finished) counts in the latest.
    pub(super) fn add(&self, now: Instant) {
        let second = self.second(now);
        let mut word = self.current.load(Ordering::Relaxed);
        loop {
            let (latest, count) = unpack(word);
            let next = if second > latest {
                pack(second, 1)
            } else {
                pack(latest, count.saturating_add(1))
            };
            match self.current.compare_exchange_weak(
                word,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) if second > latest => {
                    // Between the swap and this store a reader may see the old
                    // `previous`: it then counts the second before as empty, once.
                    self.previous.store(word, Ordering::Release);
                    return;
                }
                Ok(_) => return,
                Err(seen) => word = seen,
            }
        }
    }

    /// Requests per second the host accepted lately, at `now`: the larger count
    /// of the current second and the one before (0 when it accepted none).
    pub(super) fn rate(&self, now: Instant) -> f64 {
        let second = self.second(now);
        let count_in = |word: u64, back: u32| {
            let (at, count) = unpack(word);
            if second.checked_sub(at) == Some(back) {
                count
            } else {
                0
            }
        };
        let current = self.current.load(Ordering::Acquire);
        let previous = self.previous.load(Ordering::Acquire);
        let now_count = count_in(current, 0);
        let before = count_in(current, 1).max(count_in(previous, 1));
        f64::from(now_count.max(before))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use resile_policy::{Clock, ManualClock};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counts_the_busier_of_this_second_and_the_last() {
        let t0 = ManualClock::new().now();
        let a = Accepted::default();
        assert_eq!(a.rate(t0), 0.0);
        for n in 0..10 {
            a.add(t0 + n * 90 * MS);
        }
        assert_eq!(a.rate(t0 + 900 * MS), 10.0);
        a.add(t0 + 1000 * MS);
        a.add(t0 + 1100 * MS);
        assert_eq!(a.rate(t0 + 1200 * MS), 10.0, "the second before was busier");
        for n in 0..3 {
            a.add(t0 + (2300 + n * 10) * MS);
        }
        assert_eq!(
            a.rate(t0 + 2400 * MS),
            3.0,
            "second 1 took 2, second 2 took 3"
        );
        assert_eq!(a.rate(t0 + 3500 * MS), 3.0, "second 2 is the one before");
        assert_eq!(a.rate(t0 + 4500 * MS), 0.0, "two quiet seconds forget it");
    }

    #[test]
    fn a_late_success_counts_in_the_latest_second() {
        let t0 = ManualClock::new().now();
        let a = Accepted::default();
        a.add(t0);
        a.add(t0 + 1500 * MS);
        a.add(t0 + 500 * MS); // sent before the last one, finished after it
        assert_eq!(a.rate(t0 + 1600 * MS), 2.0);
        // Before the first success counted: second 0 as well.
        a.add(t0 - 500 * MS);
        assert_eq!(a.rate(t0 + 1600 * MS), 3.0);
    }

    #[test]
    fn counts_every_success_from_many_threads() {
        let t0 = ManualClock::new().now();
        let a = Accepted::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| a.add(t0)));
            }
        });
        assert_eq!(a.rate(t0), 4000.0);
    }
}
