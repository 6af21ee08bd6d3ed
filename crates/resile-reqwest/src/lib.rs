//! reqwest-middleware adapters that act on [`resile_policy`] decisions.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod breaker;
mod clock;
mod device_gate;
mod error;
mod ext;
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
pub use ext::{Attempts, Deadline, FinalClassification};
pub use pace::{PacingBuilder, PacingMiddleware};
pub use retry::{RetryBuilder, RetryMiddleware};
pub use service::{
    AuthConfig, BackoffConfig, BreakerConfigToml, BudgetConfig, ConfigDuration, DeviceGateConfig,
    OptionalDuration, PacingConfig, Resilience, ResilienceBuilder, ResilienceConfig, RetryConfig,
    RoutesConfig, Service, ServiceBuilder, ServiceConfig,
};
