//! Classification: what one attempt's outcome means, and what to do next.
//!
//! Every response or transport failure falls into one of four classes besides
//! success — **retryable**, **reauth**, **fix request**, **fatal** — with a
//! [`Scope`] (the API host, one device, or this request), a [`Reason`] and the
//! server's delay hint. The rules are the Device Management error model:
//!
//! * **The status is read first.** It is the one signal every service sends
//!   reliably; the body may refine it but never overturn it (a 503 whose body says
//!   `validation_error` is still an outage).
//! * **Bodies come in dialects.** The JSON envelope `{object, code, type, message,
//!   fields, request_id}` with several `type` vocabularies (billing has its own),
//!   Connect's plain-text tokens (`QUEUE_IS_FULL`), empty bodies and load-balancer
//!   HTML. A `type` not listed for the status counts as none, but is still reported.
//! * **Device routes are not the host.** On `/v2/device-requests/{id}` a 502 means
//!   one device is offline, not that the API is down. Such outcomes are scoped to
//!   the device and must never feed the host's circuit breaker (see [`Routes`] and
//!   [`Classification::host_signal`]).
//! * **Retry safety is separate from retryability.** A 503 to a POST is retryable
//!   but was maybe processed; only an `Idempotency-Key` or an outcome that proves
//!   the request was not processed allows a replay
//!   ([`Classification::may_replay`]).
//!
//! [`classify`] is the default table as a function; [`DefaultClassifier`] the same
//! with configurable [`Routes`]. To change one case, implement [`Classify`] and
//! delegate the rest:
//!
//! ```
//! use http::{HeaderMap, Method};
//! use resile_policy::classify::{self, Classify, Input, Outcome};
//! use resile_policy::{Class, Classification};
//!
//! /// Creating a device that already exists is fine for us.
//! #[derive(Debug)]
//! struct CreateIsIdempotent;
//!
//! impl Classify for CreateIsIdempotent {
//!     fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a> {
//!         let outcome = classify::classify(input);
//!         if input.method() == Method::POST
//!             && input.path().trim_end_matches('/') == "/v3/devices"
//!             && input.status() == Some(409)
//!         {
//!             return outcome.with_classification(Classification::success().with_status(409));
//!         }
//!         outcome
//!     }
//! }
//!
//! let headers = HeaderMap::new();
//! let input = Input::response(&Method::POST, "/v3/devices", 409, &headers, b"");
//! assert_eq!(CreateIsIdempotent.classify(&input).class(), Class::Success);
//! ```

mod advice;
mod body;
mod default;
mod input;
mod kinds;
mod outcome;
mod retry_after;
mod route;
mod table;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

pub use body::Field;
pub use default::{
    classify, classify_with, status_default, token_row, transport_default, type_row,
};
pub use input::{BODY_PREFIX_LIMIT, Input, Observed, Response};
pub use kinds::{Class, Dialect, Reason, Scope, Transport, UnknownName};
pub use outcome::{Classification, HostSignal, Outcome, is_idempotent};
pub use retry_after::{parse_retry_after, retry_after_from_headers};
pub use route::{Route, Routes, RoutesBuilder};
pub use table::{ACTION_TABLE, Example, TableRow};

/// Turns what happened to one attempt into an [`Outcome`].
///
/// Object safe, so a client can hold a `Box<dyn Classify>`. Implementations must not
/// panic or fail: any input, however malformed, yields an outcome.
pub trait Classify: Send + Sync + fmt::Debug {
    /// Classifies one attempt.
    fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a>;
}

impl<C: Classify + ?Sized> Classify for Arc<C> {
    fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a> {
        (**self).classify(input)
    }
}

impl<C: Classify + ?Sized> Classify for Box<C> {
    fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a> {
        (**self).classify(input)
    }
}

impl<C: Classify + ?Sized> Classify for &C {
    fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a> {
        (**self).classify(input)
    }
}

/// The spec's action table with configurable [`Routes`]. `Default` uses the
/// standard routes and allocates nothing per call.
#[derive(Debug, Clone, Default)]
pub struct DefaultClassifier {
    routes: Option<Routes>,
}

impl DefaultClassifier {
    /// The classifier with the standard routes.
    pub const fn new() -> Self {
        Self { routes: None }
    }

    /// The classifier with `routes` (a proxy prefix, extra device routes).
    pub fn with_routes(routes: Routes) -> Self {
        Self {
            routes: Some(routes),
        }
    }

    /// The routes in use.
    pub fn routes(&self) -> &Routes {
        self.routes.as_ref().unwrap_or(Routes::standard())
    }
}

impl Classify for DefaultClassifier {
    fn classify<'a>(&self, input: &Input<'a>) -> Outcome<'a> {
        classify_with(self.routes(), input)
    }
}
