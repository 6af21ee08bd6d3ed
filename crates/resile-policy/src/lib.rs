//! Sans-I/O resilience decisions for HTTP API clients.
//!
//! `resile-policy` decides; it never sends, sleeps or spawns. Give it what happened
//! (a status, headers, a bounded body prefix, or a transport failure) and the current
//! time, and it answers with plain values: a [`Classification`] saying whether to
//! **retry**, **re-authenticate**, **fix the request** or treat it as **fatal**, and
//! how long to wait, whether the retry budget allows it, whether the host's circuit is
//! open, whether a token needs refreshing. `resile-reqwest` acts on those answers.
//!
//! No tokio, no reqwest, no `async`: everything here runs in a plain unit test, and
//! time and randomness come in through [`Clock`] and [`Rng`], so tests replay exactly.
//!
//! The classification follows the Device Management error model (status first, then
//! the body's `type` or plain-text token, device routes apart from host routes); see
//! [`classify`] for the rules and [`DefaultClassifier`] for the table.
//!
//! Supported Rust: the workspace's `rust-version` (1.88) and newer.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod backoff;
pub mod breaker;
mod budget;
pub mod classify;
mod clock;
mod error;
mod origin;
mod registry;
pub mod retry;
mod rng;

pub use auth::{HostAllowList, Secret, SecretKind, TokenPolicy, TokenState};
pub use backoff::{ExponentialBackoff, Jitter};
pub use breaker::{BreakerConfig, CircuitBreaker};
pub use budget::{RetryBudget, RetryBudgetBuilder};
pub use classify::{
    Class, Classification, Classify, DefaultClassifier, HostSignal, Outcome, Reason, Scope,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ConfigError;
pub use registry::{Evict, Registry};
pub use retry::{RetryDecision, RetryPolicy};
pub use rng::{DefaultRng, Rng};
