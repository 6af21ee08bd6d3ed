//! A service's layers as one middleware.

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::driver::Layers;
use crate::{
    AuthMiddleware, BreakerMiddleware, DeviceGateMiddleware, PacingMiddleware, RetryMiddleware,
};

/// A service's layers as **one** middleware, in the documented order (retry → auth
/// → breaker → device gate → pacing).
///
/// It behaves exactly like adding the layers one by one with `.with(…)`, sharing
/// their state, but runs them in one pass: one boxed future per request instead of
/// one per layer, and one classification per attempt. [`Service::client`](super::Service::client) and
/// [`Service::attach`](super::Service::attach) use it.
#[derive(Debug, Clone)]
pub struct Stack {
    pub(super) retry: Option<Arc<RetryMiddleware>>,
    pub(super) auth: Option<Arc<AuthMiddleware>>,
    pub(super) breaker: Option<Arc<BreakerMiddleware>>,
    pub(super) device_gate: Option<Arc<DeviceGateMiddleware>>,
    pub(super) pacing: Option<Arc<PacingMiddleware>>,
}

#[async_trait::async_trait]
impl Middleware for Stack {
    async fn handle(
        &self,
        req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let layers = Layers {
            retry: self.retry.as_deref(),
            auth: self.auth.as_deref(),
            breaker: self.breaker.as_deref(),
            gate: self.device_gate.as_deref(),
            pacing: self.pacing.as_deref(),
        };
        layers.handle(req, ext, next).await
    }
}
