//! The action table as data: what `resile explain` prints, and what the table test
//! runs the classifier against (one or more examples per row).

use super::{Class, Reason, Scope, Transport};

/// One row of the spec's action table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRow {
    /// The status (or statuses) the row covers, as the spec writes it.
    pub status: &'static str,
    /// What the body must say for the row to apply.
    pub body: &'static str,
    /// The class it yields.
    pub class: Class,
    /// The scope it yields.
    pub scope: Scope,
    /// The reason it yields (`None` for success).
    pub reason: Option<Reason>,
    /// What the client should do.
    pub action: &'static str,
    /// Where the row comes from (TS, C20, C19, SDK, JT, IZ, LB, HTTP).
    pub source: &'static str,
    /// Inputs that fall under this row.
    pub examples: &'static [Example],
}

/// An input that falls under a [`TableRow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// Request method.
    pub method: &'static str,
    /// URL path.
    pub path: &'static str,
    /// Response status, or a transport failure.
    pub status: Result<u16, Transport>,
    /// Response body (`Content-Type: text/html` is sent when it starts with `<`).
    pub body: &'static str,
}

const fn get(path: &'static str, status: u16, body: &'static str) -> Example {
    Example {
        method: "GET",
        path,
        status: Ok(status),
        body,
    }
}

const fn post(path: &'static str, status: u16, body: &'static str) -> Example {
    Example {
        method: "POST",
        path,
        status: Ok(status),
        body,
    }
}

const fn failed(method: &'static str, path: &'static str, t: Transport) -> Example {
    Example {
        method,
        path,
        status: Err(t),
        body: "",
    }
}

const CMD: &str = "/v2/device-requests/0161b8e8a2d10a580a01020300000000";
const DEV: &str = "/v3/devices";
const ONE: &str = "/v3/devices/0161b8e8a2d10a580a01020300000000";

macro_rules! rows {
    ($( $status:literal, $body:literal, $class:ident / $scope:ident, $reason:expr,
        $action:literal, $source:literal, [$($ex:expr),+ $(,)?]; )+) => {
        &[$(TableRow {
            status: $status,
            body: $body,
            class: Class::$class,
            scope: Scope::$scope,
            reason: $reason,
            action: $action,
            source: $source,
            examples: &[$($ex),+],
        }),+]
    };
}

use Reason::*;

