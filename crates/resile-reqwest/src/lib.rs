//! reqwest-middleware adapters that act on [`resile_policy`] decisions.
//!
//! The policy crate decides — retry, re-authenticate, fix the request or give up,
//! and how long to wait; these middlewares act, inside the
//! [`reqwest_middleware::ClientBuilder`] stack you already have. Each works alone
//! (`.with(RetryMiddleware::new())`); [`Resilience`] configures all of them per
//! service, in code or from TOML.
//!
//! ```
//! use std::time::Duration;
//! use resile_reqwest::{EnvToken, PacingMiddleware, Resilience, RetryMiddleware};
//!
//! let resilience = Resilience::builder()
//!     .service("device-management", |s| {
//!         s.hosts(["api.us-east-1.mbedcloud.com"])
//!             .auth(EnvToken::new("DM_API_KEY"))
//!             .retry(RetryMiddleware::builder().deadline(Some(Duration::from_secs(20))))
//!             .pacing(PacingMiddleware::builder().per_second(4.try_into().unwrap()))
//!     })
//!     .build()?;
//! let client = resilience
//!     .service("device-management")
//!     .expect("configured above")
//!     // reqwest's own timeout becomes the per-attempt timeout (10 s by default)
//!     .build_client(reqwest::Client::builder())?;
//! // client.get("https://api.us-east-1.mbedcloud.com/v3/devices").send().await?
//! # let _ = client;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The layers
//!
//! | layer | acts on |
//! |---|---|
//! | [`RetryMiddleware`] | *retryable* outcomes: backoff with jitter, `Retry-After`, a per-host retry budget, a deadline, method safety |
//! | [`AuthMiddleware`] | attaches `Authorization: Bearer` to configured hosts only; refreshes ahead of expiry and, on a 401, once (single-flight) |
//! | [`BreakerMiddleware`] | one circuit breaker per host, fed only by host-scope server trouble |
//! | [`DeviceGateMiddleware`] | per-device in-flight cap and holds after a full queue or an unreachable device |
//! | [`PacingMiddleware`] | a per-host quota (GCRA) and a shared `Retry-After` hold |
//!
//! # Order
//!
//! Outermost first: **retry → auth → breaker → device gate → pacing → the network**.
//! Retry loops over attempts, so everything below runs once per attempt: each
//! attempt carries the freshest token, asks the host's breaker (a retry never
//! reaches a host whose circuit opened meanwhile), respects the device's hold and is
//! paced. Auth sits inside retry so a 401 is refreshed and replayed once within a
//! single attempt; pacing sits closest to the wire so only requests really sent are
//! paced. [`Service::middlewares`] returns them in this order. Layers share one
//! verdict per attempt: the innermost classifies (reading at most
//! [`body_limit`](RetryBuilder::body_limit) bytes of an error body, then handing the
//! body on intact) and the outer ones reuse it, so nothing is decided twice.
//!
//! # Errors
//!
//! What the layers originate (an open circuit, a held device, a credential that
//! could not be had, a deadline, a token kept off plain HTTP) is an [`Error`] inside
//! [`reqwest_middleware::Error::Middleware`]; find it with [`Error::find`]. Failures
//! of the network or the server are never wrapped: when retries run out, the last
//! response or `reqwest::Error` comes back unchanged, with [`Attempts`] (how
//! many, and the last one's classification) in its extensions.
//!
//! # Time
//!
//! Every wait uses `tokio::time` ([`TokioClock`]), so tests under
//! `#[tokio::test(start_paused = true)]` run a minute of backoff in microseconds.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `toml` | yes | [`Resilience::from_toml`] |
//! | `metrics` | no | counters and histograms through the `metrics` facade (`http.request.resend_count`, `resile.retries`, `resile.breaker.transitions`, ...) |
//!
//! Supported Rust: the workspace's `rust-version` (1.88) and newer.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod breaker;
mod clock;
mod device_gate;
mod driver;
mod error;
mod ext;
mod hosts;
mod pace;
mod parts;
mod retry;
mod seed;
mod service;
mod telemetry;

pub use auth::{
    AuthBuilder, AuthMiddleware, BoxError, EnvToken, FileToken, FnSource, RefreshEvent,
    RefreshFailure, RefreshTrigger, StaticToken, Token, TokenSource,
};
pub use breaker::{BreakerMiddleware, BreakerMiddlewareBuilder};
pub use clock::TokioClock;
pub use device_gate::{DeviceGateBuilder, DeviceGateMiddleware};
pub use error::Error;
pub use ext::{Attempts, Deadline};
pub use pace::{PacingBuilder, PacingMiddleware};
pub use retry::{RetryBuilder, RetryMiddleware};
pub use service::{
    AuthConfig, BackoffConfig, BreakerConfigToml, BudgetConfig, ConfigDuration, DeviceGateConfig,
    OptionalDuration, PacingConfig, Resilience, ResilienceBuilder, ResilienceConfig, RetryConfig,
    RoutesConfig, Service, ServiceBuilder, ServiceConfig, Stack,
};

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
