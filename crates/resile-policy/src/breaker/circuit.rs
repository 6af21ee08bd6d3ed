//! [`CircuitBreaker`]: the state machine behind a mutex, with a lock-free closed path.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::machine::{CLOSED, GENERATION_SHIFT, Machine, OPEN};
use super::window::Window;
use super::{BreakerBuilder, BreakerConfig, Feedback, Open, Permit, Snapshot, State, Transition};
use crate::registry::Evict;
use crate::{DefaultRng, Rng};

/// A circuit breaker for one host; see the [module docs](super) for how it behaves.
///
/// Sans-I/O: every method takes `now` and returns a value. All take `&self`, so one
/// breaker can sit in an `Arc` shared by every task talking to the host. Jitter comes
/// from `R`, seeded from the configuration by [`new`](Self::new).
pub struct CircuitBreaker<R = DefaultRng> {
    /// The machine's [`word`](Machine::word) (generation, failures in a row, state
    /// code), republished under the lock after every change, so `try_acquire` while
    /// Closed needs only this load, and a success while nothing fails only this load
    /// and the window's count.
    word: AtomicU64,
    config: BreakerConfig,
    /// The rolling window: counted without the lock on the quiet path.
    window: Window,
    machine: Mutex<Machine<R>>,
}

impl CircuitBreaker {
    /// A builder with the defaults (listed on [`BreakerBuilder`]).
    pub const fn builder() -> BreakerBuilder {
        BreakerBuilder::new()
    }

    /// A closed breaker with jitter from `DefaultRng::new(config.seed())`.
    pub fn new(config: BreakerConfig) -> Self {
        Self::with_rng(config, DefaultRng::new(config.seed()))
    }
}

impl Default for CircuitBreaker {
    /// A breaker with [`BreakerConfig::default`].
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

impl<R: Rng> CircuitBreaker<R> {
    /// A closed breaker drawing jitter from `rng` (the configured seed is not used).
    pub fn with_rng(config: BreakerConfig, rng: R) -> Self {
        let machine = Machine::new(config, rng);
        Self {
            word: AtomicU64::new(machine.word()),
            config,
            window: Window::new(config.window()),
            machine: Mutex::new(machine),
        }
    }

    /// The configuration it was built with.
    pub const fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Asks to make one call at `now`.
    ///
    /// Closed: always a [`Permit`]. Open: [`Open`] until the open period ends, then the
    /// caller becomes the first half-open probe and its permit carries the
    /// `Open → HalfOpen` [`Transition`]. HalfOpen: a probe permit while slots are free
    /// (or re-armed after `probe_timeout`), else [`Open`].
    ///
    /// # Errors
    ///
    /// [`Open`], a refusal that says when to ask again; not a failure of this method.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit, Open> {
        let word = self.word.load(Ordering::Acquire);
        if word & 3 == CLOSED {
            return Ok(Permit::new(word >> GENERATION_SHIFT, false, None));
        }
        self.with(|m| m.acquire(now))
    }

    /// Reports how the call behind `permit` went, `latency` after it started.
    ///
    /// Returns the transition it caused, if any: a trip (`Closed → Open`), a failed
    /// probe (`HalfOpen → Open`) or enough good probes (`HalfOpen → Closed`). A permit
    /// from an earlier generation changes nothing and returns `None` (see
    /// [stale reports](super#permits-generations-and-stale-reports)).
    ///
    /// A success that is not slow, to a closed breaker with no failure in a row, is
    /// counted without the lock: the common case costs one atomic add.
    #[must_use = "a transition is reported only here"]
    pub fn record(
        &self,
        permit: Permit,
        feedback: Feedback,
        latency: Duration,
        now: Instant,
    ) -> Option<Transition> {
        let generation = permit.into_generation();
        let quiet = feedback == Feedback::Success
            && self.config.slow_call().is_none_or(|s| latency <= s)
            && self.word.load(Ordering::Acquire) == Machine::<R>::quiet_word(generation);
        if quiet && self.window.try_add_success(now) {
            return None;
        }
        self.with(|m| m.record(generation, feedback, latency, now, &self.window))
    }

    /// The state at `now`. An open breaker whose open period is over reads as
    /// [`State::HalfOpen`]; the transition itself happens, and is reported, on the next
    /// [`try_acquire`](Self::try_acquire).
    pub fn state(&self, now: Instant) -> State {
        if self.word.load(Ordering::Acquire) & 3 == CLOSED {
            return State::Closed;
        }
        self.lock().state(now)
    }

    /// Forces the breaker open until [`reset`](Self::reset), whatever the calls say.
    /// Returns the transition, or `None` if it was already isolated.
    #[must_use = "a transition is reported only here"]
    pub fn isolate(&self, now: Instant) -> Option<Transition> {
        self.with(|m| m.isolate(now))
    }

    /// Forces the breaker closed with fresh counts and no open-duration growth;
    /// permits issued before are ignored. Returns the transition, or `None` if it was
    /// already closed (its counts are cleared all the same).
    #[must_use = "a transition is reported only here"]
    pub fn reset(&self, now: Instant) -> Option<Transition> {
        self.with(|m| m.reset(now, &self.window))
    }

    /// Counters at `now`, for metrics. Cheap: one short critical section, no allocation.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        self.lock().snapshot(now, &self.window)
    }

    fn lock(&self) -> MutexGuard<'_, Machine<R>> {
        // The machine never panics while locked; if a caller's panic poisoned the lock,
        // the state inside is still consistent.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Machine<R>) -> T) -> T {
        let mut machine = self.lock();
        let out = f(&mut machine);
        let word = machine.word();
        if self.word.load(Ordering::Relaxed) != word {
            self.word.store(word, Ordering::Release);
        }
        out
    }
}

impl<R> fmt::Debug for CircuitBreaker<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.word.load(Ordering::Acquire);
        let state = match word & 3 {
            CLOSED => "closed",
            OPEN => "open",
            _ => "half_open",
        };
        f.debug_struct("CircuitBreaker")
            .field("state", &state)
            .field("generation", &(word >> GENERATION_SHIFT))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<R: Rng> Evict for CircuitBreaker<R> {
    /// Idle when Closed with no failure in the window (as of its last call) and none in
    /// a row: forgetting it loses nothing. Open, half-open and failing breakers are busy.
    fn is_idle(&self) -> bool {
        self.word.load(Ordering::Acquire) & 3 == CLOSED && self.lock().is_idle(&self.window)
    }
}
