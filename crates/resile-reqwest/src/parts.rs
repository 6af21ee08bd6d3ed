//! reqwest types → policy inputs: the one place that reads a response for a
//! classifier, and puts it back together untouched.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use reqwest::{Response, ResponseBuilderExt, Url};
use resile_policy::classify::{Input, Transport};
use resile_policy::{Classification, Classify, Clock};
use url::Position;

use crate::TokioClock;

/// `host[:port]` of a URL, borrowed (no user info): the key for per-host state
/// (breaker, budget, holds).
pub(crate) fn authority(url: &Url) -> &str {
    &url[Position::BeforeHost..Position::AfterPort]
}

/// The authority an attempt's result names: the response's URL, or the failed
/// request's (`None` for errors without one, such as another middleware's).
pub(crate) fn result_authority(result: &reqwest_middleware::Result<Response>) -> Option<&str> {
    match result {
        Ok(resp) => Some(authority(resp.url())),
        Err(reqwest_middleware::Error::Reqwest(e)) => e.url().map(authority),
        Err(_) => None,
    }
}

/// Classifies one attempt's result without reading a body: a response below 400
/// from its status and headers, a transport failure from its kind, `Some(None)`
/// for errors we do not classify (another middleware's, a builder error, ours).
/// `None` for a response of 400 or more, whose body must be read
/// ([`classify_result`]).
pub(crate) fn classify_now(
    classifier: &dyn Classify,
    method: &http::Method,
    result: &reqwest_middleware::Result<Response>,
) -> Option<Option<Classification>> {
    match result {
        Ok(resp) if resp.status().as_u16() < 400 => {
            Some(Some(classify_success(classifier, method, resp)))
        }
        Ok(_) => None,
        Err(reqwest_middleware::Error::Reqwest(e)) => Some(classify_error(classifier, method, e)),
        Err(_) => Some(None),
    }
}

/// Classifies any result, reading up to `body_limit` bytes of the body of a
/// response of 400 or more; the result comes back whole (see
/// [`classify_response`]).
pub(crate) async fn classify_result(
    classifier: &dyn Classify,
    method: &http::Method,
    result: reqwest_middleware::Result<Response>,
    body_limit: usize,
) -> (reqwest_middleware::Result<Response>, Option<Classification>) {
    match classify_now(classifier, method, &result) {
        Some(seen) => (result, seen),
        None => match result {
            Ok(resp) => {
                let (resp, seen) = classify_response(classifier, method, resp, body_limit).await;
                (Ok(resp), Some(seen))
            }
            Err(e) => (Err(e), None),
        },
    }
}

fn observed(outcome: &resile_policy::Outcome<'_>) -> Classification {
    outcome.classification()
}

/// Classifies a response below 400 from its status and headers (the body is
/// never read).
fn classify_success(
    classifier: &dyn Classify,
    method: &http::Method,
    resp: &Response,
) -> Classification {
    let status = resp.status().as_u16();
    let input = Input::response(method, resp.url().path(), status, resp.headers(), b"");
    observed(&classifier.classify(&input))
}

/// Classifies a response of 400 or more: reads up to `body_limit` bytes of the body
/// and rebuilds the response so the caller still gets every byte (or the error that
/// broke the body off).
pub(crate) async fn classify_response(
    classifier: &dyn Classify,
    method: &http::Method,
    resp: Response,
    body_limit: usize,
) -> (Response, Classification) {
    let status = resp.status().as_u16();
    let (resp, prefix, complete) = read_prefix(resp, body_limit).await;
    let path = resp.url().path();
    let mut input =
        Input::response(method, path, status, resp.headers(), &prefix).at(TokioClock.wall());
    if !complete {
        input = input.body_incomplete();
    }
    let seen = observed(&classifier.classify(&input));
    (resp, seen)
}

/// Classifies a failure of the HTTP client; `None` for errors that are not about
/// the transport (a bad URL, a redirect policy, a builder error).
pub(crate) fn classify_error(
    classifier: &dyn Classify,
    method: &http::Method,
    err: &reqwest::Error,
) -> Option<Classification> {
    let failure = transport_of(err)?;
    let path = err.url().map_or("", |u| u.path());
    Some(observed(
        &classifier.classify(&Input::transport(method, path, failure)),
    ))
}

/// Which transport row a `reqwest::Error` falls under.
///
/// A connect error (refused, DNS, TLS handshake, connect timeout) left no request
/// byte; a timeout otherwise may have been processed; anything else on the request
/// path (reset, incomplete message) too. reqwest cannot tell whether bytes were
/// written after a connect succeeded, so those count as sent (spec §6).
pub(crate) fn transport_of(err: &reqwest::Error) -> Option<Transport> {
    if err.is_builder() || err.is_redirect() || err.is_status() || err.is_decode() {
        return None;
    }
    Some(if err.is_connect() {
        Transport::Connect
    } else if err.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Reset
    })
}

/// Reads at most `limit` bytes of the body; returns the rebuilt response, the
/// prefix, and whether the body ended cleanly (or was merely longer than `limit`).
async fn read_prefix(resp: Response, limit: usize) -> (Response, Bytes, bool) {
    let url = resp.url().clone();
    let resp: http::Response<reqwest::Body> = resp.into();
    let (parts, mut body) = resp.into_parts();
    let mut buf = BytesMut::new();
    let rest = loop {
        if buf.len() >= limit {
            break Rest::More(body);
        }
        match body.frame().await {
            None => break Rest::Done,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => break Rest::Failed(e),
        }
    };
    let prefix = buf.freeze();
    let complete = !matches!(rest, Rest::Failed(_));
    let body = match rest {
        Rest::Done => reqwest::Body::from(prefix.clone()),
        rest => reqwest::Body::wrap(Replay {
            prefix: Some(prefix.clone()),
            rest,
        }),
    };
    let shell = http::Response::builder()
        .url(url)
        .body(())
        .unwrap_or_default();
    let mut rebuilt = http::Response::from_parts(parts, body);
    rebuilt
        .extensions_mut()
        .extend(shell.into_parts().0.extensions);
    let classified = prefix.slice(..prefix.len().min(limit));
    (Response::from(rebuilt), classified, complete)
}

enum Rest {
    Done,
    More(reqwest::Body),
    Failed(reqwest::Error),
}

/// A body that yields what was already read, then the rest (or the error that
/// broke it off).
struct Replay {
    prefix: Option<Bytes>,
    rest: Rest,
}

impl HttpBody for Replay {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        if let Some(prefix) = self.prefix.take().filter(|p| !p.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match std::mem::replace(&mut self.rest, Rest::Done) {
            Rest::Done => Poll::Ready(None),
            Rest::Failed(e) => Poll::Ready(Some(Err(e))),
            Rest::More(mut body) => {
                let polled = Pin::new(&mut body).poll_frame(cx);
                self.rest = Rest::More(body);
                polled
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        match &self.rest {
            Rest::More(body) => {
                let inner = body.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + prefix);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + prefix);
                }
                hint
            }
            _ => SizeHint::with_exact(prefix),
        }
    }
}
