//! The faults the simulator can inject, and the reply each one produces.
//!
//! A [`Fault`] says *what* goes wrong; a [`TimedFault`](crate::TimedFault) says when,
//! for which requests and how often. Every error body is one the real API (or the load
//! balancer in front of it) sends: the JSON envelope for the API's own errors, an HTML
//! page for a gateway, zero bytes, or no response at all.

use std::num::NonZeroU32;
use std::time::Duration;

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use crate::body::{Payload, Reply};

/// What goes wrong. Combine with [`TimedFault`](crate::TimedFault) for timing, target
/// and probability.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// With probability `p` (on top of the timed fault's own probability), a JSON 503
    /// `system_unavailable`, or 500 `internal_server_error` when `status` is 500. Not
    /// counted as an outage window in [`Stats::during_outage`](crate::Stats::during_outage).
    Flaky {
        /// Chance of failing each request, in `[0, 1]`.
        p: f64,
        /// 500 or 503.
        status: u16,
    },
    /// Every matching request fails: 503 `system_unavailable` or 500
    /// `internal_server_error`, JSON envelope. Requests arriving while an outage window
    /// is active are counted in [`Stats::during_outage`](crate::Stats::during_outage).
    Outage {
        /// 500 or 503.
        status: u16,
    },
    /// Access tokens (`rt_...`) older than `ttl` are refused with 401 `invalid_token`
    /// while the window is active. The static API key never expires.
    TokenExpiry {
        /// How long a token lives after it was issued.
        ttl: Duration,
    },
    /// 429 `rate_limit_exceeded`, JSON envelope, with `Retry-After: <seconds>` (rounded
    /// up) when `retry_after` is set. With `rps`, a real per-host limiter: within each
    /// second of simulator time the first `rps` matching requests pass and the rest get
    /// 429; without it, every matching request is throttled.
    Throttle {
        /// Requests allowed per second across the host, or `None` for "throttle all".
        rps: Option<NonZeroU32>,
        /// The `Retry-After` hint, or `None` for no header.
        retry_after: Option<Duration>,
    },
    /// 403 `account_limit_exceeded`, JSON envelope.
    AccountLimit,
    /// A load balancer's HTML page (`Content-Type: text/html`) with status 502, 503 or 504.
    Gateway {
        /// 502, 503 or 504.
        status: u16,
    },
    /// An error status (400 to 599) with a zero-byte body.
    EmptyBody {
        /// The status to send.
        status: u16,
    },
    /// The response (whatever it turns out to be) is delayed by `delay`. Combines with
    /// the other faults: several active `Slow` faults add up.
    Slow {
        /// The extra delay.
        delay: Duration,
    },
    /// The connection is reset (RST) after the request was read, without a response.
    /// Nothing is executed.
    Reset,
    /// The request is executed and the response's `Content-Length` promises more bytes
    /// than are sent before the connection closes.
    Truncated,
    /// The request **is executed** (a command queued, a device created), then the client
    /// gets an error instead of the success: what makes a blind retry of a POST run twice.
    /// Only successful answers are replaced; an error answer goes through unchanged.
    LostResponse {
        /// What the client sees instead.
        then: Lost,
    },
}

/// What the client sees in place of a lost response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lost {
    /// A status: 502 or 504 (HTML gateway page) or 503 (JSON `system_unavailable`).
    Status(u16),
    /// The connection is reset without a response.
    Reset,
}

/// The kind of a [`Fault`]: the key of [`Stats::faults`](crate::Stats::faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// [`Fault::Flaky`]
    Flaky,
    /// [`Fault::Outage`]
    Outage,
    /// [`Fault::TokenExpiry`] (counted when a token is refused because of it)
    TokenExpiry,
    /// [`Fault::Throttle`]
    Throttle,
    /// [`Fault::AccountLimit`]
    AccountLimit,
    /// [`Fault::Gateway`]
    Gateway,
    /// [`Fault::EmptyBody`]
    EmptyBody,
    /// [`Fault::Slow`]
    Slow,
    /// [`Fault::Reset`]
    Reset,
    /// [`Fault::Truncated`]
    Truncated,
    /// [`Fault::LostResponse`]
    LostResponse,
}

