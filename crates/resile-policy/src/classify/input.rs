//! What a classifier is given.

use std::time::SystemTime;

use http::{HeaderMap, Method};

use super::Transport;

/// The suggested bound on the body prefix handed to a classifier: 64 KiB.
///
/// Error bodies are small; reading more only costs memory. A body longer than the
/// prefix is classified from the prefix (JSON cut short becomes [`Dialect::Text`]).
///
/// [`Dialect::Text`]: super::Dialect::Text
pub const BODY_PREFIX_LIMIT: usize = 64 * 1024;

/// Everything a classifier may look at for one attempt.
///
/// Built with [`Input::response`] or [`Input::transport`]; the rest is optional.
///
/// ```
/// use http::{HeaderMap, Method};
/// use resile_policy::classify::{classify, Input};
/// use resile_policy::{Class, Scope};
///
/// let headers = HeaderMap::new();
/// let body = br#"{"object":"error","code":503,"type":"system_unavailable"}"#;
/// let input = Input::response(&Method::GET, "/v3/devices", 503, &headers, body);
/// let outcome = classify(&input);
/// assert_eq!(outcome.class(), Class::Retryable);
/// assert_eq!(outcome.scope(), Scope::Host);
/// assert_eq!(outcome.error_type(), Some("system_unavailable"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) observed: Observed<'a>,
    pub(crate) wall: Option<SystemTime>,
}

/// What came back: a response (possibly with a broken-off body) or a transport failure.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Observed<'a> {
    /// A status line and headers arrived.
    Response(Response<'a>),
    /// No complete status line and headers arrived.
    Transport(Transport),
}

/// The parts of a response a classifier reads.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The numeric status, unchecked (a proxy may send 0 or 999).
    pub status: u16,
    /// Response headers.
    pub headers: &'a HeaderMap,
    /// A bounded prefix of the body (see [`BODY_PREFIX_LIMIT`]).
    pub body: &'a [u8],
    /// `false` when the body broke off after the headers (reset, truncated).
    pub complete: bool,
}

impl<'a> Input<'a> {
    /// A response with `status`, `headers` and a body prefix, for `method` on `path`.
    ///
    /// `path` is the URL path; a query string, if present, is ignored.
    pub const fn response(
        method: &'a Method,
        path: &'a str,
        status: u16,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path,
            observed: Observed::Response(Response {
                status,
                headers,
                body,
                complete: true,
            }),
            wall: None,
        }
    }

    /// A transport failure for `method` on `path`.
    pub const fn transport(method: &'a Method, path: &'a str, failure: Transport) -> Self {
        Self {
            method,
            path,
            observed: Observed::Transport(failure),
            wall: None,
        }
    }

    /// Marks the body as broken off after the headers.
    #[must_use]
    pub const fn body_incomplete(mut self) -> Self {
        if let Observed::Response(ref mut r) = self.observed {
            r.complete = false;
        }
        self
    }

    /// The calendar time the response arrived, read from a [`Clock`](crate::Clock).
    ///
    /// Used only to turn a `Retry-After` HTTP-date into a delay when the response has
    /// no valid `Date` header; without it such a date is ignored.
    #[must_use]
    pub const fn at(mut self, wall: SystemTime) -> Self {
        self.wall = Some(wall);
        self
    }

    /// The request method.
    pub const fn method(&self) -> &'a Method {
        self.method
    }

    /// The URL path as given (query not stripped).
    pub const fn path(&self) -> &'a str {
        self.path
    }

    /// What came back.
    pub const fn observed(&self) -> &Observed<'a> {
        &self.observed
    }

    /// The status, if a response arrived.
    pub const fn status(&self) -> Option<u16> {
        match self.observed {
            Observed::Response(r) => Some(r.status),
            Observed::Transport(_) => None,
        }
    }

    /// The response headers, if a response arrived.
    pub const fn headers(&self) -> Option<&'a HeaderMap> {
        match self.observed {
            Observed::Response(r) => Some(r.headers),
            Observed::Transport(_) => None,
        }
    }

    /// The calendar time set with [`at`](Self::at).
    pub const fn wall(&self) -> Option<SystemTime> {
        self.wall
    }
}
