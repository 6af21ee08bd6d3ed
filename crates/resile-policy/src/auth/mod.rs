//! Credentials: when to ask the caller for a fresh token, and where a token may go.
//!
//! Every REST call carries `Authorization: Bearer <token>`. This module decides which
//! token to attach, when a new one is needed and who asks for it; `resile-reqwest` keeps
//! a [`TokenState`] behind a mutex, calls the caller's token source when told to, wakes
//! the requests that wait, and asks [`HostAllowList`] before attaching anything.
//!
//! # resile never renews a credential
//!
//! The Device Management API has no refresh-token endpoint. Here "refresh" always means
//! asking the caller's provider (its secret store, login flow or JWT signer) for a
//! token. resile decides only *when* to ask, and makes sure only one caller asks at a
//! time.
//!
//! # Refresh ahead
//!
//! When the provider knows when a token expires (a JWT's `exp`), waiting for it to
//! expire means every request stalls on the provider at that moment, and a request in
//! flight at that moment fails. So `refresh_ahead` (default 60 s) before expiry,
//! [`needs_refresh`](TokenState::needs_refresh) turns true while
//! [`current`](TokenState::current) still hands out the old token: one caller refreshes,
//! the rest keep sending. A token whose remaining life is shorter than twice the lead is
//! refreshed after half of it instead, so a 30-second token is not refreshed on every
//! request. A token without a known expiry (an API key) is refreshed only on `reauth`.
//!
//! # Why jitter
//!
//! Clients started together (a deploy, a fleet rebooting after an outage) receive their
//! tokens together; with a fixed lead they would all call the signer in the same second,
//! once per token lifetime, forever. Each token's lead is lengthened by a random fraction
//! of up to `refresh_jitter` (0.2: a lead of 60 to 72 s), which spreads a fleet's
//! refreshes over 12 s and lets them drift further apart each round. Failed refreshes
//! back off exponentially with jitter for the same reason: a provider that just recovered
//! should not meet every client at once.
//!
//! # Single flight and generations
//!
//! Fifty requests that find the token expired, or that get a 401 together, must cause
//! one provider call, not fifty. [`begin_refresh`](TokenState::begin_refresh) hands a
//! [`RefreshTicket`] to one caller ([`RefreshDecision::Start`]); the others get
//! [`Join`](RefreshDecision::Join) and wait for its [`Completion`], or
//! [`Fresh`](RefreshDecision::Fresh) if the old token still works.
//!
//! Every installed token gets the next [`Generation`], and each request remembers the one
//! it carried. When a 401 comes back for generation 3 while generation 4 is installed,
//! the refresh that request wants has already happened: it replays with generation 4 and
//! nobody calls the provider ([`ReauthDecision::ReplayWithCurrent`]). Only a 401 for the
//! current generation marks that token refused and asks for a new one
//! ([`ReauthDecision::Refresh`]).
//!
//! A failing provider is retried after `retry_min` (200 ms), doubling up to `retry_max`
//! (10 s). After `max_refresh_attempts` (3) consecutive failures the waiting requests get
//! the error ([`RefreshDecision::GiveUp`]) rather than waiting on; a new round of
//! attempts opens once the last backoff has passed, and a success resets the count. A
//! provider call that never answers (its future was dropped, or it hangs) frees the slot
//! after `refresh_timeout` (30 s), and its late answer is ignored
//! ([`Completion::Stale`]); an adapter that notices the drop calls
//! [`abandon`](TokenState::abandon) instead of waiting.
//!
//! # Refresh only on `reauth`
//!
//! Only a `reauth` classification (a 401 that a new credential may fix) triggers a
//! reactive refresh. A 403 `access_denied`, `account_limit_exceeded` or a 401
//! `auth_mismatch` is about what the credential may do, and a new token for the same
//! credential grants no new rights: refreshing would add provider load and hide the real
//! error behind a second one. A request replays at most once after a 401; its second
//! 401, or a failing provider, returns the 401 outcome (with the provider's error).
//! Nothing loops. That once-per-request count lives in the adapter, with the request.
//!
//! # Where tokens go
//!
//! Only to configured hosts, matched exactly ([`HostAllowList`]), and never over plain
//! `http://`: resile refuses locally, because the server's 403 `invalid_request` would
//! arrive after the token had crossed the network in the clear. A loopback simulator
//! may be allowed plain HTTP explicitly. Every redirect hop is checked again, so a token
//! does not follow a redirect to another host. A [`Secret`] never prints its characters,
//! only its [`SecretKind`].
//!
//! # Driving it
//!
//! What the adapter does, shown single-threaded with a [`ManualClock`](crate::ManualClock):
//!
//! ```
//! use std::time::Duration;
//! use resile_policy::auth::{Completion, ReauthDecision, RefreshDecision};
//! use resile_policy::{Clock, DefaultRng, ManualClock, Secret, TokenPolicy, TokenState};
//!
//! let clock = ManualClock::new();
//! let mut state = TokenState::with_rng(TokenPolicy::default(), DefaultRng::new(7));
//!
//! // The first request finds no token and refreshes; a concurrent one joins it.
//! let RefreshDecision::Start(ticket) = state.begin_refresh(clock.now()) else { panic!() };
//! assert_eq!(state.begin_refresh(clock.now()), RefreshDecision::Join);
//!
//! // The caller's provider answers with a JWT valid for an hour.
//! let expiry = clock.now() + Duration::from_secs(3600);
//! let jwt = Secret::new("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2lnbmF0dXJl");
//! let done = state.complete(ticket, Ok((jwt, Some(expiry))), clock.now());
//! assert!(matches!(done, Completion::Installed { unchanged: false, .. }));
//!
//! // Both send `Authorization: Bearer {token.expose()}` and remember the generation.
//! let (token, first) = state.current(clock.now()).unwrap();
//! assert_eq!(format!("{token:?}"), "Secret(jwt)");
//!
//! // 59 minutes on, the refresh-ahead point (60-72 s before expiry) has passed: one
//! // caller refreshes while the others keep sending the old, still valid, token.
//! clock.advance(Duration::from_secs(59 * 60));
//! assert!(state.needs_refresh(clock.now()));
//! let RefreshDecision::Start(ahead) = state.begin_refresh(clock.now()) else { panic!() };
//! assert_eq!(state.begin_refresh(clock.now()), RefreshDecision::Fresh);
//! let expiry = clock.now() + Duration::from_secs(3600);
//! let newer = Secret::new("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhcHAyIn0.c2lnbmF0dXJl");
//! let _ = state.complete(ahead, Ok((newer, Some(expiry))), clock.now());
//!
//! // A 401 for a request that carried the old token: replay, no new refresh.
//! assert_eq!(state.on_reauth(first), ReauthDecision::ReplayWithCurrent);
//! // A 401 for the current token: it is refused, and the next caller refreshes.
//! let (_, second) = state.current(clock.now()).unwrap();
//! assert_eq!(state.on_reauth(second), ReauthDecision::Refresh);
//! assert!(state.current(clock.now()).is_none());
//! assert!(matches!(state.begin_refresh(clock.now()), RefreshDecision::Start(_)));
//! ```

mod host;
mod policy;
mod secret;
mod state;
#[cfg(test)]
mod tests;

pub use host::{Attach, HostAllowList};
pub use policy::{TokenPolicy, TokenPolicyBuilder};
pub use secret::{Secret, SecretKind};
pub use state::{
    Completion, Generation, ReauthDecision, RefreshDecision, RefreshFailed, RefreshTicket,
    TokenState,
};
