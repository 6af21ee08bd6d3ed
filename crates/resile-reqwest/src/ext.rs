//! Values the middlewares leave in request and response extensions, and the ones a
//! caller may put in to steer a single request.

use std::time::Instant;

use resile_policy::Classification;

/// How many attempts a logical request took (1 = no retry) and how the last one
/// was classified: what the retry layer leaves when it returns.
///
/// Left in the response's extensions, or, when an error is returned, in the
/// request extensions passed to
/// [`ClientWithMiddleware::execute_with_extensions`], so it is readable after an
/// error too. One value for both, so a request pays for one extension.
///
/// ```
/// # fn read(resp: &reqwest::Response) {
/// use resile_reqwest::Attempts;
///
/// if let Some(attempts) = resp.extensions().get::<Attempts>() {
///     println!("{} attempts, the last {:?}", attempts.count(), attempts.classification());
/// }
/// # }
/// ```
///
/// [`ClientWithMiddleware::execute_with_extensions`]: reqwest_middleware::ClientWithMiddleware::execute_with_extensions
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempts {
    count: u32,
    classification: Option<Classification>,
}

impl Attempts {
    /// `count` attempts, the last classified `classification` (`None`: not
    /// classified, e.g. another middleware's error).
    pub const fn new(count: u32, classification: Option<Classification>) -> Self {
        Self {
            count,
            classification,
        }
    }

    /// Attempts in all, the first included.
    pub const fn count(self) -> u32 {
        self.count
    }

    /// Attempts after the first: OpenTelemetry's `http.request.resend_count`.
    pub const fn resend_count(self) -> u32 {
        self.count.saturating_sub(1)
    }

    /// The classification of the last attempt (`None` when it was not
    /// classified: another middleware's error, or a request refused before it
    /// was sent).
    pub const fn classification(self) -> Option<Classification> {
        self.classification
    }
}

/// A per-request deadline, overriding the retry layer's configured one.
///
/// Insert it with `RequestBuilder::with_extension(Deadline(instant))`; waits
/// (backoff, `Retry-After`, device holds, pacing) never run past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline(pub Instant);
