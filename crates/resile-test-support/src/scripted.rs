//! The scripted terminal middleware.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Extensions;
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    delay: Duration,
    failure: Option<Failure>,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Connect,
    Reset,
}

impl Reply {
    /// A response with `status` and an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            failure: None,
        }
    }

    /// 200 with an empty body.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// A Device Management JSON error envelope.
    pub fn error(status: u16, error_type: &str) -> Self {
        let body = serde_json::json!({
            "object": "error", "code": status, "type": error_type,
            "message": "scripted", "request_id": "scripted-request",
        });
        Self::status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A genuine connect error (nothing sent).
    pub fn connect_refused() -> Self {
        Self {
            failure: Some(Failure::Connect),
            ..Self::status(0)
        }
    }

    /// A genuine "connection closed before message completed" error.
    pub fn reset() -> Self {
        Self {
            failure: Some(Failure::Reset),
            ..Self::status(0)
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers only after `delay` (tokio time).
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the terminal received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: http::Method,
    /// Full URL.
    pub url: reqwest::Url,
    /// Headers as sent.
    pub headers: http::HeaderMap,
    /// The body, when it was in memory.
    pub body: Option<Bytes>,
    /// When it arrived (tokio time).
    pub at: tokio::time::Instant,
    /// The request's own timeout, as the middlewares above left it.
    pub timeout: Option<Duration>,
}

type Responder = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A terminal middleware that answers from a script and records every request.
///
/// Clones share the script and the record, so a test keeps one and gives the other
/// to the client.
#[derive(Clone)]
pub struct Scripted {
    responder: Arc<Responder>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl fmt::Debug for Scripted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scripted")
            .field("received", &self.count())
            .finish_non_exhaustive()
    }
}

impl Scripted {
    /// Answers with `replies` in order; the last one repeats.
    pub fn sequence(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty(), "a script needs at least one reply");
        Self::from_fn(move |_, n| replies[n.min(replies.len() - 1)].clone())
    }

    /// Always the same reply.
    pub fn always(reply: Reply) -> Self {
        Self::from_fn(move |_, _| reply.clone())
    }

    /// Answers with `f(request, index)`, index counting requests from 0.
    pub fn from_fn(f: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            responder: Arc::new(f),
            received: Arc::default(),
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The gaps between consecutive requests.
    pub fn gaps(&self) -> Vec<Duration> {
        let r = self.received();
        r.windows(2).map(|w| w[1].at - w[0].at).collect()
    }

    /// A `ClientWithMiddleware` with `layers` and this terminal last.
    pub fn client(
        &self,
        layers: Vec<Arc<dyn Middleware>>,
    ) -> reqwest_middleware::ClientWithMiddleware {
        let mut b = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
        for l in layers {
            b = b.with_arc(l);
        }
        b.with(self.clone()).build()
    }
}

#[async_trait::async_trait]
impl Middleware for Scripted {
    async fn handle(
        &self,
        req: Request,
        _extensions: &mut Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let index = {
            let mut log = self.received.lock().unwrap_or_else(PoisonError::into_inner);
            log.push(Received {
                method: req.method().clone(),
                url: req.url().clone(),
                timeout: req.timeout().copied(),
                headers: req.headers().clone(),
                body: req
                    .body()
                    .and_then(|b| b.as_bytes())
                    .map(Bytes::copy_from_slice),
                at: tokio::time::Instant::now(),
            });
            log.len() - 1
        };
        let reply = (self.responder)(&req, index);
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        match reply.failure {
            Some(Failure::Connect) => return Err(crate::connect_error().await.into()),
            Some(Failure::Reset) => return Err(crate::reset_error().await.into()),
            None => {}
        }
        let mut b = http::Response::builder()
            .status(reply.status)
            .url(req.url().clone());
        for (k, v) in &reply.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let resp = b
            .body(reply.body)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        Ok(Response::from(resp))
    }
}