/// The whole action table (spec §5), in the spec's order.
pub const ACTION_TABLE: &[TableRow] = rows![
    "below 400", "not read", Success/Request, None, "Hand to the caller", "HTTP",
        [get(DEV, 200, "{}"), get(DEV, 204, ""), get(DEV, 304, "x"), post(DEV, 201, "")];
    "400", "`bad_request`", FixRequest/Request, Some(BadRequest), "Fix the request (URL, interface)", "TS",
        [get(DEV, 400, r#"{"type":"bad_request"}"#)];
    "400", "`validation_error` (billing too)", FixRequest/Request, Some(Validation), "Fix the request; show `fields`", "TS, C20",
        [post(DEV, 400, r#"{"type":"validation_error","fields":[{"name":"n","message":"m"}]}"#),
         get("/v3/billing-report", 400, r#"{"type":"validation_error"}"#)];
    "400", "token `QUEUE_IS_FULL` or `TOO_MANY_REQUESTS`", Retryable/Device, Some(DeviceQueueFull), "Per-device wait until the queue drains", "C20, C19",
        [post(CMD, 400, "QUEUE_IS_FULL"), post(CMD, 400, "TOO_MANY_REQUESTS")];
    "400", "token `DEVICE_NOT_CONNECTED`", Retryable/Device, Some(DeviceUnreachable), "Per-device wait until the device registers again", "C20",
        [post(CMD, 400, "DEVICE_NOT_CONNECTED")];
    "400", "token `MALFORMED_JSON_CONTENT`, `MALFORMED_ASYNC_ID`, `TOKEN_NOT_FOUND`, `INVALID_LIMIT`", FixRequest/Request, Some(BadRequest), "Fix the request", "C20",
        [post(CMD, 400, "MALFORMED_JSON_CONTENT"), post(CMD, 400, "MALFORMED_ASYNC_ID"),
         get("/v2/device-shared-keys", 400, "TOKEN_NOT_FOUND"), get("/v2/device-shared-keys", 400, "INVALID_LIMIT")];
    "400", "token `RESOURCE_NOT_FOUND`", FixRequest/Request, Some(NotFound), "Fix the request (no such resource on the device)", "C20, IZ",
        [post(CMD, 400, "RESOURCE_NOT_FOUND")];
    "400", "anything else", FixRequest/Request, Some(BadRequest), "Fix the request", "HTTP",
        [get(DEV, 400, ""), get(DEV, 400, r#"{"type":"rate_limit_exceeded"}"#), get(DEV, 400, "<html></html>")];
    "401", "`invalid_auth`", Reauth/Request, Some(CredentialsInvalid), "Refresh and replay once", "TS, C20",
        [get(DEV, 401, r#"{"type":"invalid_auth"}"#)];
    "401", "`auth_mismatch`", Fatal/Request, Some(AuthMismatch), "Surface to operator: a new credential of the same kind will not fit", "TS",
        [get(DEV, 401, r#"{"type":"auth_mismatch"}"#)];
    "401", "`invalid_token`", Reauth/Request, Some(TokenExpired), "Refresh and replay once", "TS",
        [get(DEV, 401, r#"{"type":"invalid_token"}"#)];
    "401", "`invalid_apikey`", Reauth/Request, Some(CredentialsInvalid), "Refresh and replay once (reload the key); a second 401 goes to the operator", "TS",
        [get(DEV, 401, r#"{"type":"invalid_apikey"}"#)];
    "401", "`reauth_required`", Reauth/Request, Some(TokenExpired), "Refresh and replay once", "SDK",
        [get(DEV, 401, r#"{"type":"reauth_required"}"#)];
    "401", "`unauthorized` (billing); empty, unknown type, anything else", Reauth/Request, Some(CredentialsInvalid), "Refresh and replay once", "C20",
        [get("/v3/billing-report", 401, r#"{"type":"unauthorized"}"#), get(DEV, 401, ""), get(DEV, 401, r#"{"type":"nope"}"#)];
    "403", "`access_denied`", Fatal/Request, Some(AccessDenied), "Surface to operator (policies, groups)", "TS, JT",
        [get(DEV, 403, r#"{"type":"access_denied"}"#)];
    "403", "`access_restricted`", Fatal/Request, Some(AccessDenied), "Surface to operator (export-control block)", "TS",
        [get(DEV, 403, r#"{"type":"access_restricted"}"#)];
    "403", "`account_limit_exceeded`", Fatal/Request, Some(AccountLimit), "Surface to operator (free resources or raise the limit)", "TS, C20",
        [post(DEV, 403, r#"{"type":"account_limit_exceeded"}"#)];
    "403", "`invalid_request`", FixRequest/Request, Some(InsecureTransport), "Fix the request: use HTTPS", "TS",
        [get(DEV, 403, r#"{"type":"invalid_request"}"#)];
    "403", "`forbidden` (billing); empty, unknown type, anything else", Fatal/Request, Some(AccessDenied), "Surface to operator", "C20",
        [get("/v3/billing-report", 403, r#"{"type":"forbidden"}"#), get(DEV, 403, ""), get(DEV, 403, r#"{"type":"invalid_token"}"#)];
    "404", "`not_found`", FixRequest/Request, Some(NotFound), "Fix the request; the resource is absent", "TS",
        [get(ONE, 404, r#"{"type":"not_found"}"#)];
    "404", "`unrecognized_request`", FixRequest/Request, Some(NotFound), "Fix the URL or method", "TS",
        [get("/v3/device", 404, r#"{"type":"unrecognized_request"}"#)];
    "404", "token `DEVICE_NOT_FOUND`", FixRequest/Device, Some(NotFound), "Stop commanding this device (deregistered or expired)", "C20",
        [post(CMD, 404, "DEVICE_NOT_FOUND")];
    "404", "token `URI_PATH_DOES_NOT_EXISTS`", FixRequest/Request, Some(NotFound), "Fix the resource path", "C20",
        [post(CMD, 404, "URI_PATH_DOES_NOT_EXISTS")];
    "404", "`report_not_found` (billing); anything else", FixRequest/Request, Some(NotFound), "Fix the request", "C20",
        [get("/v3/billing-report", 404, r#"{"type":"report_not_found"}"#), get(DEV, 404, "")];
    "405", "any (`method_not_supported`)", FixRequest/Request, Some(MethodNotSupported), "Fix the method or URL", "TS",
        [get(DEV, 405, r#"{"type":"method_not_supported"}"#), get(DEV, 405, r#"{"type":"validation_error"}"#)];
    "406", "any (`not_acceptable`)", FixRequest/Request, Some(NotAcceptable), "Fix the `Accept` header", "SDK",
        [get(DEV, 406, r#"{"type":"not_acceptable"}"#)];
    "408", "any", Retryable/Host, Some(RequestTimeout), "Backoff retry", "HTTP",
        [get(DEV, 408, "")];
    "409", "any (`duplicate`)", FixRequest/Request, Some(Conflict), "Fix the request; after a replayed create, read back first", "C20, SDK",
        [post(DEV, 409, r#"{"type":"duplicate"}"#)];
    "410", "any", FixRequest/Request, Some(Gone), "Fix the request (device or channel gone)", "C20",
        [get(DEV, 410, "")];
    "412", "any (`precondition_failed`)", FixRequest/Request, Some(PreconditionFailed), "Re-read state, then fix the request", "SDK, C19",
        [get(DEV, 412, r#"{"type":"precondition_failed"}"#)];
    "413", "any", FixRequest/Request, Some(PayloadTooLarge), "Fix the request (smaller payload)", "C20",
        [post(DEV, 413, "")];
    "415", "any (`unsupported_media_type`)", FixRequest/Request, Some(UnsupportedMediaType), "Fix the `Content-Type`", "C20, SDK",
        [post(DEV, 415, r#"{"type":"unsupported_media_type"}"#)];
    "423", "any", Retryable/Device, Some(DeviceUnreachable), "Per-device wait until the device connects", "C20",
        [post("/v3/devices/D/certificates/c/renew", 423, "")];
    "424", "any", Retryable/Host, Some(DependencyFailed), "Backoff retry, at most 3 attempts in all", "C20",
        [post("/v3/certificate-issuers", 424, "")];
    "426", "any", FixRequest/Request, Some(UpgradeRequired), "Fix the WebSocket upgrade headers", "C20",
        [get("/v2/notification/websocket-connect", 426, "")];
    "429", "any (`rate_limit_exceeded` too)", Retryable/Host, Some(Throttled), "Pace and retry", "SDK, C20",
        [get(DEV, 429, r#"{"type":"rate_limit_exceeded"}"#), post(CMD, 429, "")];
    "429", "any, device route (`/v2/endpoints/{id}/…`, `/v2/subscriptions/{id}/…`)", Retryable/Device, Some(DeviceQueueFull), "Per-device wait until the queue drains (never slows the host)", "C20, C19",
        [get("/v2/endpoints/D/3/0/1", 429, ""), Example { method: "PUT", path: "/v2/subscriptions/D/3/0/1", status: Ok(429), body: "" }];
    "other 4xx", "any", FixRequest/Request, Some(Unknown), "Fix the request", "HTTP",
        [get(DEV, 402, ""), get(DEV, 418, r#"{"type":"validation_error"}"#), get(DEV, 499, "")];
    "500", "`internal_server_error`", Retryable/Host, Some(ServerError), "Backoff retry; report persistent failures to vendor support", "TS",
        [get(DEV, 500, r#"{"type":"internal_server_error"}"#), post(CMD, 500, r#"{"type":"internal_server_error"}"#)];
    "500", "`internal_error` (billing); anything else", Retryable/Host, Some(ServerError), "Backoff retry", "C20",
        [get("/v3/billing-statistics", 500, r#"{"type":"internal_error"}"#), get(DEV, 500, "<html>oops</html>")];
    "501", "any", Fatal/Request, Some(NotImplemented), "Surface to operator", "HTTP",
        [get(DEV, 501, "")];
    "502, 504", "any, host route (HTML, empty, JSON)", Retryable/Host, Some(Gateway), "Backoff retry", "LB",
        [get(DEV, 502, "<html><body>502 Bad Gateway</body></html>"), get(DEV, 504, ""), get(DEV, 502, r#"{"type":"system_unavailable"}"#),
         get("/v2/endpoints/D", 504, "")];
    "503", "`system_unavailable`, host route", Retryable/Host, Some(Unavailable), "Backoff retry; report persistent failures to vendor support", "TS",
        [get(DEV, 503, r#"{"type":"system_unavailable"}"#)];
    "503", "anything else (HTML, empty), host route", Retryable/Host, Some(Unavailable), "Backoff retry", "LB",
        [get(DEV, 503, ""), get(DEV, 503, "<html></html>"), get(DEV, 503, r#"{"type":"validation_error"}"#)];
    "502, 503, 504", "any, device route", Retryable/Device, Some(DeviceUnreachable), "Per-device wait", "C20, C19",
        [post(CMD, 502, "<html></html>"), post(CMD, 503, r#"{"type":"system_unavailable"}"#), post(CMD, 504, ""),
         Example { method: "PUT", path: "/v2/subscriptions/D/3200/0/5501", status: Ok(503), body: "" }];
    "505", "any", Fatal/Request, Some(UnsupportedHttpVersion), "Surface to operator", "HTTP",
        [get(DEV, 505, "")];
    "other 5xx", "any", Retryable/Host, Some(ServerError), "Backoff retry", "HTTP",
        [get(DEV, 507, ""), get(DEV, 599, "")];
    "outside 100-599", "any", Fatal/Request, Some(Unknown), "Surface to operator", "HTTP",
        [get(DEV, 600, ""), get(DEV, 99, ""), get(DEV, 0, ""), get(DEV, 999, "")];
    "none", "connection refused, DNS failure, TLS handshake failure, connect timeout", Retryable/Host, Some(TransportConnect), "Backoff retry (any method)", "SDK",
        [failed("POST", CMD, Transport::Connect)];
    "none", "timeout after the request was sent", Retryable/Host, Some(TransportTimeout), "Backoff retry if replay is safe; otherwise the outcome is unknown: reconcile", "HTTP",
        [failed("GET", DEV, Transport::Timeout)];
    "none", "connection reset or incomplete message after sending", Retryable/Host, Some(TransportReset), "as above", "HTTP",
        [failed("POST", "/v3/update-campaigns", Transport::Reset)];
];
