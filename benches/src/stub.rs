//! [`Stub`]: a lean terminal middleware that answers without a network.

use http::{Extensions, StatusCode};
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};

use crate::clients::Contender;
use crate::scenario::BoxError;

/// The host the stub benches send to (resile's auth layer attaches its token there).
pub const HOST: &str = "api.bench.test";

/// The URL the stub benches GET: one device's own route.
pub const URL: &str = "https://api.bench.test/v3/devices/0161b8e8a2d10a580a01020300000000";

/// `contender`'s client for [`HOST`], built as [`Contender::builder`] builds it,
/// ending in [`Stub::ok`].
///
/// # Errors
///
/// Only if resile's configuration is rejected or reqwest cannot build the client.
pub fn client(contender: Contender) -> Result<ClientWithMiddleware, BoxError> {
    Ok(contender
        .builder(reqwest::Client::builder(), HOST, false)?
        .with(Stub::ok())
        .build())
}

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
