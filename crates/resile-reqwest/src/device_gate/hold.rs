//! [`Hold`]: one device's hold as plain state, decided with `now` passed in.

use std::time::{Duration, Instant};

use resile_policy::{ExponentialBackoff, Reason};

/// Whether a device's requests must wait, and how long the next hold will be.
///
/// Every hold set starts a new *generation*. A request remembers the generation it
/// was sent in, and only outcomes of the current generation change anything: when
/// 20 commands in flight all come back `QUEUE_IS_FULL`, the first sets a 1 s hold
/// and the other 19 (sent before it) neither lengthen it nor grow the next one; a
/// 202 that was sent before the hold does not lift it either.
#[derive(Debug)]
pub(super) struct Hold {
    until: Option<Instant>,
    reason: Reason,
    generation: u64,
    backoff: ExponentialBackoff,
}

impl Hold {
    /// No hold; `backoff` gives the successive hold lengths.
    pub(super) const fn new(backoff: ExponentialBackoff) -> Self {
        Self {
            until: None,
            reason: Reason::DeviceUnreachable,
            generation: 0,
            backoff,
        }
    }

    /// The generation a request sent now belongs to.
    pub(super) const fn generation(&self) -> u64 {
        self.generation
    }

    /// The end and reason of the hold in force at `now`, if any.
    pub(super) fn blocking(&self, now: Instant) -> Option<(Instant, Reason)> {
        self.until
            .filter(|until| *until > now)
            .map(|until| (until, self.reason))
    }

    /// Whether a hold was set and no success has cleared it since (the hold may
    /// have run out; the next one will be longer).
    pub(super) const fn is_backing_off(&self) -> bool {
        self.backoff.attempt() > 0
    }

    /// Holds after a device-scoped retryable outcome of a request sent in
    /// `generation`: for the next backoff delay, at least `hint` (already clamped).
    /// Returns the hold's length, or `None` for a stale outcome.
    pub(super) fn fail(
        &mut self,
        generation: u64,
        reason: Reason,
        hint: Option<Duration>,
        now: Instant,
    ) -> Option<Duration> {
        if generation != self.generation {
            return None;
        }
        let length = self.backoff.next_delay().max(hint.unwrap_or_default());
        self.until = Some(now.checked_add(length).unwrap_or(now));
        self.reason = reason;
        self.generation = self.generation.wrapping_add(1);
        Some(length)
    }

    /// Clears the hold and its growth after a success of a request sent in
    /// `generation`. Returns whether there was anything to clear.
    pub(super) fn succeed(&mut self, generation: u64) -> bool {
        if generation != self.generation || !self.is_backing_off() {
            return false;
        }
        self.until = None;
        self.backoff.reset();
        true
    }

    /// Consecutive holds since the last success.
    pub(super) const fn consecutive(&self) -> u32 {
        self.backoff.attempt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resile_policy::{Clock, Jitter, ManualClock};

    fn hold() -> Hold {
        let backoff = ExponentialBackoff::builder()
            .min(Duration::from_secs(1))
            .max(Duration::from_secs(30))
            .jitter(Jitter::None)
            .build()
            .unwrap();
        Hold::new(backoff)
    }

    const FULL: Reason = Reason::DeviceQueueFull;

    #[test]
    fn holds_grow_per_consecutive_hold_and_cap() {
        let clock = ManualClock::new();
        let mut h = hold();
        let mut lengths = Vec::new();
        for _ in 0..7 {
            let g = h.generation();
            lengths.push(h.fail(g, FULL, None, clock.now()).unwrap().as_secs());
        }
        assert_eq!(lengths, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(h.consecutive(), 7);
    }

    #[test]
    fn blocks_until_the_end_then_lets_through() {
        let clock = ManualClock::new();
        let mut h = hold();
        assert!(h.blocking(clock.now()).is_none());
        h.fail(0, FULL, None, clock.now()).unwrap();
        let (until, reason) = h.blocking(clock.now()).unwrap();
        assert_eq!(until - clock.now(), Duration::from_secs(1));
        assert_eq!(reason, FULL);
        clock.advance(Duration::from_secs(1));
        assert!(h.blocking(clock.now()).is_none(), "ends exactly at `until`");
        assert!(h.is_backing_off(), "growth is kept until a success");
    }

    #[test]
    fn stale_outcomes_change_nothing() {
        let clock = ManualClock::new();
        let mut h = hold();
        let sent = h.generation();
        assert!(h.fail(sent, FULL, None, clock.now()).is_some());
        // The other requests sent before the hold come back full too.
        for _ in 0..19 {
            assert!(h.fail(sent, FULL, None, clock.now()).is_none());
        }
        assert!(
            !h.succeed(sent),
            "a success sent before the hold does not lift it"
        );
        assert_eq!(h.consecutive(), 1);
        assert!(h.blocking(clock.now()).is_some());
    }

    #[test]
    fn a_success_clears_the_hold_and_its_growth() {
        let clock = ManualClock::new();
        let mut h = hold();
        for _ in 0..3 {
            let g = h.generation();
            h.fail(g, FULL, None, clock.now()).unwrap();
        }
        assert!(h.succeed(h.generation()));
        assert!(h.blocking(clock.now()).is_none());
        assert!(!h.is_backing_off());
        assert!(!h.succeed(h.generation()), "nothing left to clear");
        let g = h.generation();
        assert_eq!(
            h.fail(g, FULL, None, clock.now()),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_hint_is_a_floor() {
        let clock = ManualClock::new();
        let mut h = hold();
        let hint = Some(Duration::from_secs(7));
        assert_eq!(
            h.fail(0, FULL, hint, clock.now()),
            Some(Duration::from_secs(7))
        );
        let g = h.generation();
        let short = Some(Duration::from_millis(10));
        assert_eq!(
            h.fail(g, FULL, short, clock.now()),
            Some(Duration::from_secs(2))
        );
    }
}
