//! The three contenders, built the same way for every benchmark: no middleware,
//! reqwest-retry, and resile's full stack.

use std::sync::Arc;

use reqwest::Url;
use reqwest_middleware::{ClientBuilder, Middleware, RequestBuilder};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_policy::ConfigError;

use crate::scenario::BoxError;
use resile_reqwest::{Resilience, RetryMiddleware, Service, ServiceBuilder, StaticToken};

/// The token every contender sends (the simulator's static key, or any string for
/// a stub terminal).
pub const BENCH_TOKEN: &str = "ak_0123456789abcdef0123456789abcdef";

/// A client under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// A `ClientWithMiddleware` with no middleware.
    Bare,
    /// reqwest-retry's `RetryTransientMiddleware`, 3 retries with exponential
    /// backoff (its documented setup).
    ReqwestRetry,
    /// resile's full stack: retry, auth (a static token), breaker, device gate and
    /// pacing, every layer with its defaults.
    Resile,
}

impl Contender {
    /// Every contender, in table order.
    pub const ALL: [Self; 3] = [Self::Bare, Self::ReqwestRetry, Self::Resile];

    /// The name used in tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::ReqwestRetry => "reqwest-retry",
            Self::Resile => "resile",
        }
    }

    /// A client builder over a client built from `http` with this contender's
    /// layers; add the terminal (if any) and `build()`.
    ///
    /// resile builds its client the documented way, `Service::client_builder`
    /// (reqwest's own timeout set to the per-attempt timeout, 10 s, replacing
    /// any on `http`); the others build `http` as it is.
    ///
    /// `host` (`host[:port]`) is the one host resile's auth layer sends the token
    /// to; `loopback_http` lets it go over plain http to a loopback simulator.
    ///
    /// # Errors
    ///
    /// Only if resile's configuration is rejected (it is not, for any host) or
    /// reqwest cannot build the client.
    pub fn builder(
        self,
        http: reqwest::ClientBuilder,
        host: &str,
        loopback_http: bool,
    ) -> Result<ClientBuilder, BoxError> {
        Ok(match self {
            Self::Bare => ClientBuilder::new(http.build()?),
            Self::ReqwestRetry => {
                let policy = ExponentialBackoff::builder().build_with_max_retries(3);
                ClientBuilder::new(http.build()?)
                    .with(RetryTransientMiddleware::new_with_policy(policy))
            }
            Self::Resile => resile_service(host, loopback_http)?.client_builder(http)?,
        })
    }

    /// A GET of `url`; bare and reqwest-retry carry the token themselves, resile's
    /// auth layer adds it.
    pub fn get(
        self,
        client: &reqwest_middleware::ClientWithMiddleware,
        url: Url,
    ) -> RequestBuilder {
        let request = client.get(url);
        match self {
            Self::Resile => request,
            Self::Bare | Self::ReqwestRetry => request.bearer_auth(BENCH_TOKEN),
        }
    }
}

/// resile's full stack for one service on `host`, every layer at its defaults,
/// authenticating with [`BENCH_TOKEN`], jitter seeded.
///
/// # Errors
///
/// Only if the configuration is rejected.
pub fn resile_service(host: &str, loopback_http: bool) -> Result<Service, ConfigError> {
    resile_service_with(host, loopback_http, |s| s)
}

/// [`resile_service`] without the per-attempt timeout and the total deadline:
/// the features reqwest-retry does not have, for a like-for-like row. (reqwest
/// keeps a request's own timeout in the request's extensions: setting it costs
/// three allocations per request.)
///
/// # Errors
///
/// Only if the configuration is rejected.
pub fn resile_service_without_timeouts(host: &str) -> Result<Service, ConfigError> {
    resile_service_with(host, false, |s| {
        s.retry(
            RetryMiddleware::builder()
                .attempt_timeout(None)
                .deadline(None),
        )
    })
}

fn resile_service_with(
    host: &str,
    loopback_http: bool,
    tweak: impl FnOnce(ServiceBuilder) -> ServiceBuilder,
) -> Result<Service, ConfigError> {
    let resilience = Resilience::builder()
        .service("bench", |s| {
            tweak(
                s.hosts([host])
                    .allow_loopback_http(loopback_http)
                    .auth(StaticToken::new(BENCH_TOKEN))
                    .seed(7),
            )
        })
        .build()?;
    resilience
        .service("bench")
        .cloned()
        .ok_or_else(|| ConfigError::new("service", "the bench service was not built"))
}

/// Each of `service`'s layers alone, for the tables: its name (`"  retry only"`, …),
/// who carries the token (the auth layer adds it itself; the others need the
/// caller's, like bare) and the layer.
pub fn layers_alone(service: &Service) -> Vec<(String, Contender, Arc<dyn Middleware>)> {
    let names = ["retry", "auth", "breaker", "device gate", "pacing"];
    names
        .iter()
        .zip(service.middlewares())
        .map(|(name, layer)| {
            let token = if *name == "auth" {
                Contender::Resile
            } else {
                Contender::Bare
            };
            (format!("  {name} only"), token, layer)
        })
        .collect()
}
