//! Static composition of the layers: the whole stack behind one boxed future.
//!
//! Each `reqwest_middleware::Middleware` call boxes its future (the trait uses
//! `async_trait`), so five layers cost five allocations and five moves of their
//! state on every request. Every layer here is written once, generic over what lies
//! below it ([`Inner`]): either reqwest-middleware's `Next` (the layer used alone)
//! or the next resile layer, called directly. [`Stack`](crate::Stack) chains them
//! so the whole stack is one future.
//!
//! The request travels boxed (`Box<Request>`, 8 bytes instead of 264): every
//! nested future keeps its arguments for its whole life, so a request passed by
//! value would be stored once per level, and copied with each future.

use std::future::Future;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::Next;

/// What lies below a layer.
pub(crate) trait Inner: Send + Sync {
    /// Sends `req` through the rest of the chain.
    fn run<'a>(
        &'a self,
        req: Box<Request>,
        ext: &'a mut Extensions,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a;
}

impl Inner for Next<'_> {
    fn run<'a>(
        &'a self,
        req: Box<Request>,
        ext: &'a mut Extensions,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        self.clone().run(*req, ext)
    }
}

/// A resile layer, generic over what lies below it.
pub(crate) trait Layer: Send + Sync {
    /// Handles `req`, sending it (perhaps several times) through `next`.
    fn call<'a, I: Inner>(
        &'a self,
        req: Box<Request>,
        ext: &'a mut Extensions,
        next: &'a I,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a;
}

/// `layer` (if enabled) in front of `inner`.
pub(crate) struct Chain<'c, L, I> {
    pub(crate) layer: Option<&'c L>,
    pub(crate) inner: &'c I,
}

impl<L: Layer, I: Inner> Inner for Chain<'_, L, I> {
    async fn run(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
    ) -> reqwest_middleware::Result<Response> {
        match self.layer {
            Some(layer) => layer.call(req, ext, self.inner).await,
            None => self.inner.run(req, ext).await,
        }
    }
}

/// Implements `reqwest_middleware::Middleware` for a [`Layer`] used alone.
macro_rules! middleware_from_layer {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl reqwest_middleware::Middleware for $ty {
            async fn handle(
                &self,
                req: reqwest::Request,
                ext: &mut http::Extensions,
                next: reqwest_middleware::Next<'_>,
            ) -> reqwest_middleware::Result<reqwest::Response> {
                crate::chain::Layer::call(self, Box::new(req), ext, &next).await
            }
        }
    };
}

pub(crate) use middleware_from_layer;
