//! One host's pacing state: the `Retry-After` hold and the adaptive pace.
//!
//! Pure: every method takes `now`; nothing here sleeps or reads a clock.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::accepted::Accepted;

/// The adaptive pace's settings: where it starts and how slow it may get.
///
/// A 429 sets the rate to what the host actually accepted in the last second (its
/// apparent quota), or `1 / start` when nothing got through; a later 429 to a
/// request sent after that sets it to the accepted rate again, or halves it. Each
/// success then raises it so that it grows by about `1 / (16 × start)` requests per
/// second every second (0.25/s² with the defaults): slow enough that probing for
/// more capacity costs about one extra 429 every few seconds. The pace is lifted
/// once the rate reaches four times the rate it was last set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AdaptiveConfig {
    /// The interval between requests after the first unhinted 429.
    pub(super) start: Duration,
    /// The longest interval repeated 429s can push it to.
    pub(super) max: Duration,
}

/// A host's hold and adaptive pace, behind one small lock (never held across an
/// `.await`), and its accepted count beside it.
///
/// A request to a host that is neither held nor paced takes no lock: `busy` says
/// whether there is anything to look at under it, and the successes it counts go
/// to [`Accepted`], which needs none.
#[derive(Debug, Default)]
pub(crate) struct HostPace {
    state: Mutex<State>,
    /// Whether `state` has a hold or a pace; written only under the lock.
    busy: AtomicBool,
    accepted: Accepted,
}

#[derive(Debug, Default)]
struct State {
    hold_until: Option<Instant>,
    adaptive: Option<Adaptive>,
}

impl State {
    fn is_busy(&self) -> bool {
        self.hold_until.is_some() || self.adaptive.is_some()
    }
}

/// The lock on a host's state; on release it tells `busy` what the state holds.
struct Locked<'p> {
    state: MutexGuard<'p, State>,
    busy: &'p AtomicBool,
}

impl Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.busy.store(self.state.is_busy(), Ordering::Release);
    }
}

#[derive(Debug, Clone, Copy)]
struct Adaptive {
    /// Requests per second allowed to the host (kept as a rate so that additive
    /// steps do not drift with rounding).
    rate: f64,
    /// `1 / rate`.
    interval: Duration,
    /// The earliest time the next request may leave.
    next_at: Instant,
    /// The rate it was last lowered to: the pace lifts at four times this.
    floor: f64,
    /// When the pace was last lowered: 429s to requests sent before it answer for
    /// the same overload and do not lower it again.
    lowered_at: Instant,
}

