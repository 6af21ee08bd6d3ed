//! The verdict: a small `Copy` [`Classification`], and an [`Outcome`] that adds the
//! strings read from the body.

use std::borrow::Cow;
use std::time::Duration;

use http::Method;

use super::body::{Body, Field};
use super::{Class, Dialect, Reason, Scope, Transport};

/// What to do about one attempt: class, scope, reason and the server's delay hint.
///
/// Small and `Copy`: it is logged, compared in tests, kept in request extensions and
/// shared across threads for free. Strings (error type, request id) live on the
/// [`Outcome`] that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    class: Class,
    scope: Scope,
    reason: Option<Reason>,
    retry_after: Option<Duration>,
    status: Option<u16>,
    dialect: Option<Dialect>,
    transport: Option<Transport>,
}

/// What an outcome means for the API host's circuit breaker and pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostSignal {
    /// Host-scope server trouble: 5xx server, gateway or unavailable, or transport.
    Failure,
    /// The host answered and could judge the request (success, or a request-scoped
    /// fix-request, re-auth or fatal answer).
    Success,
    /// A 429 from the host: slow down, but the host is healthy.
    Throttled,
    /// Retried but not counted either way (408, 424).
    Neutral,
    /// About one device: feeds per-device state only, never the host.
    Device,
}

impl Classification {
    /// A classification with no hint, status or dialect.
    pub const fn new(class: Class, scope: Scope, reason: Option<Reason>) -> Self {
        Self {
            class,
            scope,
            reason,
            retry_after: None,
            status: None,
            dialect: None,
            transport: None,
        }
    }

    /// `success` / `request`, no reason.
    pub const fn success() -> Self {
        Self::new(Class::Success, Scope::Request, None)
    }

    /// The same classification with the server's delay hint.
    #[must_use]
    pub const fn with_retry_after(mut self, hint: Option<Duration>) -> Self {
        self.retry_after = hint;
        self
    }

    /// The same classification with the response status.
    #[must_use]
    pub const fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same classification with the body dialect.
    #[must_use]
    pub const fn with_dialect(mut self, dialect: Option<Dialect>) -> Self {
        self.dialect = dialect;
        self
    }

    /// The same classification marked as caused by a transport failure.
    #[must_use]
    pub const fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// What to do next.
    pub const fn class(&self) -> Class {
        self.class
    }

    /// Whose health this describes.
    pub const fn scope(&self) -> Scope {
        self.scope
    }

    /// The specific cause; `None` for success.
    pub const fn reason(&self) -> Option<Reason> {
        self.reason
    }

    /// The server's `Retry-After`, if it sent a valid one. Honoured on `retryable`
    /// outcomes, only reported on others.
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The response status, if a response arrived.
    pub const fn status(&self) -> Option<u16> {
        self.status
    }

    /// The body dialect, if the body was read (never on success).
    pub const fn dialect(&self) -> Option<Dialect> {
        self.dialect
    }

    /// The transport failure, if no response arrived.
    pub const fn transport(&self) -> Option<Transport> {
        self.transport
    }

    /// `class == Success`.
    pub const fn is_success(&self) -> bool {
        matches!(self.class, Class::Success)
    }

    /// `class == Retryable`.
    pub const fn is_retryable(&self) -> bool {
        matches!(self.class, Class::Retryable)
    }

    /// `class == Reauth`.
    pub const fn is_reauth(&self) -> bool {
        matches!(self.class, Class::Reauth)
    }

    /// What this means for the host's breaker and pacing (spec §4.4).
    pub const fn host_signal(&self) -> HostSignal {
        use Reason::*;
        match (self.scope, self.class, self.reason) {
            (Scope::Device, _, _) => HostSignal::Device,
            (_, Class::Success, _) => HostSignal::Success,
            (
                Scope::Host,
                Class::Retryable,
                Some(
                    ServerError | Unavailable | Gateway | TransportConnect | TransportTimeout
                    | TransportReset,
                ),
            ) => HostSignal::Failure,
            (Scope::Host, Class::Retryable, Some(Throttled)) => HostSignal::Throttled,
            (Scope::Host, _, _) => HostSignal::Neutral,
            (Scope::Request, _, _) => HostSignal::Success,
        }
    }

