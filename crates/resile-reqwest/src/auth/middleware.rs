//! The auth middleware: attach, refresh, replay once.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use http::header::AUTHORIZATION;
use reqwest::{Request, Response, Url};
use resile_policy::auth::{Attach, Generation};
use resile_policy::{Classify, HostAllowList};

use super::flight::Flight;
use super::{AuthBuilder, TokenSource};
use crate::parts::authority;
use crate::{Error, telemetry};

/// Attaches `Authorization: Bearer <token>` to requests for the configured hosts,
/// refreshes the token before it expires and after a `reauth` 401 (one source call for
/// all concurrent requests), and replays a refused request **once**.
///
/// In short (the sections below explain why):
///
/// * configured host over `https`: the current token is attached (replacing any
///   `Authorization` header the caller set), as a header value marked sensitive;
/// * configured host over plain `http` (loopback excepted when
///   [allowed](AuthBuilder::allow_loopback_http)): [`Error::insecure_transport`], nothing sent;
/// * any other host: the request passes through untouched;
/// * no token can be had before sending: [`Error::refresh_failed`] (or
///   [`Error::deadline_exceeded`]) after the policy's attempts and backoff;
/// * a `reauth` 401: refresh (or reuse a newer token) and replay once; if no token
///   comes, the 401 is returned with a [`RefreshFailure`](super::RefreshFailure) in its
///   extensions; a second 401 is returned as is.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use resile_reqwest::{AuthMiddleware, BoxError, FnSource, RefreshEvent, RetryMiddleware, Token};
///
/// let source = FnSource::new(|| async {
///     // Ask the login flow or JWT signer here.
///     Ok::<_, BoxError>(Token::new("eyJh.eyJi.c2ln").expires_in(Duration::from_secs(3600)))
/// });
/// let auth = AuthMiddleware::builder(source)
///     .hosts(["api.us-east-1.mbedcloud.com"])
///     .on_refresh(|event| {
///         if let RefreshEvent::Failed { error, .. } = event {
///             eprintln!("token refresh failed: {error}");
///         }
///     })
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new()) // outside: every attempt gets a current token
///     .with(auth)
///     .build();
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
///
/// # resile asks, the caller's provider answers
///
/// The Device Management API has no refresh-token endpoint, so "refresh" always means
/// asking the caller's [`TokenSource`](crate::TokenSource) (a secret store, a login
/// flow, a JWT signer) for a token. Ready sources: [`StaticToken`](crate::StaticToken)
/// (an API key that never expires), [`EnvToken`](crate::EnvToken) and
/// [`FileToken`](crate::FileToken) (re-read on every refresh, so a rotated key is picked
/// up) and [`FnSource`](crate::FnSource) (any async closure). `AuthMiddleware` decides
/// *when* to ask, through [`resile_policy::TokenState`]:
///
/// * **Before sending**, when there is no token yet or the token's known expiry is near
///   (`refresh_ahead`, 60 s by default). Ahead of expiry one request refreshes while the
///   others keep sending the old token; if that refresh fails, the old token keeps
///   working and nobody sees the error.
/// * **After a `reauth` classification** (a 401 that a new credential may fix). A request
///   that carried an older token than the current one replays with the current one; a
///   401 for the current token asks the provider. Either way the request is replayed
///   **once**, whatever its method: a 401 was not processed. A second 401 is returned as
///   is and refreshes nothing (the new token stays in use until another 401). A 403, or a
///   401 `auth_mismatch`, never triggers a refresh: a new token for the same credential
///   grants no new rights.
///
/// # Single flight
///
/// A hundred requests that find the token expired, or that get a 401 together, cause
/// one provider call. The one request told to refresh calls the source; the others
/// wait on a [`tokio::sync::watch`] channel they subscribed to under the same lock that
/// told them to wait, so no wake-up is missed. No lock is held across an `.await`. A
/// refreshing request that is dropped gives its turn back at once; a source that does
/// not answer within `refresh_timeout` (30 s) counts as a failure.
///
/// # When the provider fails
///
/// A failed refresh is retried after 200 ms, then 400 ms (doubling with jitter up to
/// 10 s), three attempts in a round by default
/// ([`TokenPolicy`](resile_policy::TokenPolicy)). Waits never run past a
/// [`Deadline`](crate::Deadline). Then:
///
/// * before sending: the request fails with
///   [`Error::refresh_failed`](crate::Error::refresh_failed) holding the provider's last
///   error (or [`Error::deadline_exceeded`](crate::Error::deadline_exceeded) if the
///   deadline came first);
/// * after a 401: the **401 response is returned unchanged**, with a
///   [`RefreshFailure`](crate::RefreshFailure) in its extensions saying why no new token
///   came (error model §9: "a failing provider returns the 401 outcome (with the
///   provider's error)").
///
/// # Where tokens go
///
/// Only to the configured hosts, matched exactly by
/// [`HostAllowList`](resile_policy::HostAllowList), and never over plain `http://`: such
/// a request fails locally with [`Error::insecure_transport`](crate::Error::insecure_transport)
/// before anything is sent (a loopback simulator may be allowed plain HTTP explicitly).
/// Requests to other hosts pass through untouched. Tokens never appear in logs, events,
/// errors or `Debug` output; at most their kind (`ak_…`, `rt_…`, `jwt`) does.
///
/// # Defaults
///
/// | setting | value |
/// |---|---|
/// | hosts | none: [`hosts`](AuthBuilder::hosts) is required |
/// | plain `http` to loopback | refused ([`allow_loopback_http`](AuthBuilder::allow_loopback_http)) |
/// | refresh ahead | 60 s before a known expiry (+0–20 % jitter); after half the life of a token shorter than 120 s |
/// | failed refresh | retried after 200 ms, 400 ms, … (×2 up to 10 s, jittered); 3 attempts per round |
/// | source timeout | 30 s, then counted as a failure |
/// | classifier | [`DefaultClassifier`](resile_policy::DefaultClassifier) (the spec's table) |
/// | body read for classification | 64 KiB of an error body |
///
/// The refresh numbers are [`TokenPolicy::default`](resile_policy::TokenPolicy).
///
/// # Note
///
/// One middleware holds one credential: give each credential its own middleware. A
/// request whose body cannot be cloned (a stream) is not replayed: its 401 is returned
/// as is, and the next request refreshes the refused token before it is sent.
/// Redirects are followed inside the `reqwest::Client`, below every middleware;
/// reqwest drops `Authorization` on a redirect to another host or port. The request
/// that calls the source waits for its answer (at most `refresh_timeout`) even past its
/// `Deadline`: giving up would waste the call for every request waiting on it.
pub struct AuthMiddleware {
    hosts: HostAllowList,
    flight: Flight,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
}

