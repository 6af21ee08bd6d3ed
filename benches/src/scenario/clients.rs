//! The three contenders, each with the [`Recorder`] innermost.

use std::num::NonZeroU32;
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_reqwest::{
    BreakerMiddleware, FnSource, PacingBuilder, Resilience, RetryMiddleware, Service, Token,
};
use serde::Serialize;

use super::BoxError;
use super::recorder::Recorder;

/// Which client a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// `reqwest` through an empty middleware stack: one attempt per request.
    Bare,
    /// `reqwest-retry`'s `RetryTransientMiddleware` with
    /// `ExponentialBackoff::builder().build_with_max_retries(3)`, its documented setup.
    ReqwestRetry,
    /// resile's full stack from the [`Resilience`] builder, every default kept except
    /// the deadline and per-attempt timeout (the same as the harness gives the others).
    Resile,
}

impl ClientKind {
    /// The three, in table order.
    pub const ALL: [Self; 3] = [Self::Bare, Self::ReqwestRetry, Self::Resile];

    /// The column header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::ReqwestRetry => "reqwest-retry",
            Self::Resile => "resile",
        }
    }
}

/// A built client plus what the run reads back from it.
#[derive(Debug, Clone)]
pub struct Contender {
    /// Which one.
    pub kind: ClientKind,
    /// The client, [`Recorder`] innermost.
    pub client: ClientWithMiddleware,
    /// A token fetched once before the run and sent on every request (bare and
    /// reqwest-retry: they have no way to refresh it), or `None` (resile's auth layer).
    pub bearer: Option<String>,
    /// resile's service, to read its layers' counters.
    pub service: Option<Service>,
}

/// The limits every contender gets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    /// reqwest's timeout per attempt (resile: its retry layer's attempt timeout).
    pub attempt_timeout: Duration,
    /// resile's deadline per logical request (the harness cancels every client's
    /// logical request at the same deadline).
    pub deadline: Duration,
    /// Seed of resile's jitter.
    pub seed: u64,
    /// A per-host quota for resile's pacing layer (requests per second), or `None`
    /// for its default (no quota). Off in the published matrix: a what-if knob.
    pub resile_quota: Option<NonZeroU32>,
    /// The breaker's first open duration for resile, or `None` for its default
    /// (5 s). Off in the published matrix: a what-if knob.
    pub resile_break: Option<Duration>,
}

fn http(limits: Limits) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(limits.attempt_timeout)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap_or_default()
}

/// Asks the simulator's token endpoint for an access token and its lifetime.
pub async fn fetch_token(
    http: &reqwest::Client,
    base: &str,
) -> Result<(String, Option<Duration>), BoxError> {
    let bytes = http
        .post(format!("{base}/__sim/token"))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    let token = v["access_token"]
        .as_str()
        .ok_or("the token endpoint sent no access_token")?
        .to_owned();
    Ok((token, v["expires_in"].as_u64().map(Duration::from_secs)))
}

/// Builds `kind` for the simulator at `base` (`http://127.0.0.1:PORT`).
pub async fn build(kind: ClientKind, base: &str, limits: Limits) -> Result<Contender, BoxError> {
    let builder = ClientBuilder::new(http(limits));
    let (client, bearer, service) = match kind {
        ClientKind::Bare => {
            let (token, _) = fetch_token(&reqwest::Client::new(), base).await?;
            (builder.with(Recorder).build(), Some(token), None)
        }
        ClientKind::ReqwestRetry => {
            let (token, _) = fetch_token(&reqwest::Client::new(), base).await?;
            let policy = ExponentialBackoff::builder().build_with_max_retries(3);
            let client = builder
                .with(RetryTransientMiddleware::new_with_policy(policy))
                .with(Recorder)
                .build();
            (client, Some(token), None)
        }
        ClientKind::Resile => {
            let service = resile_service(base, limits)?;
            (
                service.attach(builder).with(Recorder).build(),
                None,
                Some(service),
            )
        }
    };
    Ok(Contender {
        kind,
        client,
        bearer,
        service,
    })
}

/// resile's stack for the simulator: the documented defaults, plus the simulator's
/// host, plain http on loopback, tokens from its token endpoint, the harness's
/// deadline and attempt timeout, and a fixed seed.
fn resile_service(base: &str, limits: Limits) -> Result<Service, BoxError> {
    let authority = base.trim_start_matches("http://").to_owned();
    let token_http = reqwest::Client::new();
    let token_base = base.to_owned();
    let source = FnSource::new(move || {
        let (http, base) = (token_http.clone(), token_base.clone());
        async move {
            let (secret, lifetime) = fetch_token(&http, &base).await?;
            let token = Token::new(secret);
            Ok::<_, BoxError>(match lifetime {
                Some(l) => token.expires_in(l),
                None => token,
            })
        }
    });
    let breaker = match limits.resile_break {
        Some(d) => Some(BreakerMiddleware::config_builder().open_for(d).config()?),
        None => None,
    };
    let resilience = Resilience::builder()
        .service("device-management", |s| {
            let s = match limits.resile_quota {
                Some(n) => s.pacing(PacingBuilder::default().per_second(n)),
                None => s,
            };
            let s = match breaker {
                Some(config) => s.breaker(config),
                None => s,
            };
            s.hosts([authority])
                .allow_loopback_http(true)
                .auth(source)
                .retry(
                    RetryMiddleware::builder()
                        .deadline(Some(limits.deadline))
                        .attempt_timeout(Some(limits.attempt_timeout)),
                )
                .seed(limits.seed)
        })
        .build()?;
    resilience
        .service("device-management")
        .cloned()
        .ok_or_else(|| "the service just configured is missing".into())
}
