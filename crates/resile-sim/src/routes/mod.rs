//! Which route a request asked for, and the handlers behind each.
//!
//! Matching uses the path alone (one trailing slash ignored, segments percent-decoded).
//! A known path with the wrong method is [`RouteKind::MethodNotAllowed`] (405
//! `method_not_supported`); anything else unknown is [`RouteKind::Unrecognized`] (404
//! `unrecognized_request`).

mod commands;
mod control;
mod devices;

pub(crate) use commands::enqueue;
pub(crate) use control::{issue_token, stats_reply};
pub(crate) use devices::{create_device, get_device, list_devices};

use http::Method;
use serde::{Deserialize, Serialize};

use crate::query::decode;

/// The kind of route a request hit: the key of [`Stats::route`](crate::Stats::route)
/// and a fault [`Target`](crate::Target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RouteKind {
    /// `GET /v3/devices`
    ListDevices,
    /// `GET /v3/devices/{id}`
    GetDevice,
    /// `POST /v3/devices`
    CreateDevice,
    /// `POST /v2/device-requests/{device-id}?async-id=..` (a device command; not idempotent)
    DeviceRequest,
    /// `POST /__sim/token` (simulator control; no auth)
    Token,
    /// `GET /__sim/stats` (simulator control; no auth; never faulted)
    Stats,
    /// `POST /__sim/reset` (simulator control; no auth; never faulted)
    Reset,
    /// A known path with a method it does not support (405).
    MethodNotAllowed,
    /// Any other path (404 `unrecognized_request`).
    Unrecognized,
}

impl RouteKind {
    /// The snake-case name used in stats JSON, e.g. `"list_devices"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ListDevices => "list_devices",
            Self::GetDevice => "get_device",
            Self::CreateDevice => "create_device",
            Self::DeviceRequest => "device_request",
            Self::Token => "token",
            Self::Stats => "stats",
            Self::Reset => "reset",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unrecognized => "unrecognized",
        }
    }

    /// True for the simulator's own `/__sim/*` routes, which need no credential and which
    /// [`Target::All`](crate::Target::All) leaves alone.
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Token | Self::Stats | Self::Reset)
    }
}

/// A matched route with its path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ListDevices,
    GetDevice(String),
    CreateDevice,
    DeviceRequest(String),
    Token,
    Stats,
    Reset,
    /// A known path; the value is its `Allow` header.
    MethodNotAllowed(&'static str),
    Unrecognized,
}

impl Route {
    /// Matches `method` and `path` (query excluded).
    pub(crate) fn matching(method: &Method, path: &str) -> Self {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
        let parts = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        );
        let is = |m: &Method| method == m;
        match parts {
            (Some("v3"), Some("devices"), None, _) => {
                if is(&Method::GET) {
                    Self::ListDevices
                } else if is(&Method::POST) {
                    Self::CreateDevice
                } else {
                    Self::MethodNotAllowed("GET, POST")
                }
            }
            (Some("v3"), Some("devices"), Some(id), None) if !id.is_empty() => {
                if is(&Method::GET) {
                    Self::GetDevice(decode(id, false))
                } else {
                    Self::MethodNotAllowed("GET")
                }
            }
            (Some("v2"), Some("device-requests"), Some(id), None) if !id.is_empty() => {
                if is(&Method::POST) {
                    Self::DeviceRequest(decode(id, false))
                } else {
                    Self::MethodNotAllowed("POST")
                }
            }
            (Some("__sim"), Some(name), None, _) => match name {
                "token" if is(&Method::POST) => Self::Token,
                "stats" if is(&Method::GET) => Self::Stats,
                "reset" if is(&Method::POST) => Self::Reset,
                "token" | "reset" => Self::MethodNotAllowed("POST"),
                "stats" => Self::MethodNotAllowed("GET"),
                _ => Self::Unrecognized,
            },
            _ => Self::Unrecognized,
        }
    }

    /// The route's kind.
    pub(crate) const fn kind(&self) -> RouteKind {
        match self {
            Self::ListDevices => RouteKind::ListDevices,
            Self::GetDevice(_) => RouteKind::GetDevice,
            Self::CreateDevice => RouteKind::CreateDevice,
            Self::DeviceRequest(_) => RouteKind::DeviceRequest,
            Self::Token => RouteKind::Token,
            Self::Stats => RouteKind::Stats,
            Self::Reset => RouteKind::Reset,
            Self::MethodNotAllowed(_) => RouteKind::MethodNotAllowed,
            Self::Unrecognized => RouteKind::Unrecognized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(method: &Method, path: &str) -> Route {
        Route::matching(method, path)
    }

    #[test]
    fn matches_every_route_and_rejects_the_rest() {
        assert_eq!(m(&Method::GET, "/v3/devices"), Route::ListDevices);
        assert_eq!(m(&Method::GET, "/v3/devices/"), Route::ListDevices);
        assert_eq!(m(&Method::POST, "/v3/devices"), Route::CreateDevice);
        assert_eq!(
            m(&Method::DELETE, "/v3/devices"),
            Route::MethodNotAllowed("GET, POST")
        );
        assert_eq!(
            m(&Method::GET, "/v3/devices/abc"),
            Route::GetDevice("abc".into())
        );
        assert_eq!(
            m(&Method::GET, "/v3/devices/a%62c/"),
            Route::GetDevice("abc".into())
        );
        assert_eq!(
            m(&Method::PUT, "/v3/devices/abc"),
            Route::MethodNotAllowed("GET")
        );
        assert_eq!(
            m(&Method::POST, "/v2/device-requests/d1"),
            Route::DeviceRequest("d1".into())
        );
        assert_eq!(
            m(&Method::GET, "/v2/device-requests/d1"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(m(&Method::POST, "/__sim/token"), Route::Token);
        assert_eq!(m(&Method::GET, "/__sim/stats"), Route::Stats);
        assert_eq!(m(&Method::POST, "/__sim/reset"), Route::Reset);
        assert_eq!(
            m(&Method::GET, "/__sim/token"),
            Route::MethodNotAllowed("POST")
        );
        for path in [
            "/",
            "",
            "//",
            "/v3",
            "/v3/device",
            "/v3/devices//",
            "/v3/devices/a/b",
            "/v2/device-requests",
            "/v2/device-requests/",
            "/__sim/nope",
            "/%zz",
            "/v3/devices/a//",
        ] {
            assert_eq!(
                m(&Method::GET, path).kind(),
                RouteKind::Unrecognized,
                "{path:?}"
            );
        }
    }
}
