//! Values the middlewares leave in request and response extensions, and the ones a
//! caller may put in to steer a single request.

use std::time::Instant;

use resile_policy::Classification;

/// How many attempts a logical request took (1 = no retry).
///
/// Left in the response's extensions, or, when an error is returned, in the
/// request extensions passed to
/// [`ClientWithMiddleware::execute_with_extensions`], so it is readable after an
/// error too. `resend_count()` is OpenTelemetry's `http.request.resend_count`.
///
/// [`ClientWithMiddleware::execute_with_extensions`]: reqwest_middleware::ClientWithMiddleware::execute_with_extensions
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempts(pub u32);

impl Attempts {
    /// Attempts after the first: `http.request.resend_count`.
    pub const fn resend_count(self) -> u32 {
        self.0.saturating_sub(1)
    }
}

/// The classification of the last attempt, left beside [`Attempts`] (on the
/// response, or in the request extensions after an error).
///
/// Read it with `response.extensions().get::<FinalClassification>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FinalClassification(pub Classification);

/// A per-request deadline, overriding the retry layer's configured one.
///
/// Insert it with `RequestBuilder::with_extension(Deadline(instant))`; waits
/// (backoff, `Retry-After`, device holds, pacing) never run past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline(pub Instant);
