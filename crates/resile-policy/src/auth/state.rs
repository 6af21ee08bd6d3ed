//! The token state machine: which token to attach, and who refreshes when.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Instant;

use super::{Secret, TokenPolicy};
use crate::{DefaultRng, Rng};

/// Which installed token a request carried; increases by one per installed token.
///
/// [`Generation::NONE`] (0) is "no token yet"; the first installed token is generation 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Generation(pub(super) u64);

impl Generation {
    /// Before any token was installed.
    pub const NONE: Self = Self(0);

    /// The counter's value.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Permission to call the provider, returned by [`RefreshDecision::Start`].
///
/// Hand it back to [`TokenState::complete`] with the provider's answer, or to
/// [`TokenState::abandon`] if the call was dropped. Not `Clone`: one call, one answer.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "complete or abandon the refresh, or everyone else waits until `refresh_timeout`"]
pub struct RefreshTicket {
    pub(super) id: u64,
}

/// What to do about the token before sending, from [`TokenState::begin_refresh`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum RefreshDecision {
    /// Send with [`TokenState::current`]: either no refresh is due, or one is due ahead
    /// of expiry and already in flight or backing off while the current token still works.
    Fresh,
    /// You call the provider, then [`TokenState::complete`]. If `current` is still
    /// `Some`, this is a refresh ahead of expiry and the request may go out meanwhile.
    Start(RefreshTicket),
    /// Another caller's refresh is in flight and there is no usable token: wait for its
    /// completion, then ask again.
    Join,
    /// The last refresh failed and there is no usable token: wait until this instant (or
    /// give up if the request's deadline is sooner), then ask again.
    NotBefore(Instant),
    /// `max_refresh_attempts` consecutive refreshes failed and there is no usable token:
    /// return the error to this request (with the provider's last error). A new round of
    /// attempts opens at [`TokenState::retry_not_before`].
    GiveUp {
        /// Consecutive failures so far.
        failures: u32,
    },
}

/// The provider did not deliver a token. The adapter keeps the provider's own error to
/// return to the waiting requests; the state only counts the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct RefreshFailed;

impl RefreshFailed {
    /// A failed refresh.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

/// What [`TokenState::complete`] did with a provider's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Completion {
    /// The token is installed; wake the waiters.
    Installed {
        /// Its generation.
        generation: Generation,
        /// When it will next need refreshing, if its expiry is known.
        refresh_at: Option<Instant>,
        /// The provider returned the token it replaces. After a `reauth` this means the
        /// credential itself was refused: an operator must issue a new one.
        unchanged: bool,
    },
    /// The refresh failed (or returned an already expired token); waiters ask again and
    /// get [`RefreshDecision::NotBefore`] unless the current token still works.
    Failed {
        /// Consecutive failures so far.
        failures: u32,
        /// No new refresh starts before this.
        retry_not_before: Instant,
    },
    /// As `Failed`, and that was the last attempt of this round: waiters get
    /// [`RefreshDecision::GiveUp`] until `retry_not_before`.
    GaveUp {
        /// Consecutive failures so far (a multiple of `max_refresh_attempts`).
        failures: u32,
        /// The next round of attempts opens then.
        retry_not_before: Instant,
    },
    /// The ticket was not the refresh in flight (it was abandoned or outlived
    /// `refresh_timeout`); the answer was ignored.
    Stale,
}

/// What to do after a request got a `reauth` classification (a 401), from
/// [`TokenState::on_reauth`]. Either way the caller then gets a token through
/// [`TokenState::begin_refresh`] and [`TokenState::current`] and replays **once**: a
/// request already replayed after a 401 returns its second 401 instead (that rule is the
/// caller's to keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum ReauthDecision {
    /// The request carried an older token than the current one: replay with the current
    /// token, no new refresh.
    ReplayWithCurrent,
    /// The request carried the current token, now marked refused: refresh (single-flight
    /// through `begin_refresh`), then replay.
    Refresh,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: u64,
    since: Instant,
}

/// The current token and the refresh bookkeeping around it. Sans-I/O: the adapter keeps
/// it behind a mutex, calls the provider when told to, and wakes waiters on completion.
///
/// See the [module docs](super) for the loop that drives it.
#[derive(Debug)]
pub struct TokenState<R: Rng = DefaultRng> {
    policy: TokenPolicy,
    rng: R,
    token: Option<Secret>,
    generation: Generation,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
    refused: bool,
    in_flight: Option<InFlight>,
    next_ticket: u64,
    failures: u32,
    retry_not_before: Option<Instant>,
}

impl TokenState<DefaultRng> {
    /// No token yet, jitter seeded differently in every process (from std's
    /// `RandomState`). Use [`with_rng`](TokenState::with_rng) for repeatable runs.
    #[must_use]
    pub fn new(policy: TokenPolicy) -> Self {
        let seed = RandomState::new().hash_one(0x7265_7369_6c65_u64);
        Self::with_rng(policy, DefaultRng::new(seed))
    }
}

impl<R: Rng> TokenState<R> {
    /// No token yet, jitter drawn from `rng`.
    pub const fn with_rng(policy: TokenPolicy, rng: R) -> Self {
        Self {
            policy,
            rng,
            token: None,
            generation: Generation::NONE,
            expires_at: None,
            refresh_at: None,
            refused: false,
            in_flight: None,
            next_ticket: 0,
            failures: 0,
            retry_not_before: None,
        }
    }

    /// Whether a refresh is due: no token, the token was refused (`reauth`), or `now` is
    /// at or past its jittered refresh-ahead point or its expiry. Allocates nothing.
    #[must_use]
    pub fn needs_refresh(&self, now: Instant) -> bool {
        self.token.is_none()
            || self.refused
            || self.refresh_at.is_some_and(|at| now >= at)
            || self.expired(now)
    }

