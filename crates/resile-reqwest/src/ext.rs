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

/// Per-request scratch space shared by our layers, one extension (one allocation)
/// for all of them: the verdict on the current attempt, so the innermost layer that
/// classifies does it for all (nothing is decided twice), and the deadline the retry
/// layer works to, so the layers below it never wait past it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// The verdict on the current attempt.
    pub(crate) classification: Option<Classification>,
    /// Set by the layer that classified this attempt; cleared before the next one.
    pub(crate) fresh: bool,
    /// The retry layer's deadline for the whole request, if it set one.
    pub(crate) deadline: Option<Instant>,
    /// The retry layer holds a copy of the request and resends it when asked:
    /// the auth layer then need not keep a copy of its own for the 401 replay.
    pub(crate) outer_replay: bool,
    /// Set by the auth layer: a fresh token is ready, resend this request once.
    pub(crate) replay_requested: bool,
    /// This attempt is that resend (a second 401 goes back to the caller).
    pub(crate) is_replay: bool,
}

/// The deadline for this request: the caller's [`Deadline`], else the retry layer's.
pub(crate) fn deadline(ext: &http::Extensions) -> Option<Instant> {
    ext.get::<Deadline>()
        .map(|d| d.0)
        .or_else(|| ext.get::<Scratch>().and_then(|s| s.deadline))
}

/// The scratch space, inserted on first use.
pub(crate) fn scratch(ext: &mut http::Extensions) -> &mut Scratch {
    if ext.get::<Scratch>().is_none() {
        ext.insert(Scratch::default());
    }
    ext.get_mut::<Scratch>().expect("inserted above")
}
