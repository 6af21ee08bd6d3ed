//! reqwest types → policy inputs: the one place that reads a response for a
//! classifier, and puts it back together untouched.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use reqwest::{Request, Response, ResponseBuilderExt, Url};
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

/// A copy of `req` to keep for a resend, or `None` for a body that cannot be
/// copied (a stream).
///
/// `Request::try_clone` builds, then throws away, an extensions map (three
/// allocations and their frees) even for a request that has none. A request
/// without a body, the common `GET`, is copied field by field instead: method,
/// URL, headers, version and timeout, which is all of a request that reqwest
/// 0.13 reads or lets anyone else read (its extensions are private and hold
/// only the timeout). A request with a body goes through `try_clone`, which
/// shares the body's bytes.
pub(crate) fn copy_request(req: &Request) -> Option<Request> {
    if req.body().is_some() {
        return req.try_clone();
    }
    let mut copy = Request::new(req.method().clone(), req.url().clone());
    if !req.headers().is_empty() {
        *copy.headers_mut() = req.headers().clone();
    }
    *copy.version_mut() = req.version();
    if let Some(timeout) = req.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderValue, Method, Version};

    use super::*;

    fn request(method: Method) -> Request {
        let url = "https://api.example.com:8443/v3/devices?limit=2#x"
            .parse()
            .unwrap();
        let mut req = Request::new(method, url);
        let headers = req.headers_mut();
        headers.append("accept", HeaderValue::from_static("application/json"));
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        *req.version_mut() = Version::HTTP_2;
        req
    }

    /// Everything of a request that reqwest or a caller can read.
    fn seen(req: &Request) -> String {
        let body = req.body().map(|b| b.as_bytes().map(<[u8]>::to_vec));
        format!(
            "{} {} {:?} {:?} {:?} {body:?}",
            req.method(),
            req.url(),
            req.headers(),
            req.version(),
            req.timeout(),
        )
    }

    #[test]
    fn a_copy_is_what_try_clone_makes() {
        let mut timed = request(Method::DELETE);
        *timed.timeout_mut() = Some(Duration::from_millis(1500));
        let mut with_body = request(Method::POST);
        *with_body.body_mut() = Some(reqwest::Body::from("{\"a\":1}"));
        for req in [request(Method::GET), timed, with_body] {
            let copy = copy_request(&req).expect("copyable");
            let cloned = req.try_clone().expect("cloneable");
            assert_eq!(seen(&copy), seen(&cloned));
            assert_eq!(seen(&copy), seen(&req));
        }
        let mut stream = request(Method::PUT);
        let full = http_body_util::Full::new(Bytes::from_static(b"stream"));
        *stream.body_mut() = Some(reqwest::Body::wrap(full));
        assert!(copy_request(&stream).is_none());
    }
}