impl FaultKind {
    /// The snake-case name used in stats JSON, e.g. `"lost_response"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Flaky => "flaky",
            Self::Outage => "outage",
            Self::TokenExpiry => "token_expiry",
            Self::Throttle => "throttle",
            Self::AccountLimit => "account_limit",
            Self::Gateway => "gateway",
            Self::EmptyBody => "empty_body",
            Self::Slow => "slow",
            Self::Reset => "reset",
            Self::Truncated => "truncated",
            Self::LostResponse => "lost_response",
        }
    }
}

impl Fault {
    /// The fault's kind.
    pub const fn kind(&self) -> FaultKind {
        match self {
            Self::Flaky { .. } => FaultKind::Flaky,
            Self::Outage { .. } => FaultKind::Outage,
            Self::TokenExpiry { .. } => FaultKind::TokenExpiry,
            Self::Throttle { .. } => FaultKind::Throttle,
            Self::AccountLimit => FaultKind::AccountLimit,
            Self::Gateway { .. } => FaultKind::Gateway,
            Self::EmptyBody { .. } => FaultKind::EmptyBody,
            Self::Slow { .. } => FaultKind::Slow,
            Self::Reset => FaultKind::Reset,
            Self::Truncated => FaultKind::Truncated,
            Self::LostResponse { .. } => FaultKind::LostResponse,
        }
    }

    /// Why this fault cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match *self {
            Self::Flaky { p, .. } if !(0.0..=1.0).contains(&p) => Some("`p` must be in [0, 1]"),
            Self::Flaky { status, .. } | Self::Outage { status }
                if status != 500 && status != 503 =>
            {
                Some("status must be 500 or 503")
            }
            Self::Gateway { status }
            | Self::LostResponse {
                then: Lost::Status(status),
            } if !(502..=504).contains(&status) => Some("status must be 502, 503 or 504"),
            Self::EmptyBody { status } if !(400..=599).contains(&status) => {
                Some("status must be in 400..=599")
            }
            _ => None,
        }
    }
}

/// The JSON 500/503 the API sends when it is down.
pub(crate) fn unavailable(status: u16) -> Reply {
    if status == 500 {
        Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Unexpected internal server error.",
        )
    } else {
        Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "system_unavailable",
            "System unavailable.",
        )
    }
}

/// The 429 with an optional `Retry-After` in whole seconds, rounded up.
pub(crate) fn throttled(retry_after: Option<Duration>) -> Reply {
    let reply = Reply::error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Too many requests.",
    );
    match retry_after {
        Some(d) => {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            reply.with_header(RETRY_AFTER, HeaderValue::from(secs))
        }
        None => reply,
    }
}

/// The 403 for a reached account limit.
pub(crate) fn account_limit() -> Reply {
    Reply::error(
        StatusCode::FORBIDDEN,
        "account_limit_exceeded",
        "The account limit has been reached.",
    )
}

/// A status with nothing in the body.
pub(crate) fn empty(status: u16) -> Reply {
    Reply::new(status_code(status), Payload::Empty)
}

/// A gateway page for 502/504, the JSON 503 otherwise.
pub(crate) fn lost(status: u16) -> Reply {
    match status {
        503 => unavailable(503),
        _ => Reply::html(status_code(status)),
    }
}

/// `status` as a [`StatusCode`], 500 if out of range (validated earlier).
pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_statuses_outside_each_dialect() {
        assert!(Fault::Outage { status: 502 }.problem().is_some());
        assert!(Fault::Outage { status: 503 }.problem().is_none());
        assert!(
            Fault::Flaky {
                p: 1.5,
                status: 503
            }
            .problem()
            .is_some()
        );
        assert!(
            Fault::Flaky {
                p: f64::NAN,
                status: 503
            }
            .problem()
            .is_some()
        );
        assert!(Fault::Gateway { status: 500 }.problem().is_some());
        assert!(Fault::Gateway { status: 504 }.problem().is_none());
        assert!(
            Fault::LostResponse {
                then: Lost::Status(200)
            }
            .problem()
            .is_some()
        );
        assert!(
            Fault::LostResponse { then: Lost::Reset }
                .problem()
                .is_none()
        );
        assert!(Fault::EmptyBody { status: 200 }.problem().is_some());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = throttled(Some(Duration::from_millis(1500)));
        assert_eq!(r.headers[0].1, "2");
        let r = throttled(Some(Duration::from_secs(1)));
        assert_eq!(r.headers[0].1, "1");
        assert!(throttled(None).headers.is_empty());
        assert_eq!(r.error_type(), Some("rate_limit_exceeded"));
    }
}
