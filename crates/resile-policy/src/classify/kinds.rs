//! The small enums a classification is made of.

use std::fmt;
use std::str::FromStr;

macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lowercase `snake_case` name used in the spec and in JSON output.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { kind: stringify!($name) }),
                }
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A name that is not one of the enum's `snake_case` names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a known {kind} name")]
pub struct UnknownName {
    kind: &'static str,
}

named_enum! {
    /// What to do next: the one thing every caller must decide.
    pub enum Class {
        /// Status below 400: hand the response to the caller.
        Success => "success",
        /// May succeed later unchanged: wait, then resend if replay is safe.
        Retryable => "retryable",
        /// The credential was refused: fetch a fresh one and replay once.
        Reauth => "reauth",
        /// Fails again unchanged: the caller must change the request.
        FixRequest => "fix_request",
        /// An operator must act (permissions, limits, unsupported features).
        Fatal => "fatal",
    }
}

named_enum! {
    /// Whose health the outcome describes.
    pub enum Scope {
        /// The API host: feeds the host's circuit breaker and pacing.
        Host => "host",
        /// One device behind a Connect route: only that device waits.
        Device => "device",
        /// This request alone.
        Request => "request",
    }
}

named_enum! {
    /// The specific cause. Class and scope are the contract; reasons refine them and
    /// keep the distinctions later rules need (throttling apart from outages, a full
    /// device queue apart from an unreachable device, connect failures apart from
    /// failures after the request left).
    pub enum Reason {
        /// 500 and other 5xx without a more specific meaning.
        ServerError => "server_error",
        /// 503 from the host.
        Unavailable => "unavailable",
        /// 502 or 504 from a gateway in front of the host.
        Gateway => "gateway",
        /// 429: slow down (pacing, never a breaker failure).
        Throttled => "throttled",
        /// 408: the server gave up waiting for the request.
        RequestTimeout => "request_timeout",
        /// 424: the account's external certificate authority failed.
        DependencyFailed => "dependency_failed",
        /// The connection could not be made; no request byte left.
        TransportConnect => "transport_connect",
        /// No answer in time after the request was sent.
        TransportTimeout => "transport_timeout",
        /// The connection broke after the request was sent.
        TransportReset => "transport_reset",
        /// The device's command queue is full (`QUEUE_IS_FULL`).
        DeviceQueueFull => "device_queue_full",
        /// The device is asleep, offline or unreachable.
        DeviceUnreachable => "device_unreachable",
        /// The token expired or was revoked.
        TokenExpired => "token_expired",
        /// The credential is missing, malformed or unknown.
        CredentialsInvalid => "credentials_invalid",
        /// The request is malformed.
        BadRequest => "bad_request",
        /// A parameter failed validation (see the body's `fields`).
        Validation => "validation",
        /// Plain `http://` was used; use HTTPS.
        InsecureTransport => "insecure_transport",
        /// The resource or route does not exist.
        NotFound => "not_found",
        /// The method is not supported on this route.
        MethodNotSupported => "method_not_supported",
        /// The `Accept` header cannot be satisfied.
        NotAcceptable => "not_acceptable",
        /// State conflict, such as creating something that exists.
        Conflict => "conflict",
        /// The device or channel is gone.
        Gone => "gone",
        /// A precondition on the current state failed.
        PreconditionFailed => "precondition_failed",
        /// The payload is too large.
        PayloadTooLarge => "payload_too_large",
        /// The `Content-Type` is not accepted.
        UnsupportedMediaType => "unsupported_media_type",
        /// The WebSocket upgrade headers are wrong.
        UpgradeRequired => "upgrade_required",
        /// A valid credential of the wrong kind for this request.
        AuthMismatch => "auth_mismatch",
        /// Not permitted (policies, groups, export control).
        AccessDenied => "access_denied",
        /// An account limit was reached; waiting does not clear it.
        AccountLimit => "account_limit",
        /// 501: the server does not implement this.
        NotImplemented => "not_implemented",
        /// 505: the HTTP version is not supported.
        UnsupportedHttpVersion => "unsupported_http_version",
        /// A status with no specific meaning in the model.
        Unknown => "unknown",
    }
}

named_enum! {
    /// How the error body was written.
    pub enum Dialect {
        /// A JSON object: the error envelope.
        Json => "json",
        /// One bare upper-case word, as Connect sends (`QUEUE_IS_FULL`).
        PlainToken => "plain_token",
        /// Zero bytes or whitespace.
        Empty => "empty",
        /// An HTML page, usually from a load balancer.
        Html => "html",
        /// Anything else, including invalid UTF-8 and JSON cut short.
        Text => "text",
    }
}

named_enum! {
    /// A failure before a complete status line and headers arrived.
    pub enum Transport {
        /// Refused, DNS failure, TLS handshake failure or connect timeout: nothing was
        /// sent. An HTTP/2 `REFUSED_STREAM` (or a GOAWAY below the request's stream id)
        /// also guarantees no processing and belongs here.
        Connect => "connect",
        /// No answer in time after the request was (or may have been) sent.
        Timeout => "timeout",
        /// The connection reset or the message broke off after sending.
        Reset => "reset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Class::ALL {
            assert_eq!(c.as_str().parse::<Class>().unwrap(), *c);
        }
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
            assert_eq!(r.to_string(), r.as_str());
        }
        assert!("Retryable".parse::<Class>().is_err());
        assert_eq!(Reason::ALL.len(), 31);
    }
}