impl HostPace {
    fn lock(&self) -> Locked<'_> {
        Locked {
            state: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            busy: &self.busy,
        }
    }

    /// The end of the hold, if one is still running at `now` (an expired hold is
    /// cleared).
    pub(super) fn held_until(&self, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        match state.hold_until {
            Some(until) if until > now => Some(until),
            _ => {
                state.hold_until = None;
                None
            }
        }
    }

    /// Whether a request may leave at `now` without waiting: no hold running and
    /// the pace not lowered (no lock unless there is one or the other; an expired
    /// hold is cleared).
    pub(super) fn is_clear(&self, now: Instant) -> bool {
        if !self.busy.load(Ordering::Acquire) {
            return true;
        }
        let mut state = self.lock();
        if state.hold_until.is_some_and(|until| until > now) {
            return false;
        }
        state.hold_until = None;
        state.adaptive.is_none()
    }

    /// Holds the host until `until`, keeping the later of this and any running hold.
    /// Returns whether the hold was set or extended.
    pub(crate) fn hold(&self, until: Instant) -> bool {
        let mut state = self.lock();
        if state.hold_until.is_some_and(|t| t >= until) {
            return false;
        }
        state.hold_until = Some(until);
        true
    }

    /// Reserves the next adaptive slot: `Ok(wait)` (zero when the pace is not
    /// lowered), or `Err(wait)` without reserving when the slot would fall at or
    /// after `limit`.
    pub(super) fn reserve(
        &self,
        now: Instant,
        limit: Option<Instant>,
    ) -> Result<Duration, Duration> {
        let mut state = self.lock();
        let Some(a) = state.adaptive.as_mut() else {
            return Ok(Duration::ZERO);
        };
        let slot = a.next_at.max(now);
        let wait = slot - now;
        if !wait.is_zero() && limit.is_some_and(|l| slot >= l) {
            return Err(wait);
        }
        a.next_at = slot + a.interval;
        Ok(wait)
    }

    /// A 429 to a request sent at `sent`: lowers the pace to the rate the host
    /// accepted in the last second (or, when it accepted nothing, to `1 / start`
    /// the first time and to half the rate after), never raising it and never below
    /// `1 / max`, unless the pace was already lowered after `sent`. Returns whether
    /// it lowered it.
    pub(super) fn throttled(&self, cfg: AdaptiveConfig, sent: Instant, now: Instant) -> bool {
        let accepted = self.accepted.rate(now);
        let mut state = self.lock();
        let rate = match state.adaptive {
            Some(a) if sent < a.lowered_at => return false,
            None if accepted >= 1.0 => accepted,
            None => 1.0 / cfg.start.as_secs_f64(),
            Some(a) if accepted >= 1.0 => accepted.min(a.rate),
            Some(a) => a.rate / 2.0,
        }
        .max(1.0 / cfg.max.as_secs_f64());
        let interval = interval_of(rate, cfg);
        let next_at = state
            .adaptive
            .map_or(now, |a| a.next_at)
            .max(now + interval);
        state.adaptive = Some(Adaptive {
            rate,
            interval,
            next_at,
            floor: rate,
            lowered_at: now,
        });
        true
    }

    /// A host success at `now`: counted as accepted, and, while the pace is
    /// lowered, raises the rate by `1 / (16 × start × rate)` (about `1 / (16 ×
    /// start)` per second every second), lifting the pace at four times its floor.
    pub(super) fn succeeded(&self, cfg: AdaptiveConfig, now: Instant) {
        self.accepted.add(now);
        if !self.busy.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.lock();
        let Some(a) = state.adaptive.as_mut() else {
            return;
        };
        let start = cfg.start.as_secs_f64();
        a.rate += 1.0 / (16.0 * start * a.rate);
        if a.rate >= 4.0 * a.floor {
            state.adaptive = None;
            return;
        }
        a.interval = interval_of(a.rate, cfg);
    }

    /// The interval between requests while the pace is lowered.
    pub(super) fn interval(&self) -> Option<Duration> {
        self.lock().adaptive.map(|a| a.interval)
    }

    /// Whether forgetting this host changes nothing: no hold running at `now` and
    /// the pace not lowered. A host whose lock is taken counts as busy.
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        self.state
            .try_lock()
            .is_ok_and(|s| s.hold_until.is_none_or(|t| t <= now) && s.adaptive.is_none())
    }
}

