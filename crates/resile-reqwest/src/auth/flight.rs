//! Single-flight refresh: a [`TokenState`] behind a mutex, the source called by one
//! request at a time, the others woken through a `watch` channel.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http::HeaderValue;
use resile_policy::auth::{
    Completion, Generation, ReauthDecision, RefreshDecision, RefreshFailed, RefreshTicket,
};
use resile_policy::{Clock, Secret, TokenState};
use tokio::sync::watch;

use super::event::report;
use super::failure::{NoToken, Shared, bearer, message, usable};
use super::{RefreshEvent, RefreshTrigger, TokenSource};
use crate::TokioClock;

pub(super) type Hook = dyn Fn(&RefreshEvent) + Send + Sync;

/// The token, its bookkeeping, and the source behind them.
pub(super) struct Flight {
    source: Arc<dyn TokenSource>,
    inner: Mutex<Inner>,
    /// Bumped (under the lock) whenever a refresh ends; waiters subscribe under the lock.
    done: watch::Sender<u64>,
    hook: Option<Arc<Hook>>,
    refreshes: AtomicU64,
    timeout: Duration,
}

#[derive(Debug)]
struct Inner {
    tokens: TokenState,
    /// The current token was refused by a 401 and not replaced yet.
    refused: bool,
    last_error: Option<Shared>,
    /// The `Authorization` value of the current token, built once per generation
    /// (cloning a `HeaderValue` shares its bytes).
    header: Option<(Generation, HeaderValue)>,
}

enum Step {
    Refresh(RefreshTicket, RefreshTrigger),
    Wait(watch::Receiver<u64>),
    Sleep(Instant),
}

