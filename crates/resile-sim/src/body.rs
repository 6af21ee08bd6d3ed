//! Replies in the API's wire dialects (JSON envelope, plain-text token, HTML page,
//! empty body) and the response body type, which can also break off on purpose.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Value, json};

/// What a handler answers, before the request id and transport faults are applied.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) payload: Payload,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// A reply's body, in one of the API's dialects.
#[derive(Debug)]
pub(crate) enum Payload {
    /// A JSON document (success bodies).
    Json(Value),
    /// The standard error envelope; `request_id` is filled in when the reply is sent.
    Error {
        kind: &'static str,
        message: String,
        fields: Vec<(String, String)>,
    },
    /// A Connect plain-text token such as `QUEUE_IS_FULL`.
    Token(&'static str),
    /// A load balancer's HTML page.
    Html(&'static str),
    /// Zero bytes.
    Empty,
}

impl Reply {
    /// A reply with no extra headers.
    pub(crate) const fn new(status: StatusCode, payload: Payload) -> Self {
        Self {
            status,
            payload,
            headers: Vec::new(),
        }
    }

    /// A JSON success body.
    pub(crate) const fn json(status: StatusCode, value: Value) -> Self {
        Self::new(status, Payload::Json(value))
    }

    /// The standard error envelope with type `kind`.
    pub(crate) fn error(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            status,
            Payload::Error {
                kind,
                message: message.into(),
                fields: Vec::new(),
            },
        )
    }

    /// A 400 `validation_error` naming the offending field.
    pub(crate) fn validation(field: &str, problem: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Payload::Error {
                kind: "validation_error",
                message: format!("Validation error: {problem}"),
                fields: vec![(field.to_owned(), problem.to_owned())],
            },
        )
    }

    /// A plain-text token body, as the Connect API sends.
    pub(crate) const fn token(status: StatusCode, token: &'static str) -> Self {
        Self::new(status, Payload::Token(token))
    }

    /// A load balancer's HTML page for `status` (502, 503 or 504).
    pub(crate) fn html(status: StatusCode) -> Self {
        let page = match status.as_u16() {
            502 => HTML_502,
            504 => HTML_504,
            _ => HTML_503,
        };
        Self::new(status, Payload::Html(page))
    }

    /// The envelope's `type`, when this reply is an error envelope.
    pub(crate) const fn error_type(&self) -> Option<&'static str> {
        match self.payload {
            Payload::Error { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The HTTP response, carrying `request_id` in the envelope and in `X-Request-ID`.
    /// With `truncate`, `Content-Length` promises more than the body delivers and the
    /// connection breaks off after half of it.
    pub(crate) fn into_response(self, request_id: &str, truncate: bool) -> Response<SimBody> {
        let (content_type, bytes) = self.payload.render(self.status, request_id);
        let mut builder = Response::builder()
            .status(self.status)
            .header("x-request-id", request_id);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let body = if truncate {
            let promised = bytes.len().max(16);
            builder = builder.header(CONTENT_LENGTH, promised);
            SimBody::Truncated {
                part: Some(bytes.slice(..bytes.len() / 2)),
                paused: false,
            }
        } else {
            SimBody::Full(Some(bytes))
        };
        builder.body(body).unwrap_or_else(|_| {
            let mut fallback = Response::new(SimBody::Full(None));
            *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
    }
}

impl Payload {
    fn render(self, status: StatusCode, request_id: &str) -> (Option<&'static str>, Bytes) {
        match self {
            Self::Json(value) => (Some(JSON), Bytes::from(value.to_string())),
            Self::Error {
                kind,
                message,
                fields,
            } => {
                let fields: Vec<Value> = fields
                    .into_iter()
                    .map(|(name, message)| json!({ "name": name, "message": message }))
                    .collect();
                let body = json!({
                    "object": "error",
                    "code": status.as_u16(),
                    "type": kind,
                    "message": message,
                    "fields": fields,
                    "request_id": request_id,
                });
                (Some(JSON), Bytes::from(body.to_string()))
            }
            Self::Token(token) => (Some("text/plain"), Bytes::from_static(token.as_bytes())),
            Self::Html(page) => (Some("text/html"), Bytes::from_static(page.as_bytes())),
            Self::Empty => (None, Bytes::new()),
        }
    }
}

const JSON: &str = "application/json";
const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
const HTML_503: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n";
const HTML_504: &str = "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n";

/// The simulator's response body: whole, or cut short on purpose.
#[derive(Debug)]
pub(crate) enum SimBody {
    /// The complete body, sent in one frame.
    Full(Option<Bytes>),
    /// A prefix of the body, then (after one `Pending`, so hyper flushes what it has)
    /// an error that makes hyper abort the connection before the promised
    /// `Content-Length` is reached.
    Truncated {
        /// The bytes still to send.
        part: Option<Bytes>,
        /// Whether the flushing `Pending` was returned.
        paused: bool,
    },
}

/// The error a truncated body ends with; hyper closes the connection on it.
#[derive(Debug, thiserror::Error)]
#[error("response truncated on purpose by the simulator")]
pub(crate) struct Truncation;

impl Body for SimBody {
    type Data = Bytes;
    type Error = Truncation;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Truncation>>> {
        Poll::Ready(match &mut *self {
            Self::Full(bytes) => bytes
                .take()
                .filter(|b| !b.is_empty())
                .map(|b| Ok(Frame::data(b))),
            Self::Truncated { part, paused } => match part.take() {
                Some(b) if !b.is_empty() => Some(Ok(Frame::data(b))),
                _ if !*paused => {
                    *paused = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                _ => Some(Err(Truncation)),
            },
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(b) if b.as_ref().is_none_or(Bytes::is_empty))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Truncated { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: Reply) -> (Response<SimBody>, String) {
        let mut response = reply.into_response("rid", false);
        let body = match std::mem::replace(response.body_mut(), SimBody::Full(None)) {
            SimBody::Full(b) => b.unwrap_or_default(),
            SimBody::Truncated { .. } => Bytes::new(),
        };
        (response, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn error_envelope_has_every_member() {
        let (response, body) = text(Reply::validation("limit", "must be between 2 and 1000"));
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["x-request-id"], "rid");
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["object"], "error");
        assert_eq!(v["code"], 400);
        assert_eq!(v["type"], "validation_error");
        assert_eq!(v["request_id"], "rid");
        assert_eq!(v["fields"][0]["name"], "limit");
    }

    #[test]
    fn tokens_html_and_empty_have_their_dialects() {
        let (r, b) = text(Reply::token(StatusCode::BAD_REQUEST, "QUEUE_IS_FULL"));
        assert_eq!(
            (r.headers()[CONTENT_TYPE].to_str().unwrap(), b.as_str()),
            ("text/plain", "QUEUE_IS_FULL")
        );
        let (r, b) = text(Reply::html(StatusCode::BAD_GATEWAY));
        assert_eq!(r.headers()[CONTENT_TYPE], "text/html");
        assert!(b.starts_with("<html>") && b.contains("502 Bad Gateway"));
        let (r, b) = text(Reply::new(StatusCode::SERVICE_UNAVAILABLE, Payload::Empty));
        assert!(r.headers().get(CONTENT_TYPE).is_none());
        assert!(b.is_empty());
    }

    #[test]
    fn truncated_body_promises_more_than_it_sends() {
        let reply = Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "x",
        );
        let response = reply.into_response("rid", true);
        let promised: usize = response.headers()[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        match response.into_body() {
            SimBody::Truncated {
                part: Some(part), ..
            } => assert!(part.len() < promised),
            other => panic!("unexpected body {other:?}"),
        }
    }
}
