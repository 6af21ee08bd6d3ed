//! Circuit breaking: stop calling a host that is down, and find out when it is back.
//!
//! A [`CircuitBreaker`] sits in front of one API host. While the host answers, it is
//! **Closed** and lets every call through, counting successes and failures. When the
//! host is clearly in trouble it **trips** to **Open** and refuses calls outright for a
//! while, so the client stops piling retries onto a struggling server and its own callers
//! fail fast instead of waiting on timeouts. When the open period ends it becomes
//! **HalfOpen** and lets a few *probe* calls through to test the water.
//!
//! ```
//! use std::time::Duration;
//! use resile_policy::{CircuitBreaker, Clock, ManualClock};
//! use resile_policy::breaker::{Feedback, State};
//!
//! let clock = ManualClock::new();
//! let breaker = CircuitBreaker::builder().consecutive_failures(2).jitter(0.0).build()?;
//! for _ in 0..2 {
//!     let permit = breaker.try_acquire(clock.now()).expect("closed");
//!     // ... send the request, classify the answer as a host failure ...
//!     breaker.record(permit, Feedback::Failure, Duration::from_millis(30), clock.now());
//! }
//! let refusal = breaker.try_acquire(clock.now()).unwrap_err();
//! assert_eq!(refusal.retry_after(clock.now()), Duration::from_secs(5));
//! clock.advance(Duration::from_secs(5));
//! let probe = breaker.try_acquire(clock.now()).expect("a probe is admitted");
//! assert_eq!(probe.transition().map(|t| t.to), Some(State::HalfOpen));
//! let closed = breaker.record(probe, Feedback::Success, Duration::from_millis(30), clock.now());
//! assert_eq!(closed.map(|t| t.to), Some(State::Closed));
//! # Ok::<(), resile_policy::ConfigError>(())
//! ```
//!
//! # When it trips
//!
//! Either rule trips a Closed breaker, whichever comes first:
//!
//! - **failure ratio**: at least [`failure_ratio`](BreakerBuilder::failure_ratio) (0.5) of
//!   the calls in the last [`window`](BreakerBuilder::window) (10 s) failed, and there were
//!   at least [`minimum_calls`](BreakerBuilder::minimum_calls) (20) of them, so three
//!   unlucky calls on a quiet client do not cut it off;
//! - **consecutive failures**: the last
//!   [`consecutive_failures`](BreakerBuilder::consecutive_failures) (5) judged calls all
//!   failed, which catches a hard outage on a client too quiet to reach the minimum.
//!
//! The window is ten time buckets, each a tenth of the window, advanced lazily by the
//! `now` passed to each call: there is no timer, and memory never grows. Counts older
//! than the window fall out a bucket at a time, so the window covers the last 9/10 to
//! 10/10 of its length.
//!
//! # How long it stays open
//!
//! The first trip opens the breaker for [`open_for`](BreakerBuilder::open_for) (5 s).
//! A probe that fails opens it again for twice as long, then four times, and so on up to
//! [`max_open_for`](BreakerBuilder::max_open_for) (60 s): a host that is down for an hour
//! sees one probe a minute, not one every five seconds. Only a full return to Closed
//! resets the growth. Each duration is spread by ±[`jitter`](BreakerBuilder::jitter)
//! (10 %) so many clients that tripped together do not all probe in the same instant.
//!
//! # How half-open probing works
//!
//! When the open period is over, the next [`try_acquire`](CircuitBreaker::try_acquire)
//! moves the breaker to HalfOpen and admits the caller as a probe; its [`Permit`] carries
//! that transition. Up to [`probes`](BreakerBuilder::probes) (1) probes are admitted;
//! everyone else is refused as if the breaker were still open. If that many probes
//! succeed, the breaker closes with fresh counts; the first probe that fails opens it
//! again, for longer. [`Feedback::Ignore`] hands a probe's slot back without a verdict,
//! so the next caller probes instead.
//!
//! A probe whose answer never comes back (its task was cancelled, its `Permit` dropped)
//! must not keep the breaker half-open forever. When no probe has been admitted for
//! [`probe_timeout`](BreakerBuilder::probe_timeout) (10 s) and the slots are still full,
//! the outstanding probes are declared lost and the slots re-arm; a late report from a
//! lost probe is then ignored like any other stale permit.
//!
//! # Permits, generations and stale reports
//!
//! Every state change (and every probe re-arm) starts a new *generation*, and each
//! [`Permit`] remembers the generation it was issued in. [`record`](CircuitBreaker::record)
//! judges only permits of the current generation; any other report returns `None` and
//! changes nothing. So a slow failure from before a trip cannot count against the probes
//! of the following half-open period, and a late failure from an old closed period
//! cannot count against a freshly closed one: each period is judged only by calls that
//! started in it.
//!
//! # Transitions are values
//!
//! Every change of state is handed back to the caller exactly once, as a [`Transition`]:
//! from [`Permit::transition`] (Open → HalfOpen happens on acquire), from
//! [`record`](CircuitBreaker::record) (trips and closes), and from
//! [`isolate`](CircuitBreaker::isolate) and [`reset`](CircuitBreaker::reset). There are no
//! callbacks and nothing is logged here; log or count the values where you receive them.
//!
//! # Slow calls
//!
//! With [`slow_call`](BreakerBuilder::slow_call) set, a success that took longer than it
//! counts as a **failure** everywhere (ratio, consecutive count, probes): a host that
//! answers in 30 s is as unusable as one that does not answer. Slow calls are also
//! counted apart in the [`Snapshot`], for metrics.
//!
//! # What must feed it: host trouble only
//!
//! The breaker takes a [`Feedback`] and trusts it. Deciding what is a failure is the
//! classification layer's job, and it must report **only trouble of the host itself**:
//!
//! - [`Failure`](Feedback::Failure): 500-class server errors, 502/503/504 from the host's
//!   gateway or a `system_unavailable` answer on a host route, and transport failures
//!   (connect refused, reset, timeout).
//! - [`Success`](Feedback::Success): any answer that shows the host working, including
//!   request-scoped 4xx (the host judged the request) and 401/403.
//! - [`Ignore`](Feedback::Ignore): **throttling** (429 is pacing, not failure), timeouts
//!   the client chose, and everything **device-scoped**. In a Device Management API a 502
//!   or 504 on a device route means one device is asleep or offline; a large fleet always
//!   has some. A host breaker fed with those would trip and cut off every healthy device
//!   and every other route. Device trouble belongs to per-device state (see
//!   [`Registry`](crate::Registry)), never to the host breaker.
//!
//! # Cost
//!
//! All methods take `&self`; the breaker is `Send + Sync` and shares one small mutex.
//! No call allocates. While Closed, `try_acquire` is a single atomic load; while
//! Closed with no failure in a row, `record(Success)` (not slow) is that load and
//! one atomic add to the window, without the mutex (except for the first success
//! of each tenth of the window, which moves the window on under it).

mod circuit;
mod config;
mod machine;
mod permit;
mod state;
mod window;

#[cfg(test)]
mod tests;

pub use circuit::CircuitBreaker;
pub use config::{BreakerBuilder, BreakerConfig};
pub use permit::{Feedback, Open, Permit};
pub use state::{Cause, Snapshot, State, Transition};
