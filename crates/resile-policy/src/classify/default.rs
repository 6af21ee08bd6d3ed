//! The default classifier: the spec's action table, evaluated in the spec's order.
//!
//! 1. Transport failure → its row, stop.
//! 2. Status below 400 → success, body unread, stop. Else the status default (which
//!    also depends on whether the path is a device route).
//! 3. Dialect of the body prefix.
//! 4. A JSON `type` listed for this status replaces the default; unlisted types
//!    count as no type but are still reported.
//! 5. A plain-text token listed for this status does the same.
//! 6. Annotate: request id, `Retry-After`, device id.

use http::header::CONTENT_TYPE;

use super::body;
use super::{
    Class, Classification, Dialect, Input, Observed, Outcome, Reason, Route, Routes, Scope,
    Transport, retry_after_from_headers,
};

/// Classifies with the default [`Routes`]: the function behind [`DefaultClassifier`].
///
/// [`DefaultClassifier`]: super::DefaultClassifier
pub fn classify<'a>(input: &Input<'a>) -> Outcome<'a> {
    classify_with(Routes::standard(), input)
}

/// Classifies with the given routes.
pub fn classify_with<'a>(routes: &Routes, input: &Input<'a>) -> Outcome<'a> {
    let r = match input.observed {
        Observed::Transport(t) => return Outcome::new(transport_default(t)),
        Observed::Response(r) => r,
    };
    let status = r.status;
    if !(100..=599).contains(&status) {
        let c = verdict(Class::Fatal, Scope::Request, Reason::Unknown).with_status(status);
        return Outcome::new(c);
    }
    if status < 400 {
        if !r.complete {
            // The headers said yes, but no answer arrived: nothing to hand over.
            let c = transport_default(Transport::Reset).with_status(status);
            return Outcome::new(c);
        }
        return Outcome::new(Classification::success().with_status(status));
    }

    // Only these statuses depend on the route; skip the matching for the rest.
    let route = match status {
        429 | 502..=504 => routes.route(input.path),
        _ => Route::Host,
    };
    let no_headers = r.headers.is_empty();
    let html = !no_headers
        && r.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..9)
                    .is_some_and(|p| p.eq_ignore_ascii_case("text/html"))
            });
    let body = body::read(r.body, html);

    let mut c = status_default(status, route);
    if body.dialect == Some(Dialect::Json)
        && let Some(refined) = body.error_type.as_deref().and_then(|t| type_row(status, t))
    {
        c = refined;
    }
    if let Some(refined) = body.token.and_then(|t| token_row(status, t)) {
        c = refined;
    }
    let c = c
        .with_status(status)
        .with_dialect(body.dialect)
        .with_retry_after(if no_headers {
            None
        } else {
            retry_after_from_headers(r.headers, input.wall)
        });

    let mut outcome = Outcome::from_body(c, body);
    if !no_headers {
        outcome.set_request_id(
            r.headers
                .get(&X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::trim),
        );
    }
    if c.scope() == Scope::Device {
        let id = match route {
            Route::Device { id: Some(id), .. } => Some(id),
            _ => routes.device_id(input.path),
        };
        outcome.set_device_id(id);
    }
    outcome
}

static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

const fn verdict(class: Class, scope: Scope, reason: Reason) -> Classification {
    Classification::new(class, scope, Some(reason))
}

/// The transport rows of the table: retryable, host scope, on every route.
pub const fn transport_default(failure: Transport) -> Classification {
    let reason = match failure {
        Transport::Connect => Reason::TransportConnect,
        Transport::Timeout => Reason::TransportTimeout,
        Transport::Reset => Reason::TransportReset,
    };
    verdict(Class::Retryable, Scope::Host, reason).with_transport(failure)
}

