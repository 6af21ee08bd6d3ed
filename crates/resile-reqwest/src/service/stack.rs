//! A service's layers as one middleware.

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::chain::{Chain, Inner};
use crate::{
    AuthMiddleware, BreakerMiddleware, DeviceGateMiddleware, PacingMiddleware, RetryMiddleware,
};

/// A service's layers as **one** middleware, in the documented order (retry → auth
/// → breaker → device gate → pacing).
///
/// It behaves exactly like adding the layers one by one with `.with(…)`, sharing
/// their state, but calls them directly: one boxed future per request instead of
/// one per layer. [`Service::client`](super::Service::client) and
/// [`Service::attach`](super::Service::attach) use it.
#[derive(Debug, Clone)]
pub struct Stack {
    pub(super) retry: Option<Arc<RetryMiddleware>>,
    pub(super) auth: Option<Arc<AuthMiddleware>>,
    pub(super) breaker: Option<Arc<BreakerMiddleware>>,
    pub(super) device_gate: Option<Arc<DeviceGateMiddleware>>,
    pub(super) pacing: Option<Arc<PacingMiddleware>>,
}

impl Stack {
    async fn run(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
        next: &impl Inner,
    ) -> reqwest_middleware::Result<Response> {
        let pacing = Chain {
            layer: self.pacing.as_deref(),
            inner: next,
        };
        let gate = Chain {
            layer: self.device_gate.as_deref(),
            inner: &pacing,
        };
        let breaker = Chain {
            layer: self.breaker.as_deref(),
            inner: &gate,
        };
        let auth = Chain {
            layer: self.auth.as_deref(),
            inner: &breaker,
        };
        let retry = Chain {
            layer: self.retry.as_deref(),
            inner: &auth,
        };
        retry.run(req, ext).await
    }
}

#[async_trait::async_trait]
impl Middleware for Stack {
    async fn handle(
        &self,
        req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.run(Box::new(req), ext, &next).await
    }
}
