//! Device routes and host routes.
//!
//! Connect routes relay a request to one device. A sleeping or offline device answers
//! 502, 503 or 504 there, routinely, and that says nothing about the API host: a host
//! breaker fed with those would open and cut off every healthy device. So the path
//! decides the scope of a gateway failure, and [`Routes`] says which paths are device
//! routes.

use std::sync::LazyLock;

use crate::ConfigError;

/// Which paths are device routes, and where the device id sits in them.
///
/// Patterns are `/`-separated segments: a literal, `{device}` (the device id, any
/// non-empty segment), `*` (any one segment) or, last, `**` (one or more segments).
/// A query string and one trailing slash are ignored when matching.
///
/// The defaults are the spec's three device routes:
///
/// | pattern | 429 means |
/// |---|---|
/// | `/v2/device-requests/{device}` | host throttling |
/// | `/v2/endpoints/{device}/**` | the device queue is full |
/// | `/v2/subscriptions/{device}/**` | the device queue is full |
///
/// plus `/v3/devices/{device}/**` as a place to find a device id for device-scoped
/// outcomes (423 on certificate renewal) without making it a device route.
///
/// ```
/// use resile_policy::classify::{Route, Routes};
///
/// let routes = Routes::builder()
///     .prefix("/dm")
///     .device_route("/v4/things/{device}/commands")
///     .build()
///     .unwrap();
/// assert_eq!(
///     routes.route("/dm/v2/device-requests/abc?async-id=1"),
///     Route::Device { id: Some("abc"), queue_429: false },
/// );
/// assert_eq!(routes.route("/dm/v4/things/t1/commands/"), Route::Device { id: Some("t1"), queue_429: true });
/// assert_eq!(routes.route("/dm/v3/devices"), Route::Host);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    prefix: String,
    /// What every device route's literal prefix starts with: one comparison
    /// rejects most host routes.
    lead: String,
    device: Vec<Pattern>,
    id_only: Vec<Pattern>,
}

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route<'p> {
    /// A host route: its failures are about the API host.
    Host,
    /// A device route: 502/503/504 mean one device is unreachable.
    Device {
        /// The device id from the path, if the pattern has `{device}`.
        id: Option<&'p str>,
        /// Whether a 429 here means a full device queue rather than host throttling.
        queue_429: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    /// The literal text before the first wildcard, for a cheap early rejection.
    literal_prefix: String,
    queue_429: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Device,
    Any,
    Rest,
}

static DEFAULT: LazyLock<Routes> = LazyLock::new(|| {
    let mut routes = Routes {
        prefix: String::new(),
        lead: String::new(),
        device: Vec::new(),
        id_only: Vec::new(),
    };
    let add = |v: &mut Vec<Pattern>, p: &str, queue_429: bool| {
        v.push(Pattern::parse(p, queue_429).expect("built-in patterns are valid"));
    };
    add(&mut routes.device, "/v2/device-requests/{device}", false);
    add(&mut routes.device, "/v2/endpoints/{device}/**", true);
    add(&mut routes.device, "/v2/subscriptions/{device}/**", true);
    add(&mut routes.id_only, "/v3/devices/{device}/**", false);
    add(&mut routes.id_only, "/v3/devices/{device}", false);
    routes.lead = routes.common_lead();
    routes
});

impl Default for Routes {
    fn default() -> Self {
        DEFAULT.clone()
    }
}

