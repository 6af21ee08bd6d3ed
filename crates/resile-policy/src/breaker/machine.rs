//! The state machine behind [`CircuitBreaker`](super::CircuitBreaker): plain `&mut self`
//! methods, no locking, no clock.

use std::time::{Duration, Instant};

use super::window::Window;
use super::{BreakerConfig, Cause, Feedback, Open, Permit, Snapshot, State, Transition};
use crate::Rng;

/// Codes of the state published in the low two bits of [`Machine::word`].
pub(super) const CLOSED: u64 = 0;
pub(super) const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
/// The bit of [`Machine::word`] set while failures run in a row.
const FAILING: u64 = 4;
/// Where the generation starts in [`Machine::word`].
pub(super) const GENERATION_SHIFT: u32 = 3;
/// Generations wrap within 61 bits so that they fit beside the state code.
const GENERATION_MASK: u64 = u64::MAX >> GENERATION_SHIFT;

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    Isolated,
    HalfOpen {
        in_flight: u32,
        succeeded: u32,
        last_admit: Instant,
    },
}

impl Phase {
    const fn state(self) -> State {
        match self {
            Self::Closed => State::Closed,
            Self::Open { .. } | Self::Isolated => State::Open,
            Self::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

#[derive(Debug)]
pub(super) struct Machine<R> {
    config: BreakerConfig,
    /// `failure_ratio` in parts per million, so the trip test is exact integer math.
    ratio_ppm: u64,
    rng: R,
    phase: Phase,
    generation: u64,
    consecutive_failures: u32,
    consecutive_trips: u32,
    trips: u64,
}

/// `t + d`, or `t` in the (configuration-bounded, so unreachable) case of overflow.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

impl<R: Rng> Machine<R> {
    pub(super) fn new(config: BreakerConfig, rng: R) -> Self {
        Self {
            ratio_ppm: ((config.failure_ratio() * 1e6).round() as u64).max(1),
            config,
            rng,
            phase: Phase::Closed,
            generation: 0,
            consecutive_failures: 0,
            consecutive_trips: 0,
            trips: 0,
        }
    }

    /// Generation, whether failures run in a row, and state code in one word, for
    /// the lock-free closed fast paths.
    pub(super) const fn word(&self) -> u64 {
        let code = match self.phase {
            Phase::Closed => CLOSED,
            Phase::Open { .. } | Phase::Isolated => OPEN,
            Phase::HalfOpen { .. } => HALF_OPEN,
        };
        let failing = if self.consecutive_failures > 0 {
            FAILING
        } else {
            0
        };
        (self.generation << GENERATION_SHIFT) | failing | code
    }

    /// The word of a machine that is closed in `generation` with no failure in a
    /// row: where a success changes nothing but the window's count.
    pub(super) const fn quiet_word(generation: u64) -> u64 {
        (generation << GENERATION_SHIFT) | CLOSED
    }

    pub(super) fn acquire(&mut self, now: Instant) -> Result<Permit, Open> {
        let probes = self.config.probes();
        let timeout = self.config.probe_timeout();
        match self.phase {
            Phase::Closed => Ok(Permit::new(self.generation, false, None)),
            Phase::Isolated => Err(Open::new(later(now, self.config.max_open_for()), true)),
            Phase::Open { until } if now < until => Err(Open::new(until, false)),
            Phase::Open { .. } => {
                let from = self.phase.state();
                self.enter(Phase::HalfOpen {
                    in_flight: 1,
                    succeeded: 0,
                    last_admit: now,
                });
                let t = Transition {
                    from,
                    to: State::HalfOpen,
                    at: now,
                    open_for: None,
                    cause: Cause::OpenElapsed,
                };
                Ok(Permit::new(self.generation, true, Some(t)))
            }
            Phase::HalfOpen {
                in_flight,
                succeeded,
                last_admit,
            } => {
                if in_flight.saturating_add(succeeded) < probes {
                    // `max`: a thread with a slightly older `now` must not hasten re-arming.
                    self.phase = Phase::HalfOpen {
                        in_flight: in_flight + 1,
                        succeeded,
                        last_admit: last_admit.max(now),
                    };
                } else if now >= later(last_admit, timeout) {
                    // Every outstanding probe is older than the timeout: declare them lost.
                    self.enter(Phase::HalfOpen {
                        in_flight: 1,
                        succeeded,
                        last_admit: now,
                    });
                } else {
                    return Err(Open::new(later(last_admit, timeout), false));
                }
                Ok(Permit::new(self.generation, true, None))
            }
        }
    }

    pub(super) fn record(
        &mut self,
        generation: u64,
        feedback: Feedback,
        latency: Duration,
        now: Instant,
        window: &Window,
    ) -> Option<Transition> {
        if generation != self.generation {
            return None; // issued before the latest transition: not this period's business
        }
        let slow = matches!(feedback, Feedback::Success)
            && self.config.slow_call().is_some_and(|s| latency > s);
        let failure = match feedback {
            Feedback::Success => slow,
            Feedback::Failure => true,
            Feedback::Ignore => return self.ignore(),
        };
        match self.phase {
            Phase::Closed => self.judge_closed(failure, slow, now, window),
            Phase::HalfOpen { .. } if failure => Some(self.trip(now, Cause::ProbeFailed)),
            Phase::HalfOpen {
                in_flight,
                succeeded,
                last_admit,
            } => {
                let succeeded = succeeded.saturating_add(1);
                if succeeded >= self.config.probes() {
                    return Some(self.close(now, Cause::ProbesSucceeded, window));
                }
                self.phase = Phase::HalfOpen {
                    in_flight: in_flight.saturating_sub(1),
                    succeeded,
                    last_admit,
                };
                None
            }
            // Entering Open bumps the generation, so no current permit can be open.
            Phase::Open { .. } | Phase::Isolated => None,
        }
    }

    fn ignore(&mut self) -> Option<Transition> {
        if let Phase::HalfOpen {
            in_flight,
            succeeded,
            last_admit,
        } = self.phase
        {
            self.phase = Phase::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
                succeeded,
                last_admit,
            };
        }
        None
    }

    fn judge_closed(
        &mut self,
        failure: bool,
        slow: bool,
        now: Instant,
        window: &Window,
    ) -> Option<Transition> {
        window.advance(now);
        window.add(failure, slow);
        if !failure {
            self.consecutive_failures = 0;
            return None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let limit = self.config.consecutive_failures();
        if limit > 0 && self.consecutive_failures >= limit {
            return Some(self.trip(now, Cause::ConsecutiveFailures));
        }
        let t = window.totals();
        let enough = t.calls >= u64::from(self.config.minimum_calls());
        if enough && t.failures * 1_000_000 >= self.ratio_ppm * t.calls {
            return Some(self.trip(now, Cause::FailureRatio));
        }
        None
    }

    pub(super) fn state(&self, now: Instant) -> State {
        match self.phase {
            Phase::Open { until } if now >= until => State::HalfOpen,
            phase => phase.state(),
        }
    }

    pub(super) fn isolate(&mut self, now: Instant) -> Option<Transition> {
        if matches!(self.phase, Phase::Isolated) {
            return None;
        }
        let from = self.phase.state();
        self.enter(Phase::Isolated);
        Some(Transition {
            from,
            to: State::Open,
            at: now,
            open_for: None,
            cause: Cause::Isolated,
        })
    }

    pub(super) fn reset(&mut self, now: Instant, window: &Window) -> Option<Transition> {
        let was_closed = matches!(self.phase, Phase::Closed);
        let t = self.close(now, Cause::Reset, window);
        (!was_closed).then_some(t)
    }

    pub(super) fn snapshot(&mut self, now: Instant, window: &Window) -> Snapshot {
        // Only judged calls fill the window, and only while Closed; sliding it here in
        // any state just lets old counts age out of the report.
        window.advance(now);
        let t = window.totals();
        Snapshot {
            state: self.state(now),
            isolated: matches!(self.phase, Phase::Isolated),
            calls: t.calls,
            failures: t.failures,
            slow_calls: t.slow,
            failure_ratio: if t.calls == 0 {
                0.0
            } else {
                t.failures as f64 / t.calls as f64
            },
            consecutive_failures: self.consecutive_failures,
            consecutive_trips: self.consecutive_trips,
            trips: self.trips,
        }
    }

    /// Closed, with no failure in the window as of the last call, nor in a row.
    pub(super) fn is_idle(&self, window: &Window) -> bool {
        matches!(self.phase, Phase::Closed)
            && self.consecutive_failures == 0
            && !window.has_failures()
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation = (self.generation + 1) & GENERATION_MASK;
    }

    fn trip(&mut self, now: Instant, cause: Cause) -> Transition {
        let from = self.phase.state();
        self.consecutive_trips = self.consecutive_trips.saturating_add(1);
        self.trips = self.trips.saturating_add(1);
        self.consecutive_failures = 0;
        let open_for = self.open_duration();
        self.enter(Phase::Open {
            until: later(now, open_for),
        });
        Transition {
            from,
            to: State::Open,
            at: now,
            open_for: Some(open_for),
            cause,
        }
    }

    /// Enters Closed with fresh counts and no open-duration growth.
    fn close(&mut self, now: Instant, cause: Cause, window: &Window) -> Transition {
        let from = self.phase.state();
        window.clear();
        self.consecutive_failures = 0;
        self.consecutive_trips = 0;
        self.enter(Phase::Closed);
        Transition {
            from,
            to: State::Closed,
            at: now,
            open_for: None,
            cause,
        }
    }

    /// `open_for × 2^(consecutive_trips − 1)`, capped at `max_open_for`, then jittered.
    fn open_duration(&mut self) -> Duration {
        let (base, max) = (self.config.open_for(), self.config.max_open_for());
        let doublings = self.consecutive_trips.saturating_sub(1).min(31);
        let grown = base.checked_mul(1 << doublings).map_or(max, |d| d.min(max));
        let jitter = self.config.jitter();
        if jitter <= 0.0 {
            return grown;
        }
        let factor = 1.0 + jitter * (2.0 * self.rng.next_f64() - 1.0);
        Duration::try_from_secs_f64(grown.as_secs_f64() * factor).unwrap_or(grown)
    }
}
