//! The two answers of `try_acquire` ([`Permit`], [`Open`]) and the [`Feedback`] on a call.

use std::time::{Duration, Instant};

use super::Transition;

/// What a finished call says about the host's health; see the
/// [module docs](super#what-must-feed-it-host-trouble-only) for what belongs where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feedback {
    /// The host worked (whatever it thought of the request).
    Success,
    /// The host is in trouble: server error, gateway error, transport failure.
    Failure,
    /// No verdict: throttling, device-scoped trouble, a cancelled call. Releases a
    /// half-open probe slot without judging.
    Ignore,
}

/// Leave to make one call, returned by [`try_acquire`](super::CircuitBreaker::try_acquire).
///
/// Hand it back to [`record`](super::CircuitBreaker::record) with the outcome. A permit
/// is not `Clone`, so one call is reported at most once. Dropping it unreported is safe:
/// while Closed nothing is lost, and a half-open probe slot re-arms after
/// [`probe_timeout`](super::BreakerConfig::probe_timeout).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "report the call's outcome with `CircuitBreaker::record`, and check `transition()`"]
pub struct Permit {
    generation: u64,
    probe: bool,
    transition: Option<Transition>,
}

impl Permit {
    pub(super) const fn new(generation: u64, probe: bool, transition: Option<Transition>) -> Self {
        Self {
            generation,
            probe,
            transition,
        }
    }

    /// The transition this acquire caused: `Open → HalfOpen` for the first probe after an
    /// open period, `None` otherwise. Reported here and nowhere else.
    pub const fn transition(&self) -> Option<Transition> {
        self.transition
    }

    /// Whether this call is a half-open probe (its outcome decides the breaker's state).
    pub const fn is_probe(&self) -> bool {
        self.probe
    }

    /// The generation the permit was issued in; consumes the permit.
    pub(super) const fn into_generation(self) -> u64 {
        self.generation
    }
}

/// A refusal: the breaker is open (or half-open with every probe slot taken).
///
/// Like governor's `NotUntil`, it says when asking again makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Open {
    retry_at: Instant,
    isolated: bool,
}

impl Open {
    pub(super) const fn new(retry_at: Instant, isolated: bool) -> Self {
        Self { retry_at, isolated }
    }

    /// The earliest instant at which [`try_acquire`](super::CircuitBreaker::try_acquire)
    /// may admit a probe: the end of the open period, or, while half-open, when the
    /// outstanding probes time out (they may report sooner).
    ///
    /// An isolated breaker has no such instant; it gives `now` plus
    /// [`max_open_for`](super::BreakerConfig::max_open_for) as a polling hint, and keeps
    /// refusing until [`reset`](super::CircuitBreaker::reset).
    pub const fn retry_at(&self) -> Instant {
        self.retry_at
    }

    /// How long from `now` until [`retry_at`](Self::retry_at); zero if already past.
    pub fn retry_after(&self, now: Instant) -> Duration {
        self.retry_at.saturating_duration_since(now)
    }

    /// Whether the breaker was isolated by hand and stays open until reset.
    pub const fn is_isolated(&self) -> bool {
        self.isolated
    }
}

impl std::fmt::Display for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.isolated {
            f.write_str("circuit isolated until reset")
        } else {
            f.write_str("circuit open")
        }
    }
}

impl std::error::Error for Open {}