impl Routes {
    /// The default routes, shared (no allocation).
    pub fn standard() -> &'static Routes {
        &DEFAULT
    }

    /// A builder starting from the default routes.
    pub fn builder() -> RoutesBuilder {
        RoutesBuilder {
            routes: Routes::default(),
            error: None,
        }
    }

    /// Whether `path` is a host or a device route.
    pub fn route<'p>(&self, path: &'p str) -> Route<'p> {
        // Most paths are host routes: reject them on the literal prefixes alone,
        // before any scanning (a query string cannot precede a literal prefix).
        let rest = strip_literal(path, &self.prefix).unwrap_or("");
        if !rest.as_bytes().starts_with(self.lead.as_bytes())
            || !self
                .device
                .iter()
                .any(|p| rest.starts_with(p.literal_prefix.as_str()))
        {
            return Route::Host;
        }
        let Some(path) = self.strip(path) else {
            return Route::Host;
        };
        for p in &self.device {
            if let Some(id) = p.matches(path) {
                return Route::Device {
                    id,
                    queue_429: p.queue_429,
                };
            }
        }
        Route::Host
    }

    /// The device id in `path`, from a device route or an id-only pattern.
    pub fn device_id<'p>(&self, path: &'p str) -> Option<&'p str> {
        let path = self.strip(path)?;
        self.device
            .iter()
            .chain(&self.id_only)
            .find_map(|p| p.matches(path))
            .flatten()
    }

    /// The longest prefix common to every device route's literal prefix (empty
    /// without device routes: nothing to reject early).
    fn common_lead(&self) -> String {
        let mut prefixes = self.device.iter().map(|p| p.literal_prefix.as_str());
        let Some(first) = prefixes.next() else {
            return String::new();
        };
        let len = prefixes.fold(first.len(), |len, p| {
            first
                .bytes()
                .zip(p.bytes())
                .take(len)
                .take_while(|(a, b)| a == b)
                .count()
        });
        // Whole characters only (the prefixes are paths, possibly not ASCII).
        let len = (0..=len)
            .rev()
            .find(|&i| first.is_char_boundary(i))
            .unwrap_or(0);
        first[..len].to_owned()
    }

    fn strip<'p>(&self, path: &'p str) -> Option<&'p str> {
        let end = path
            .bytes()
            .position(|b| b == b'?' || b == b'#')
            .unwrap_or(path.len());
        let path = &path[..end];
        let path = strip_literal(path, &self.prefix)?;
        Some(path.strip_suffix('/').unwrap_or(path))
    }
}

/// `path` without `prefix`, if it starts with it. Byte-wise on purpose: the
/// `&str` pattern of `str::strip_prefix` builds a substring searcher for an empty
/// needle, which cost ~40 ns per call here (most callers have no prefix).
fn strip_literal<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix.is_empty() {
        return Some(path);
    }
    path.as_bytes()
        .starts_with(prefix.as_bytes())
        .then(|| &path[prefix.len()..])
}

/// Builds [`Routes`]; see there for the pattern syntax.
#[derive(Debug, Clone)]
pub struct RoutesBuilder {
    routes: Routes,
    error: Option<ConfigError>,
}

impl RoutesBuilder {
    /// A path prefix in front of every API path (a proxy mount point), e.g. `/dm`.
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.routes.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Adds a device route; a 429 on it means a full device queue.
    #[must_use]
    pub fn device_route(self, pattern: &str) -> Self {
        self.push(pattern, true)
    }

    /// Adds a device route on which a 429 means host throttling.
    #[must_use]
    pub fn device_route_host_429(self, pattern: &str) -> Self {
        self.push(pattern, false)
    }

    /// Removes every device route, the defaults included.
    #[must_use]
    pub fn clear(mut self) -> Self {
        self.routes.device.clear();
        self.routes.id_only.clear();
        self
    }

    /// The routes, or the first invalid pattern.
    pub fn build(self) -> Result<Routes, ConfigError> {
        match self.error {
            Some(e) => Err(e),
            None => {
                let mut routes = self.routes;
                routes.lead = routes.common_lead();
                Ok(routes)
            }
        }
    }

    fn push(mut self, pattern: &str, queue_429: bool) -> Self {
        match Pattern::parse(pattern, queue_429) {
            Ok(p) => self.routes.device.push(p),
            Err(problem) => {
                self.error
                    .get_or_insert(ConfigError::new("routes.device_route", problem));
            }
        }
        self
    }
}

