//! What a breaker reports: its [`State`], each [`Transition`] and a [`Snapshot`].

use std::fmt;
use std::time::{Duration, Instant};

/// The state of a [`CircuitBreaker`](super::CircuitBreaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum State {
    /// Calls flow; outcomes are counted.
    Closed,
    /// Calls are refused until the open period ends (or, when isolated, until reset).
    Open,
    /// A bounded number of probe calls decide between Closed and Open.
    HalfOpen,
}

impl State {
    /// The name used in logs and metrics: `closed`, `open` or `half_open`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a [`Transition`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Cause {
    /// Closed → Open: the failure ratio over the window reached the threshold.
    FailureRatio,
    /// Closed → Open: too many failures in a row.
    ConsecutiveFailures,
    /// HalfOpen → Open: a probe failed.
    ProbeFailed,
    /// Open → HalfOpen: the open period ended and a probe was admitted.
    OpenElapsed,
    /// HalfOpen → Closed: enough probes succeeded.
    ProbesSucceeded,
    /// → Open until reset: [`isolate`](super::CircuitBreaker::isolate) was called.
    Isolated,
    /// → Closed: [`reset`](super::CircuitBreaker::reset) was called.
    Reset,
}

/// A change of state, handed to the caller exactly once.
///
/// `from` may equal `to` in one case: isolating a breaker that was already open
/// (`Open → Open`, [`Cause::Isolated`]) turns a timed open period into an indefinite one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// When it happened: the `now` of the call that caused it.
    pub at: Instant,
    /// For a timed opening, how long the breaker stays open (jitter included); `None`
    /// for every other transition, including isolation (open until reset).
    pub open_for: Option<Duration>,
    /// Why it happened.
    pub cause: Cause,
}

/// Counters of a breaker at one instant, for metrics and health pages.
///
/// Window counts cover the last [`window`](super::BreakerConfig::window) as of the
/// `now` given to [`snapshot`](super::CircuitBreaker::snapshot); they restart at zero
/// whenever the breaker closes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The state, as [`state`](super::CircuitBreaker::state) reports it.
    pub state: State,
    /// Whether the breaker is isolated (open until reset).
    pub isolated: bool,
    /// Judged calls (successes and failures) in the window.
    pub calls: u64,
    /// Failures in the window, slow successes included.
    pub failures: u64,
    /// Successes slower than the slow-call threshold in the window (also in `failures`).
    pub slow_calls: u64,
    /// `failures / calls`, or 0.0 with no calls.
    pub failure_ratio: f64,
    /// Failures in a row since the last success (while Closed).
    pub consecutive_failures: u32,
    /// Trips since the breaker was last fully closed; sets the open duration's growth.
    pub consecutive_trips: u32,
    /// Trips (Closed or HalfOpen → Open, isolation excluded) since the breaker was built.
    pub trips: u64,
}
