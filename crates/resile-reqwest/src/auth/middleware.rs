//! The auth middleware: attach, refresh, replay once.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::Extensions;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use reqwest::{Request, Response};
use resile_policy::auth::{Attach, Generation};
use resile_policy::{Classify, HostAllowList, Secret};

use super::failure::bearer;
use super::flight::Flight;
use super::{AuthBuilder, TokenSource};
use crate::chain::{Inner, Layer, middleware_from_layer};
use crate::ext::{Scratch, scratch};
use crate::parts::{authority, run_and_observe};
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
    /// The `Authorization` value of the current token, built once per generation
    /// (cloning a `HeaderValue` shares its bytes).
    header: Mutex<Option<(Generation, HeaderValue)>>,
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
            header: Mutex::new(None),
        }
    }

    /// The header for `secret` (generation `generation`), from the cache if built.
    fn header(
        &self,
        secret: &Secret,
        generation: Generation,
        host: &str,
    ) -> Result<HeaderValue, Error> {
        let mut cached = self.header.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, value)) = cached.as_ref().filter(|(g, _)| *g == generation) {
            return Ok(value.clone());
        }
        // `Flight` installs only tokens that make a valid header; this cannot fail.
        let value = bearer(secret).ok_or_else(|| {
            let why = "the token is not a valid HTTP header value".into();
            Error::refresh_failed(host, 0, why)
        })?;
        *cached = Some((generation, value.clone()));
        Ok(value)
    }

    /// Tokens installed so far (successful calls to the source).
    pub fn refreshes(&self) -> u64 {
        self.flight.refreshes()
    }

    async fn run(
        &self,
        mut req: Box<Request>,
        ext: &mut Extensions,
        next: &impl Inner,
    ) -> reqwest_middleware::Result<Response> {
        let host = authority(req.url());
        let deadline = crate::ext::deadline(ext);
        let (secret, used) = self
            .flight
            .obtain(deadline)
            .await
            .map_err(|e| e.into_error(host))?;
        // Who resends after a 401: the retry layer above (it holds the original), or
        // this layer from a copy; and nobody if this attempt is already the resend.
        let (outer, is_replay) = ext
            .get::<Scratch>()
            .map_or((false, false), |s| (s.outer_replay, s.is_replay));
        let replay = if outer || is_replay {
            None
        } else {
            req.try_clone().map(Box::new)
        };
        let value = self.header(&secret, used, host)?;
        req.headers_mut().insert(AUTHORIZATION, value);
        let classifier = self.classifier.as_ref();
        let (result, seen) = run_and_observe(next, req, ext, classifier, self.body_limit).await;
        if !seen.is_some_and(|s| s.classification.is_reauth()) {
            return result;
        }
        let Ok(mut refused) = result else {
            return result;
        };
        let decision = self.flight.on_reauth(used);
        if is_replay {
            tracing::info!(target: "resile::auth", host = authority(refused.url()), "the fresh token was refused too");
            return Ok(refused);
        }
        if outer {
            match self.flight.obtain(deadline).await {
                Ok(_) => {
                    tracing::info!(target: "resile::auth", host = authority(refused.url()), generation = used.get(), decision = ?decision, "token refused; replaying once");
                    scratch(ext).replay_requested = true;
                }
                Err(no_token) => {
                    let failure = no_token.into_failure(authority(refused.url()));
                    refused.extensions_mut().insert(failure);
                }
            }
            return Ok(refused);
        }
        let Some(mut again) = replay else {
            tracing::debug!(
                target: "resile::auth",
                host = authority(refused.url()),
                "token refused; the body cannot be replayed"
            );
            return Ok(refused);
        };
        // The request went down the chain; its copy still names the host.
        let host = authority(again.url()).to_owned();
        let host = host.as_str();
        tracing::info!(
            target: "resile::auth",
            host,
            generation = used.get(),
            decision = ?decision,
            "token refused; replaying once"
        );
        match self.flight.obtain(deadline).await {
            Ok((secret, generation)) => {
                drop(refused);
                again
                    .headers_mut()
                    .insert(AUTHORIZATION, self.header(&secret, generation, host)?);
                run_and_observe(next, again, ext, classifier, self.body_limit)
                    .await
                    .0
            }
            Err(no_token) => {
                let failure = no_token.into_failure(host);
                refused.extensions_mut().insert(failure);
                Ok(refused)
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

middleware_from_layer!(AuthMiddleware);

impl Layer for AuthMiddleware {
    async fn call<I: Inner>(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
        next: &I,
    ) -> reqwest_middleware::Result<Response> {
        let host = authority(req.url());
        match self.hosts.may_attach(req.url().scheme(), host) {
            Attach::NotConfigured => next.run(req, ext).await,
            Attach::RefuseInsecure => {
                tracing::warn!(
                    target: "resile::auth",
                    host,
                    "refusing to send a token over plain http"
                );
                telemetry::rejected(host, "insecure_transport");
                Err(Error::insecure_transport(host).into())
            }
            Attach::Token => self.run(req, ext, next).await,
        }
    }
}
