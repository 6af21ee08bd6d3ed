//! One sentence for a human, per outcome: the spec's "action" column.

use super::{Class, Reason, Scope};

pub(super) const fn advice(class: Class, scope: Scope, reason: Option<Reason>) -> &'static str {
    use Reason::*;
    let Some(reason) = reason else {
        return "Hand the response to the caller.";
    };
    match reason {
        ServerError => "Back off and retry; report persistent failures to the vendor's support.",
        Unavailable => "The host is unavailable: wait (Retry-After or backoff) and retry.",
        Gateway => "A gateway in front of the host failed: back off and retry.",
        Throttled => {
            "Slow down: wait for Retry-After (or back off from 1 s), lower the pace, then retry."
        }
        RequestTimeout => "The server timed out reading the request: back off and retry.",
        DependencyFailed => {
            "The account's external certificate authority failed: retry, at most 3 attempts in all."
        }
        TransportConnect => {
            "The connection failed before anything was sent: back off and retry (safe for any method)."
        }
        TransportTimeout | TransportReset => {
            "The answer was lost after sending: retry if replay is safe, else reconcile (the outcome is unknown)."
        }
        DeviceQueueFull => {
            "This device's command queue is full: hold its commands until it drains; other devices go on."
        }
        DeviceUnreachable => {
            "This device is offline or asleep: hold its requests until it reconnects; other devices go on."
        }
        TokenExpired => "Get a fresh token from the credential provider and replay once.",
        CredentialsInvalid => {
            "Reload the credential and replay once; a second 401 goes to an operator."
        }
        BadRequest => "Fix the request (URL, parameters, interface); never resend it unchanged.",
        Validation => "Fix the parameters listed in `fields`; never resend unchanged.",
        InsecureTransport => "Use HTTPS.",
        NotFound if matches!(scope, Scope::Device) => {
            "The device is gone (deregistered or expired): stop commanding it."
        }
        NotFound => "The resource or route does not exist: fix the request.",
        MethodNotSupported => "Fix the method or URL.",
        NotAcceptable => "Fix the Accept header.",
        Conflict => "Conflict with current state: after a replayed create, read back first.",
        Gone => "The device or channel is gone: fix the request.",
        PreconditionFailed => "Re-read the current state, then fix the request.",
        PayloadTooLarge => "Send a smaller payload.",
        UnsupportedMediaType => "Fix the Content-Type.",
        UpgradeRequired => "Fix the WebSocket upgrade headers.",
        AuthMismatch => {
            "Surface to an operator: a new credential of the same kind will not fit this request."
        }
        AccessDenied => {
            "Surface to an operator: the credential is not permitted (policies, groups, export control)."
        }
        AccountLimit => {
            "Surface to an operator: an account limit was reached; free resources or raise the limit."
        }
        NotImplemented => "Surface to an operator: the server does not implement this.",
        UnsupportedHttpVersion => "Surface to an operator: the HTTP version is not supported.",
        Unknown if matches!(class, Class::Fatal) => "Surface to an operator.",
        Unknown => "Fix the request.",
    }
}