    /// Whether this outcome proves the server did not process the request (spec §6):
    /// a connect failure, any 429, or a full device queue.
    pub const fn proves_unprocessed(&self) -> bool {
        matches!(
            self.reason,
            Some(Reason::TransportConnect | Reason::DeviceQueueFull)
        ) || matches!(self.status, Some(429))
    }

    /// Whether a `retryable` outcome may be resent automatically (spec §6).
    ///
    /// Idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) always; any other
    /// method only with an `Idempotency-Key` or when [`proves_unprocessed`] holds.
    /// Other classes: `false` (a `reauth` replay follows its own once-only rule).
    ///
    /// [`proves_unprocessed`]: Self::proves_unprocessed
    pub fn may_replay(&self, method: &Method, has_idempotency_key: bool) -> bool {
        self.is_retryable()
            && (is_idempotent(method) || has_idempotency_key || self.proves_unprocessed())
    }

    /// One sentence for a human: what to do about this outcome.
    pub const fn advice(&self) -> &'static str {
        super::advice::advice(self.class, self.scope, self.reason)
    }
}

/// GET, HEAD, OPTIONS, PUT, DELETE and TRACE.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// A [`Classification`] plus what the body and path said: error type, request id,
/// message, fields, plain-text token and device id. Borrows from the input where it
/// can; [`into_owned`](Self::into_owned) detaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'a> {
    classification: Classification,
    error_type: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    fields: Vec<Field<'a>>,
    token: Option<Cow<'a, str>>,
    device_id: Option<Cow<'a, str>>,
    code: Option<u16>,
}

impl<'a> Outcome<'a> {
    /// An outcome with nothing but `classification`.
    pub const fn new(classification: Classification) -> Self {
        Self {
            classification,
            error_type: None,
            request_id: None,
            message: None,
            fields: Vec::new(),
            token: None,
            device_id: None,
            code: None,
        }
    }

    #[inline]
    pub(crate) fn from_body(classification: Classification, body: Body<'a>) -> Self {
        Self {
            classification,
            error_type: body.error_type,
            request_id: body.request_id,
            message: body.message,
            fields: body.fields,
            token: body.token.map(Cow::Borrowed),
            device_id: None,
            code: body.code,
        }
    }

    pub(crate) fn set_request_id(&mut self, id: Option<&'a str>) {
        if self.request_id.is_none() {
            self.request_id = id.filter(|s| !s.is_empty()).map(Cow::Borrowed);
        }
    }

    pub(crate) fn set_device_id(&mut self, id: Option<&'a str>) {
        self.device_id = id.map(Cow::Borrowed);
    }

    /// The verdict.
    pub const fn classification(&self) -> Classification {
        self.classification
    }

    /// Replaces the verdict, keeping what the body said; for custom classifiers.
    #[must_use]
    pub fn with_classification(mut self, classification: Classification) -> Self {
        self.classification = classification;
        self
    }

    /// Shorthand for `classification().class()`.
    pub const fn class(&self) -> Class {
        self.classification.class
    }

    /// Shorthand for `classification().scope()`.
    pub const fn scope(&self) -> Scope {
        self.classification.scope
    }

    /// Shorthand for `classification().reason()`.
    pub const fn reason(&self) -> Option<Reason> {
        self.classification.reason
    }

    /// Shorthand for `classification().retry_after()`.
    pub const fn retry_after(&self) -> Option<Duration> {
        self.classification.retry_after
    }

    /// The envelope's `type`, as sent (also when it did not count, spec §2f).
    pub fn error_type(&self) -> Option<&str> {
        self.error_type.as_deref()
    }

    /// The body's `request_id`, else the `X-Request-ID` header.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The envelope's `message`, never parsed.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The envelope's `fields`.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The plain-text Connect token, also when it did not count for this status.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The device id, on device-scoped outcomes whose path names one.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The envelope's `code`, display only (the status always wins).
    pub const fn code(&self) -> Option<u16> {
        self.code
    }

    /// A copy that owns its strings.
    pub fn into_owned(self) -> Outcome<'static> {
        let own = |s: Option<Cow<'a, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        Outcome {
            classification: self.classification,
            error_type: own(self.error_type),
            request_id: own(self.request_id),
            message: own(self.message),
            fields: self.fields.into_iter().map(Field::into_owned).collect(),
            token: own(self.token),
            device_id: own(self.device_id),
            code: self.code,
        }
    }
}

impl From<Classification> for Outcome<'_> {
    fn from(c: Classification) -> Self {
        Self::new(c)
    }
}