impl Pattern {
    fn parse(pattern: &str, queue_429: bool) -> Result<Self, &'static str> {
        let body = pattern
            .strip_prefix('/')
            .ok_or("a pattern must start with `/`")?;
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut segments = Vec::new();
        let parts: Vec<&str> = body.split('/').collect();
        for (i, s) in parts.iter().enumerate() {
            segments.push(match *s {
                "" => return Err("empty segment in pattern"),
                "{device}" if segments.contains(&Segment::Device) => {
                    return Err("`{device}` appears twice");
                }
                "{device}" => Segment::Device,
                "*" => Segment::Any,
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => return Err("`**` must be the last segment"),
                lit if lit.contains(['{', '}', '*']) => return Err("unknown wildcard"),
                lit => Segment::Literal(lit.to_owned()),
            });
        }
        let mut literal_prefix = String::new();
        for seg in &segments {
            match seg {
                Segment::Literal(l) => {
                    literal_prefix.push('/');
                    literal_prefix.push_str(l);
                }
                _ => {
                    literal_prefix.push('/');
                    break;
                }
            }
        }
        Ok(Self {
            segments,
            literal_prefix,
            queue_429,
        })
    }

    /// `Some(device id)` when `path` (prefix and trailing slash stripped) matches.
    fn matches<'p>(&self, path: &'p str) -> Option<Option<&'p str>> {
        if !path.starts_with(self.literal_prefix.as_str()) {
            return None;
        }
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut id = None;
        for seg in &self.segments {
            match seg {
                Segment::Rest => {
                    return parts.next().filter(|s| !s.is_empty()).map(|_| id);
                }
                _ => {
                    let part = parts.next().filter(|s| !s.is_empty())?;
                    match seg {
                        Segment::Literal(l) if l != part => return None,
                        Segment::Device => id = Some(part),
                        _ => {}
                    }
                }
            }
        }
        parts.next().is_none().then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "0161b8e8a2d10a580a01020300000000";

    #[test]
    fn spec_routes() {
        let r = Routes::standard();
        let dev = |id| Route::Device {
            id: Some(id),
            queue_429: false,
        };
        let q = |id| Route::Device {
            id: Some(id),
            queue_429: true,
        };
        assert_eq!(r.route(&format!("/v2/device-requests/{D}")), dev(D));
        assert_eq!(
            r.route(&format!("/v2/device-requests/{D}/?async-id=1")),
            dev(D)
        );
        assert_eq!(r.route(&format!("/v2/endpoints/{D}/3/0/1")), q(D));
        assert_eq!(r.route(&format!("/v2/subscriptions/{D}/3200/0/5501")), q(D));
        // Host routes: cached endpoint, stored subscription set, notifications, v3.
        for p in [
            format!("/v2/endpoints/{D}"),
            format!("/v2/endpoints/{D}/"),
            format!("/v2/subscriptions/{D}"),
            "/v2/subscriptions".to_owned(),
            "/v2/notification/pull".to_owned(),
            "/v2/device-requests".to_owned(),
            "/v2/device-requests//".to_owned(),
            format!("/v3/devices/{D}"),
            format!("/v2/device-requests/{D}/extra"),
            String::new(),
            "no-slash".to_owned(),
        ] {
            assert_eq!(r.route(&p), Route::Host, "{p}");
        }
    }

    #[test]
    fn device_ids() {
        let r = Routes::standard();
        assert_eq!(
            r.device_id(&format!("/v3/devices/{D}/certificates/x/renew")),
            Some(D)
        );
        assert_eq!(r.device_id(&format!("/v3/devices/{D}/")), Some(D));
        assert_eq!(r.device_id("/v3/devices"), None);
        assert_eq!(r.device_id(&format!("/v2/device-requests/{D}")), Some(D));
    }

    #[test]
    fn bad_patterns_name_the_field() {
        for p in [
            "v2/x/{device}",
            "/a//b",
            "/a/**/b",
            "/a/{device}/{device}",
            "/a/{id}",
        ] {
            let err = Routes::builder().device_route(p).build().unwrap_err();
            assert_eq!(err.field(), "routes.device_route", "{p}");
        }
    }

    #[test]
    fn prefix_and_clear() {
        let r = Routes::builder().prefix("/proxy/").build().unwrap();
        assert_eq!(r.route(&format!("/v2/device-requests/{D}")), Route::Host);
        assert!(matches!(
            r.route(&format!("/proxy/v2/device-requests/{D}")),
            Route::Device { .. }
        ));
        let r = Routes::builder().clear().build().unwrap();
        assert_eq!(r.route(&format!("/v2/device-requests/{D}")), Route::Host);
    }

    #[test]
    fn routes_outside_the_defaults_lead_are_still_found() {
        // The early rejection compares against what all device routes share: a
        // route added beside the `/v2/` defaults must widen it.
        let r = Routes::builder()
            .device_route("/things/{device}/commands")
            .device_route("/v2/élan/{device}")
            .build()
            .unwrap();
        assert_eq!(r.lead, "/");
        assert_eq!(
            r.route(&format!("/things/{D}/commands")),
            Route::Device {
                id: Some(D),
                queue_429: true
            }
        );
        assert_eq!(
            r.route("/v2/élan/x"),
            Route::Device {
                id: Some("x"),
                queue_429: true
            }
        );
        assert!(matches!(
            r.route(&format!("/v2/endpoints/{D}/3")),
            Route::Device { .. }
        ));
        assert_eq!(Routes::standard().lead, "/v2/");
        let only = Routes::builder()
            .clear()
            .device_route("/v2/é/{device}")
            .device_route("/v2/è/{device}")
            .build()
            .unwrap();
        // Both start with the same first byte of a two-byte character: the lead
        // stops before it.
        assert_eq!(only.lead, "/v2/");
        assert_eq!(
            only.route("/v2/è/d"),
            Route::Device {
                id: Some("d"),
                queue_429: true
            }
        );
        assert_eq!(Routes::builder().clear().build().unwrap().lead, "");
    }
}
