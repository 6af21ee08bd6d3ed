//! reqwest-middleware adapters that act on [`resile_policy`] decisions.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod clock;
mod error;
mod ext;
mod pace;
mod parts;
mod retry;
mod seed;
mod telemetry;

pub use auth::{
    AuthBuilder, AuthMiddleware, BoxError, EnvToken, FileToken, FnSource, RefreshEvent,
    RefreshFailure, RefreshTrigger, StaticToken, Token, TokenSource,
};
pub use clock::TokioClock;
pub use error::Error;
pub use ext::{Attempts, Deadline, FinalClassification};
pub use pace::{PacingBuilder, PacingMiddleware};
pub use retry::{RetryBuilder, RetryMiddleware};