    /// The token to attach and its generation; `None` without a token, once it expired,
    /// or after a `reauth` for it. Allocates nothing: the secret's clone shares its buffer.
    #[must_use]
    pub fn current(&self, now: Instant) -> Option<(Secret, Generation)> {
        if self.refused || self.expired(now) {
            return None;
        }
        Some((self.token.clone()?, self.generation))
    }

    /// Decides who refreshes. Returns [`RefreshDecision::Start`] to exactly one caller
    /// at a time (single-flight); a refresh unanswered for `refresh_timeout` is presumed
    /// lost and the next caller starts another, whose ticket supersedes the old one.
    pub fn begin_refresh(&mut self, now: Instant) -> RefreshDecision {
        if !self.needs_refresh(now) {
            return RefreshDecision::Fresh;
        }
        let usable = self.current(now).is_some();
        if let Some(f) = self.in_flight
            && now.saturating_duration_since(f.since) < self.policy.refresh_timeout()
        {
            return if usable {
                RefreshDecision::Fresh
            } else {
                RefreshDecision::Join
            };
        }
        if let Some(at) = self.retry_not_before.filter(|&at| now < at) {
            return if usable {
                RefreshDecision::Fresh
            } else if self.round_exhausted() {
                RefreshDecision::GiveUp {
                    failures: self.failures,
                }
            } else {
                RefreshDecision::NotBefore(at)
            };
        }
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.in_flight = Some(InFlight {
            id: self.next_ticket,
            since: now,
        });
        RefreshDecision::Start(RefreshTicket {
            id: self.next_ticket,
        })
    }

    /// Takes the provider's answer for `ticket`: installs the token as a new generation
    /// (its refresh point computed from `expires_at`, see [`TokenPolicy`]), or counts a
    /// failure and sets the backoff. A token that has already expired at `now` counts as
    /// a failure. An answer for any ticket but the one in flight changes nothing.
    #[expect(clippy::needless_pass_by_value, reason = "the ticket is used up")]
    pub fn complete(
        &mut self,
        ticket: RefreshTicket,
        result: Result<(Secret, Option<Instant>), RefreshFailed>,
        now: Instant,
    ) -> Completion {
        if !self.release(&ticket) {
            return Completion::Stale;
        }
        match result {
            Ok((secret, expires_at)) if expires_at.is_none_or(|at| at > now) => {
                self.install(secret, expires_at, now)
            }
            Ok(_) | Err(RefreshFailed) => self.fail(now),
        }
    }

    /// Gives back a ticket whose provider call was dropped, so the next caller may start
    /// one at once; counts no failure. Returns whether it was the refresh in flight.
    #[expect(clippy::needless_pass_by_value, reason = "the ticket is used up")]
    pub fn abandon(&mut self, ticket: RefreshTicket) -> bool {
        self.release(&ticket)
    }

    /// A request sent with generation `used` got a `reauth` classification. If a newer
    /// token is installed, replay with it; otherwise mark the current token refused (so
    /// `current` stops handing it out and `needs_refresh` says yes) and refresh.
    pub fn on_reauth(&mut self, used: Generation) -> ReauthDecision {
        if used < self.generation {
            ReauthDecision::ReplayWithCurrent
        } else {
            self.refused = true;
            ReauthDecision::Refresh
        }
    }

    /// The generation of the installed token ([`Generation::NONE`] before the first).
    #[must_use]
    pub const fn generation(&self) -> Generation {
        self.generation
    }

    /// Consecutive failed refreshes; 0 after a success.
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a refresh is in flight (possibly one presumed lost).
    #[must_use]
    pub const fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The installed token's known expiry.
    #[must_use]
    pub const fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// The jittered instant from which the installed token needs refreshing, if its
    /// expiry is known; an adapter may schedule a background refresh for it.
    #[must_use]
    pub const fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }

    /// After a failure: no refresh starts before this instant.
    #[must_use]
    pub const fn retry_not_before(&self) -> Option<Instant> {
        self.retry_not_before
    }

    /// The policy in force.
    #[must_use]
    pub const fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    fn round_exhausted(&self) -> bool {
        self.failures > 0
            && self
                .failures
                .is_multiple_of(self.policy.max_refresh_attempts())
    }

    /// Clears the in-flight refresh if `ticket` is it.
    fn release(&mut self, ticket: &RefreshTicket) -> bool {
        match self.in_flight {
            Some(f) if f.id == ticket.id => {
                self.in_flight = None;
                true
            }
            _ => false,
        }
    }

    fn install(&mut self, secret: Secret, expires_at: Option<Instant>, now: Instant) -> Completion {
        let unchanged = self.token.as_ref() == Some(&secret);
        self.generation = Generation(self.generation.0.saturating_add(1));
        self.token = Some(secret);
        self.expires_at = expires_at;
        self.refresh_at = expires_at.map(|at| self.policy.refresh_at(now, at, &mut self.rng));
        self.refused = false;
        self.failures = 0;
        self.retry_not_before = None;
        Completion::Installed {
            generation: self.generation,
            refresh_at: self.refresh_at,
            unchanged,
        }
    }

    fn fail(&mut self, now: Instant) -> Completion {
        self.failures = self.failures.saturating_add(1);
        let delay = self.policy.retry_delay(self.failures, &mut self.rng);
        let retry_not_before = now.checked_add(delay).unwrap_or(now);
        self.retry_not_before = Some(retry_not_before);
        let failures = self.failures;
        if self.round_exhausted() {
            Completion::GaveUp {
                failures,
                retry_not_before,
            }
        } else {
            Completion::Failed {
                failures,
                retry_not_before,
            }
        }
    }
}
