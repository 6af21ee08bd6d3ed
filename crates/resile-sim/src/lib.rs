//! A fault-injecting simulator of the Device Management REST API.
//!
//! `resile-sim` is a real HTTP/1.1 server on loopback that speaks the API's routes and
//! answers with its **real error bodies and dialects**: the JSON envelope
//! (`{"object":"error","code":503,"type":"system_unavailable",...}`), Connect's plain-text
//! tokens (`QUEUE_IS_FULL`), a load balancer's HTML page, empty bodies, resets and
//! truncated responses. Faults sit on a [`Timeline`] measured from start, target some
//! requests and fire with a probability drawn from a seed, so a run can be replayed. Point
//! any HTTP client at [`SimHandle::base_url`] to rehearse an outage; [`Stats`] then say
//! what the client did, including **duplicate executions** caused by retrying a POST
//! whose response was lost.
//!
//! ```no_run
//! use std::time::Duration;
//! use resile_sim::{Fault, Sim, TimedFault};
//!
//! # async fn run() -> Result<(), resile_sim::SimError> {
//! let sim = Sim::builder()
//!     .seed(42)
//!     .devices(10)
//!     .fault(
//!         TimedFault::new(Fault::Outage { status: 503 })
//!             .between(Duration::from_millis(100), Duration::from_millis(400)),
//!     )
//!     .start()
//!     .await?;
//! let url = format!("{}/v3/devices?limit=5", sim.base_url());
//! let auth = format!("Bearer {}", sim.api_key());
//! // ... send requests with any client ...
//! # let _ = (url, auth);
//! println!("{} requests, {} during the outage", sim.stats().total(), sim.stats().during_outage);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! Every API route needs `Authorization: Bearer <token or API key>`: a missing or
//! malformed header gets 401 `invalid_auth`, an unknown or expired token 401
//! `invalid_token`, an unknown `ak_` key 401 `invalid_apikey`. Every response has a
//! unique `X-Request-ID`, repeated in error envelopes as `request_id`.
//!
//! | route | answers |
//! |---|---|
//! | `POST /__sim/token` | 200 `{"access_token":"rt_...","token_type":"bearer","expires_in":..}` (no auth) |
//! | `GET /v3/devices?limit=N&after=ID` | 200 list page (`limit` 2 to 1000, default 50; else 400 `validation_error`) |
//! | `GET /v3/devices/{id}` | 200 device, 404 `not_found` |
//! | `POST /v3/devices` `{"id"?,"name"}` | 201; 409 `duplicate`; 403 `account_limit_exceeded` past the cap; 400 `validation_error` |
//! | `POST /v2/device-requests/{id}?async-id=..` | 202; 400 `QUEUE_IS_FULL`, `DEVICE_NOT_CONNECTED` (or 502 HTML), `MALFORMED_ASYNC_ID`, `MALFORMED_JSON_CONTENT`; 404 `DEVICE_NOT_FOUND` (plain text) |
//! | `GET /__sim/stats` | 200 [`Stats`] as JSON (no auth) |
//! | `POST /__sim/reset` | 200; starts over as [`SimHandle::reset`] (no auth) |
//! | anything else | 404 `unrecognized_request`; a known path with another method 405 `method_not_supported` |
//!
//! Bodies over 1 MiB (configurable) get 413.
//!
//! # Scenarios
//!
//! [`Scenario::from_name`] gives a preset by name ([`Scenario::names`] lists them):
//! `ok`, `flaky`, `outage-503`, `outage-500`, `storm`, `stale-token`, `quota-429`,
//! `account-limit`, `queue-full` and `demo`. [`Scenario`] documents each one's parameters.
//!
//! # Determinism
//!
//! Fault draws depend on the seed, the request's sequence number and the fault's place on
//! the timeline; tokens and request ids on the seed and a counter. The same seed and the
//! same request order (one client, sequential requests) give the same answers; timing
//! still matters for windows, queue draining and token lifetimes, which run on real
//! (tokio) time since this is a real socket server.
//!
//! This crate never uses `resile-policy`: a simulator that shared the client's classifier
//! could not catch its mistakes.
//!
//! Supported Rust: the workspace's `rust-version` (1.88) and newer.

mod auth;
mod body;
mod builder;
mod error;
mod faults;
mod fleet;
mod handle;
mod plan;
mod query;
mod rng;
mod routes;
mod scenario;
mod server;
mod service;
mod state;
mod stats;
mod timeline;

pub use builder::{DEFAULT_API_KEY, Offline, Sim, SimBuilder};
pub use error::SimError;
pub use faults::{Fault, FaultKind, Lost};
pub use handle::SimHandle;
pub use routes::RouteKind;
pub use scenario::Scenario;
pub use stats::Stats;
pub use timeline::{Target, TimedFault, Timeline};