impl Flight {
    pub(super) fn new(
        source: Arc<dyn TokenSource>,
        tokens: TokenState,
        hook: Option<Arc<Hook>>,
    ) -> Self {
        let timeout = tokens.policy().refresh_timeout();
        Self {
            source,
            inner: Mutex::new(Inner {
                tokens,
                refused: false,
                last_error: None,
                header: None,
            }),
            done: watch::Sender::new(0),
            hook,
            refreshes: AtomicU64::new(0),
            timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Successful refreshes so far.
    pub(super) fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The current token's header when no refresh is due at `now` (the common
    /// case: one lock, no allocation once the header is built); `None` sends the
    /// request through [`obtain`](Self::obtain).
    pub(super) fn fresh_header(&self, now: Instant) -> Option<(HeaderValue, Generation)> {
        let mut inner = self.lock();
        if inner.tokens.needs_refresh(now) {
            return None;
        }
        // No refresh due: the token is there and current; its secret is cloned only
        // to build the header once per generation.
        let generation = inner.tokens.generation();
        let value = inner.header_for(generation, |t| t.current(now).map(|(s, _)| s))?;
        Some((value, generation))
    }

    /// The header for `secret` of `generation`, from the cache when it is built.
    /// `None` only for a token that cannot go in a header, which `Flight` never
    /// installs.
    pub(super) fn header(&self, secret: &Secret, generation: Generation) -> Option<HeaderValue> {
        self.lock().header_for(generation, |_| Some(secret.clone()))
    }

    /// A usable token, refreshing (or waiting for another's refresh) first if needed.
    /// Waits stop at `deadline`.
    pub(super) async fn obtain(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(Secret, Generation), NoToken> {
        let clock = TokioClock;
        loop {
            let now = clock.now();
            let step = {
                let mut inner = self.lock();
                match inner.tokens.begin_refresh(now) {
                    RefreshDecision::Fresh => {
                        return inner.tokens.current(now).ok_or_else(|| inner.no_token());
                    }
                    RefreshDecision::Start(ticket) => Step::Refresh(ticket, inner.trigger()),
                    RefreshDecision::Join => Step::Wait(self.done.subscribe()),
                    RefreshDecision::NotBefore(at) => Step::Sleep(at),
                    RefreshDecision::GiveUp { .. } => return Err(inner.no_token()),
                }
            };
            match step {
                Step::Refresh(ticket, trigger) => self.refresh(ticket, trigger).await,
                Step::Wait(mut rx) => match deadline {
                    None => {
                        let _ = rx.changed().await;
                    }
                    Some(d) => {
                        let at = tokio::time::Instant::from_std(d);
                        if tokio::time::timeout_at(at, rx.changed()).await.is_err() {
                            return Err(NoToken::Deadline);
                        }
                    }
                },
                Step::Sleep(at) => {
                    if deadline.is_some_and(|d| d < at) {
                        return Err(NoToken::Deadline);
                    }
                    clock.sleep_until(at).await;
                }
            }
        }
    }

    /// A request that carried generation `used` got a `reauth` classification.
    pub(super) fn on_reauth(&self, used: Generation) -> ReauthDecision {
        let mut inner = self.lock();
        let decision = inner.tokens.on_reauth(used);
        if decision == ReauthDecision::Refresh {
            inner.refused = true;
        }
        decision
    }

    /// Calls the source with `ticket` and installs its answer.
    async fn refresh(&self, ticket: RefreshTicket, trigger: RefreshTrigger) {
        let mut turn = Turn {
            flight: self,
            ticket: Some(ticket),
        };
        let answer = match tokio::time::timeout(self.timeout, self.source.token()).await {
            Ok(Ok(token)) => usable(token.into_parts()),
            Ok(Err(e)) => Err(Shared::from(e)),
            Err(_) => Err(message(format!(
                "token source did not answer within {:?}",
                self.timeout
            ))),
        };
        let Some(ticket) = turn.ticket.take() else {
            return;
        };
        let now = TokioClock.now();
        let (result, mut error, kind) = match answer {
            Ok((secret, life)) => {
                let kind = secret.kind();
                // A lifetime too long to represent is no expiry at all.
                let expires_at = life.and_then(|d| now.checked_add(d));
                (Ok((secret, expires_at)), None, Some(kind))
            }
            Err(e) => (Err(RefreshFailed::new()), Some(e), None),
        };
        let expires_at = result.as_ref().ok().and_then(|(_, at)| *at);
        let completion = {
            let mut inner = self.lock();
            let completion = inner.tokens.complete(ticket, result, now);
            match completion {
                Completion::Installed { .. } => {
                    inner.refused = false;
                    inner.last_error = None;
                }
                Completion::Failed { .. } | Completion::GaveUp { .. } => {
                    let e = error.get_or_insert_with(|| {
                        message("token source returned an already expired token".into())
                    });
                    inner.last_error = Some(Arc::clone(e));
                }
                Completion::Stale => {}
            }
            self.done.send_modify(|n| *n = n.wrapping_add(1));
            completion
        };
        let event = report(completion, error.as_deref(), trigger, expires_at, kind);
        if let Some(event) = event {
            if matches!(event, RefreshEvent::Refreshed { .. }) {
                self.refreshes.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(hook) = &self.hook {
                hook(&event);
            }
        }
    }
}

impl fmt::Debug for Flight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flight")
            .field("source", &self.source)
            .field("state", &self.lock().tokens)
            .field("refreshes", &self.refreshes())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The header of `generation`: cached, or built from `secret` (asked only on
    /// a miss).
    fn header_for(
        &mut self,
        generation: Generation,
        secret: impl FnOnce(&TokenState) -> Option<Secret>,
    ) -> Option<HeaderValue> {
        if let Some((_, value)) = self.header.as_ref().filter(|(g, _)| *g == generation) {
            return Some(value.clone());
        }
        let value = bearer(&secret(&self.tokens)?)?;
        self.header = Some((generation, value.clone()));
        Some(value)
    }

    fn trigger(&self) -> RefreshTrigger {
        if self.tokens.generation() == Generation::NONE {
            RefreshTrigger::Initial
        } else if self.refused {
            RefreshTrigger::Reauth
        } else {
            RefreshTrigger::Proactive
        }
    }

    fn no_token(&self) -> NoToken {
        NoToken::Provider {
            attempts: self.tokens.failures(),
            error: self
                .last_error
                .clone()
                .unwrap_or_else(|| message("no usable token".into())),
        }
    }
}

/// A refresh turn; dropped before completion (the request was cancelled), it gives the
/// turn back at once and wakes the waiters so one of them takes over.
struct Turn<'a> {
    flight: &'a Flight,
    ticket: Option<RefreshTicket>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let mut inner = self.flight.lock();
            let _ = inner.tokens.abandon(ticket);
            self.flight.done.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}
