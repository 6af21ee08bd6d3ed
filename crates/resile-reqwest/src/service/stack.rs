//! A service's layers as one middleware.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
/// It behaves like adding the layers one by one with `.with(…)`, sharing their
/// state, but runs them in one pass: one boxed future per request instead of one
/// per layer, one classification per attempt for all layers, one copy of the
/// request (the auth layer's 401 replay resends the retry layer's copy), and the
/// retry layer's deadline bounds every wait inside it. Added one by one, each
/// layer works alone: it classifies for itself, the auth layer keeps its own copy,
/// and the inner layers see only a [`Deadline`](crate::Deadline) extension.
/// [`Service::client`](super::Service::client) and
/// [`Service::attach`](super::Service::attach) use it.
#[derive(Debug, Clone)]
pub struct Stack {
    pub(super) retry: Option<Arc<RetryMiddleware>>,
    pub(super) auth: Option<Arc<AuthMiddleware>>,
    pub(super) breaker: Option<Arc<BreakerMiddleware>>,
    pub(super) device_gate: Option<Arc<DeviceGateMiddleware>>,
    pub(super) pacing: Option<Arc<PacingMiddleware>>,
    pub(super) client_timeout: Option<Duration>,
}

impl Stack {
    /// Tells the stack that the `reqwest::Client` beneath it was built with
    /// `reqwest::ClientBuilder::timeout(timeout)`, so an attempt whose limit is
    /// that long or longer needs no timeout of its own: the client applies
    /// `timeout` to it.
    ///
    /// reqwest keeps a request's own timeout in a map allocated per request
    /// (three allocations). With the defaults (10 s per attempt, 30 s deadline)
    /// and a client built with the per-attempt timeout, only an attempt closer
    /// than 10 s to its deadline gets a timeout of its own.
    /// [`Service::build_client`](super::Service::build_client) and
    /// [`Service::client_builder`](super::Service::client_builder) set both.
    ///
    /// Only say so of a client built that way: an attempt would otherwise run
    /// with no time limit at all.
    #[must_use]
    pub fn with_client_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.client_timeout = timeout;
        self
    }
}

impl Middleware for Stack {
    // What `#[async_trait]` would write, minus its second copy of the arguments:
    // the driver's future is boxed as it is.
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        ext: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let layers = Layers {
            retry: self.retry.as_deref(),
            auth: self.auth.as_deref(),
            breaker: self.breaker.as_deref(),
            gate: self.device_gate.as_deref(),
            pacing: self.pacing.as_deref(),
            client_timeout: self.client_timeout,
        };
        layers.handle(req, ext, next)
    }
}