impl AuthMiddleware {
    /// A builder taking tokens from `source`, with the documented defaults.
    pub fn builder(source: impl TokenSource) -> AuthBuilder {
        AuthBuilder::new(Arc::new(source))
    }

    pub(super) const fn from_parts(
        hosts: HostAllowList,
        flight: Flight,
        classifier: Arc<dyn Classify>,
        body_limit: usize,
    ) -> Self {
        Self {
            hosts,
            flight,
            classifier,
            body_limit,
        }
    }

    /// Tokens installed so far (successful calls to the source).
    pub fn refreshes(&self) -> u64 {
        self.flight.refreshes()
    }

    /// The classifier and body limit this layer judges outcomes with.
    pub(crate) fn classifier(&self) -> (&dyn Classify, usize) {
        (self.classifier.as_ref(), self.body_limit)
    }

    /// Whether a request for `url` (whose `host[:port]` is `host`) gets the token:
    /// `Ok(false)` for hosts not configured, an error for a configured host over
    /// plain `http`.
    pub(crate) fn applies(&self, url: &Url, host: &str) -> Result<bool, Error> {
        match self.hosts.may_attach(url.scheme(), host) {
            Attach::NotConfigured => Ok(false),
            Attach::Token => Ok(true),
            Attach::RefuseInsecure => {
                tracing::warn!(
                    target: "resile::auth",
                    host,
                    "refusing to send a token over plain http"
                );
                telemetry::rejected(host, "insecure_transport");
                Err(Error::insecure_transport(host))
            }
        }
    }

    /// Attaches the current token when no refresh is due at `now`; `None` when the
    /// request must go through [`attach`](Self::attach).
    pub(crate) fn attach_fresh(&self, req: &mut Request, now: Instant) -> Option<Generation> {
        let (value, generation) = self.flight.fresh_header(now)?;
        req.headers_mut().insert(AUTHORIZATION, value);
        Some(generation)
    }

    /// Attaches a token, refreshing (or waiting for another request's refresh)
    /// first when needed; waits stop at `deadline`.
    pub(crate) async fn attach(
        &self,
        req: &mut Request,
        deadline: Option<Instant>,
    ) -> Result<Generation, Error> {
        let host = authority(req.url());
        let (secret, generation) = self
            .flight
            .obtain(deadline)
            .await
            .map_err(|e| e.into_error(host))?;
        // `Flight` installs only tokens that make a valid header; this cannot fail.
        let value = self.flight.header(&secret, generation).ok_or_else(|| {
            let why = "the token is not a valid HTTP header value".into();
            Error::refresh_failed(host, 0, why)
        })?;
        req.headers_mut().insert(AUTHORIZATION, value);
        Ok(generation)
    }

    /// A response to a request that carried generation `used` was classified
    /// `reauth`. Returns whether to replay the request once (a fresh token is
    /// ready); when none came, `refused` gets a [`RefreshFailure`](super::RefreshFailure)
    /// saying why. `can_replay` is false for the replay itself and for bodies that
    /// cannot be copied.
    pub(crate) async fn refused(
        &self,
        used: Generation,
        refused: &mut Response,
        can_replay: bool,
        is_replay: bool,
        deadline: Option<Instant>,
    ) -> bool {
        let host = authority(refused.url());
        if is_replay {
            // Returned as is; the new token stays in use until another 401.
            tracing::info!(target: "resile::auth", host, "the fresh token was refused too");
            return false;
        }
        let decision = self.flight.on_reauth(used);
        if !can_replay {
            tracing::debug!(
                target: "resile::auth",
                host,
                "token refused; the body cannot be replayed"
            );
            return false;
        }
        match self.flight.obtain(deadline).await {
            Ok(_) => {
                tracing::info!(target: "resile::auth", host, generation = used.get(), decision = ?decision, "token refused; replaying once");
                true
            }
            Err(no_token) => {
                let failure = no_token.into_failure(host);
                refused.extensions_mut().insert(failure);
                false
            }
        }
    }
}

impl fmt::Debug for AuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddleware")
            .field("hosts", &self.hosts)
            .field("flight", &self.flight)
            .field("classifier", &self.classifier)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

crate::driver::middleware!(AuthMiddleware, auth);