/// `1 / rate` as a duration, at most `max` whatever the float says.
fn interval_of(rate: f64, cfg: AdaptiveConfig) -> Duration {
    Duration::try_from_secs_f64(1.0 / rate)
        .unwrap_or(cfg.max)
        .min(cfg.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use resile_policy::Clock;

    const MS: Duration = Duration::from_millis(1);
    const CFG: AdaptiveConfig = AdaptiveConfig {
        start: Duration::from_millis(250),
        max: Duration::from_secs(4),
    };

    fn t0() -> Instant {
        resile_policy::ManualClock::new().now()
    }

    #[test]
    fn holds_keep_the_later_end_and_expire() {
        let t0 = t0();
        let h = HostPace::default();
        assert!(h.hold(t0 + 3 * 1000 * MS));
        assert!(
            !h.hold(t0 + 1000 * MS),
            "an earlier end does not shorten it"
        );
        assert!(h.hold(t0 + 5000 * MS), "a later one extends it");
        assert_eq!(h.held_until(t0), Some(t0 + 5000 * MS));
        assert!(!h.is_idle(t0));
        assert_eq!(h.held_until(t0 + 5000 * MS), None, "ends at its instant");
        assert!(h.is_idle(t0 + 5000 * MS));
    }

    #[test]
    fn clear_only_without_a_running_hold_or_a_lowered_pace() {
        let t0 = t0();
        let h = HostPace::default();
        assert!(h.is_clear(t0));
        h.hold(t0 + 1000 * MS);
        assert!(!h.is_clear(t0), "held");
        assert!(!h.is_clear(t0 + 999 * MS), "still held");
        assert!(h.is_clear(t0 + 1000 * MS), "the hold ended");
        assert!(h.is_clear(t0), "and was cleared");
        h.throttled(CFG, t0, t0);
        assert!(!h.is_clear(t0 + 5000 * MS), "paced");
        // From 4/s to 16/s, r² growing by 1/2 per success: 480 of them.
        for n in 0..480 {
            h.succeeded(CFG, t0 + n * MS);
        }
        assert_eq!(h.interval(), None, "the pace lifted");
        assert!(h.is_clear(t0 + 5000 * MS));
    }

    #[test]
    fn without_a_lowered_pace_nothing_waits() {
        let h = HostPace::default();
        assert_eq!(h.reserve(t0(), None), Ok(Duration::ZERO));
        assert_eq!(h.interval(), None);
    }

    #[test]
    fn a_throttle_spaces_the_following_requests() {
        let t0 = t0();
        let h = HostPace::default();
        assert!(h.throttled(CFG, t0, t0));
        assert_eq!(h.interval(), Some(250 * MS));
        // Three requests arriving together leave 250 ms apart, starting 250 ms on.
        let waits: Vec<_> = (0..3).map(|_| h.reserve(t0, None).unwrap()).collect();
        assert_eq!(waits, [250 * MS, 500 * MS, 750 * MS]);
        // A deadline before the slot: refused, nothing reserved.
        assert_eq!(h.reserve(t0, Some(t0 + 900 * MS)), Err(1000 * MS));
        assert_eq!(h.reserve(t0, None), Ok(1000 * MS));
    }

    #[test]
    fn only_requests_sent_after_the_last_lowering_lower_it_again() {
        let t0 = t0();
        let h = HostPace::default();
        assert!(h.throttled(CFG, t0, t0 + MS));
        // Two more 429s to requests that were in flight together: no further change.
        assert!(!h.throttled(CFG, t0, t0 + 2 * MS));
        assert!(!h.throttled(CFG, t0, t0 + 3 * MS));
        assert_eq!(h.interval(), Some(250 * MS));
        // A request sent after the lowering is throttled too: halve the rate again.
        assert!(h.throttled(CFG, t0 + 10 * MS, t0 + 20 * MS));
        assert_eq!(h.interval(), Some(500 * MS));
        for n in 0..10 {
            let at = t0 + (100 + n) * 1000 * MS;
            h.throttled(CFG, at, at);
        }
        assert_eq!(h.interval(), Some(CFG.max), "capped");
    }

    #[test]
    fn successes_raise_the_rate_additively_until_the_pace_lifts() {
        let t0 = t0();
        let h = HostPace::default();
        h.throttled(CFG, t0, t0);
        h.throttled(CFG, t0 + MS, t0 + MS); // nothing accepted: 4/s, then 2/s
        assert_eq!(h.interval(), Some(500 * MS));
        h.succeeded(CFG, t0 + 2 * MS); // + 1 / (16 × 0.25 s × 2/s) = 0.125/s
        assert_eq!(h.interval(), Duration::try_from_secs_f64(1.0 / 2.125).ok());
        // r += 1 / (4 r) per success: from 2.125 to 8/s (four times the floor of
        // 2/s) takes 119 more.
        for n in 0..118 {
            h.succeeded(CFG, t0 + (3 + n) * MS);
        }
        assert!(h.interval().is_some());
        assert!(!h.is_idle(t0));
        h.succeeded(CFG, t0 + 200 * MS);
        assert_eq!(h.interval(), None);
        assert!(h.is_idle(t0));
        assert_eq!(h.reserve(t0, None), Ok(Duration::ZERO));
    }

    #[test]
    fn a_429_sets_the_pace_to_what_the_host_accepted() {
        let t0 = t0();
        let h = HostPace::default();
        // Ten successes in the first second, two early in the next: the host took
        // 10 requests per second.
        for n in 0..10 {
            h.succeeded(CFG, t0 + n * 90 * MS);
        }
        h.succeeded(CFG, t0 + 1000 * MS);
        h.succeeded(CFG, t0 + 1100 * MS);
        assert_eq!(h.interval(), None, "successes alone never pace");
        assert!(h.throttled(CFG, t0 + 1150 * MS, t0 + 1200 * MS));
        assert_eq!(h.interval(), Some(100 * MS));
        // A later 429 never raises it: accepted 3 in the last second → 3/s.
        for n in 0..3 {
            h.succeeded(CFG, t0 + (2300 + n * 10) * MS);
        }
        assert!(h.throttled(CFG, t0 + 2400 * MS, t0 + 2400 * MS));
        let i = h.interval().unwrap();
        assert!(i > 300 * MS && i < 400 * MS, "{i:?}");
        // Nothing accepted for two seconds: the count is forgotten, the rate halves.
        assert!(h.throttled(CFG, t0 + 5000 * MS, t0 + 5000 * MS));
        assert!(h.interval().unwrap() > 2 * i - 100 * MS);
    }
}
