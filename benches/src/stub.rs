//! [`Stub`]: a lean terminal middleware that answers without a network.

use http::{Extensions, StatusCode};
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next};

/// A terminal middleware answering every request with one canned status and an
/// empty body, recording nothing: the cheapest honest stand-in for a server, so a
/// benchmark measures the layers in front of it.
///
/// Put it last in a `reqwest_middleware::ClientBuilder`. With
/// [`yielding`](Self::yielding) it first yields to the tokio scheduler once, so
/// concurrent requests really are in flight together (every layer's state is held
/// across the yield), as they would be while waiting for a socket.
#[derive(Debug, Clone, Copy)]
pub struct Stub {
    status: StatusCode,
    yields: bool,
}

impl Stub {
    /// Answers `status` (an invalid code becomes 200).
    pub fn new(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            yields: false,
        }
    }

    /// 200 with an empty body.
    pub fn ok() -> Self {
        Self::new(200)
    }

    /// Yields once to the scheduler before answering.
    #[must_use]
    pub const fn yielding(mut self) -> Self {
        self.yields = true;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for Stub {
    async fn handle(
        &self,
        req: Request,
        _extensions: &mut Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if self.yields {
            tokio::task::yield_now().await;
        }
        // With its URL set, `Response::from` skips parsing a placeholder URL (which
        // would cost more than some layers under test).
        let resp = http::Response::builder()
            .status(self.status)
            .url(req.url().clone())
            .body(reqwest::Body::from(""))
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        Ok(Response::from(resp))
    }
}
