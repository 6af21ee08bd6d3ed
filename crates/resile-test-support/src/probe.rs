//! [`FutureSize`]: measures how big the next layer's future is.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

/// A pass-through middleware that records the size in bytes of the future the
/// next layer returns for a request: the state that layer keeps per request in
/// flight (heap-allocated by `async_trait`, and moved into place on every call).
/// Put it directly in front of the layer to measure.
#[derive(Debug, Clone, Default)]
pub struct FutureSize(Arc<AtomicUsize>);

impl FutureSize {
    /// The size seen on the latest request (0 before any).
    pub fn bytes(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl Middleware for FutureSize {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let future = next.run(req, extensions);
        self.0
            .store(std::mem::size_of_val(&*future), Ordering::Relaxed);
        future.await
    }
}