/// The row for `status` (at least 400) when the body says nothing more: the rows
/// reading "any" or "anything else".
pub const fn status_default(status: u16, route: Route<'_>) -> Classification {
    use Class::*;
    use Reason::*;
    let device = matches!(route, Route::Device { .. });
    let queue_429 = matches!(
        route,
        Route::Device {
            queue_429: true,
            ..
        }
    );
    // Specific statuses first, then the "other 4xx/5xx" ranges, as the table reads.
    #[allow(clippy::match_overlapping_arm)]
    let (class, scope, reason) = match status {
        400 => (FixRequest, Scope::Request, BadRequest),
        401 => (Reauth, Scope::Request, CredentialsInvalid),
        403 => (Fatal, Scope::Request, AccessDenied),
        404 => (FixRequest, Scope::Request, NotFound),
        405 => (FixRequest, Scope::Request, MethodNotSupported),
        406 => (FixRequest, Scope::Request, NotAcceptable),
        408 => (Retryable, Scope::Host, RequestTimeout),
        409 => (FixRequest, Scope::Request, Conflict),
        410 => (FixRequest, Scope::Request, Gone),
        412 => (FixRequest, Scope::Request, PreconditionFailed),
        413 => (FixRequest, Scope::Request, PayloadTooLarge),
        415 => (FixRequest, Scope::Request, UnsupportedMediaType),
        423 => (Retryable, Scope::Device, DeviceUnreachable),
        424 => (Retryable, Scope::Host, DependencyFailed),
        426 => (FixRequest, Scope::Request, UpgradeRequired),
        429 if queue_429 => (Retryable, Scope::Device, DeviceQueueFull),
        429 => (Retryable, Scope::Host, Throttled),
        400..=499 => (FixRequest, Scope::Request, Unknown),
        502..=504 if device => (Retryable, Scope::Device, DeviceUnreachable),
        501 => (Fatal, Scope::Request, NotImplemented),
        502 | 504 => (Retryable, Scope::Host, Gateway),
        503 => (Retryable, Scope::Host, Unavailable),
        505 => (Fatal, Scope::Request, UnsupportedHttpVersion),
        500..=599 => (Retryable, Scope::Host, ServerError),
        _ => (Fatal, Scope::Request, Unknown),
    };
    verdict(class, scope, reason)
}

/// The row for a JSON `type` listed under `status`, if any. All vocabularies
/// (Troubleshooting, identity/enrollment/connector-ca, billing) are recognised on
/// every route.
pub fn type_row(status: u16, error_type: &str) -> Option<Classification> {
    use Class::*;
    use Reason::*;
    let (class, scope, reason) = match (status, error_type) {
        (400, "bad_request") => (FixRequest, Scope::Request, BadRequest),
        (400, "validation_error") => (FixRequest, Scope::Request, Validation),
        (401, "invalid_auth" | "invalid_apikey" | "unauthorized") => {
            (Reauth, Scope::Request, CredentialsInvalid)
        }
        (401, "auth_mismatch") => (Fatal, Scope::Request, AuthMismatch),
        (401, "invalid_token" | "reauth_required") => (Reauth, Scope::Request, TokenExpired),
        (403, "access_denied" | "access_restricted" | "forbidden") => {
            (Fatal, Scope::Request, AccessDenied)
        }
        (403, "account_limit_exceeded") => (Fatal, Scope::Request, AccountLimit),
        (403, "invalid_request") => (FixRequest, Scope::Request, InsecureTransport),
        (404, "not_found" | "unrecognized_request" | "report_not_found") => {
            (FixRequest, Scope::Request, NotFound)
        }
        (500, "internal_server_error" | "internal_error") => (Retryable, Scope::Host, ServerError),
        _ => return None,
    };
    Some(verdict(class, scope, reason))
}

/// The row for a Connect plain-text token listed under `status`, if any.
pub fn token_row(status: u16, token: &str) -> Option<Classification> {
    use Class::*;
    use Reason::*;
    let (class, scope, reason) = match (status, token) {
        (400, "QUEUE_IS_FULL" | "TOO_MANY_REQUESTS") => (Retryable, Scope::Device, DeviceQueueFull),
        (400, "DEVICE_NOT_CONNECTED") => (Retryable, Scope::Device, DeviceUnreachable),
        (
            400,
            "MALFORMED_JSON_CONTENT" | "MALFORMED_ASYNC_ID" | "TOKEN_NOT_FOUND" | "INVALID_LIMIT",
        ) => (FixRequest, Scope::Request, BadRequest),
        (400, "RESOURCE_NOT_FOUND") => (FixRequest, Scope::Request, NotFound),
        (404, "DEVICE_NOT_FOUND") => (FixRequest, Scope::Device, NotFound),
        (404, "URI_PATH_DOES_NOT_EXISTS") => (FixRequest, Scope::Request, NotFound),
        _ => return None,
    };
    Some(verdict(class, scope, reason))
}
