//! Where a token may go: configured hosts, over TLS (loopback excepted on request).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use crate::ConfigError;

/// Whether to attach the token to a request, from [`HostAllowList::may_attach`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attach {
    /// A configured host over `https`/`wss` (or allowed loopback): attach the token.
    Token,
    /// A configured host over plain `http`/`ws` (or an unknown scheme): refuse locally,
    /// before sending, since the server's 403 would come after the token crossed the
    /// network in the clear.
    RefuseInsecure,
    /// Not a configured host (a redirect elsewhere, another service, or an authority
    /// that does not parse): never attach the token there.
    NotConfigured,
}

/// The hosts a token may be sent to.
///
/// Entries are `host` or `host:port`; a host is a DNS name, an IPv4 address or a
/// bracketed IPv6 address. Matching is exact and case-insensitive, with one trailing dot
/// ignored (`api.example.com.` is the same name): no suffix or prefix matching, so
/// `api.example.com.evil.org` is not `api.example.com`. A missing port means the
/// scheme's default (443 for `https`/`wss`, 80 for `http`/`ws`). An authority with
/// userinfo (`user@host`) never matches.
///
/// Plain `http` is refused even for a configured host, unless the host is loopback
/// (`localhost`, `127.0.0.0/8`, `::1`) and [`allow_loopback_http`](Self::allow_loopback_http)
/// was set, for tests against a local simulator.
///
/// ```
/// use resile_policy::auth::{Attach, HostAllowList};
///
/// let hosts = HostAllowList::new(["api.us-east-1.mbedcloud.com"])?;
/// assert_eq!(hosts.may_attach("https", "API.us-east-1.mbedcloud.com"), Attach::Token);
/// assert_eq!(hosts.may_attach("https", "api.us-east-1.mbedcloud.com:443"), Attach::Token);
/// assert_eq!(hosts.may_attach("http", "api.us-east-1.mbedcloud.com"), Attach::RefuseInsecure);
/// assert_eq!(hosts.may_attach("https", "api.us-east-1.mbedcloud.com.evil.org"), Attach::NotConfigured);
///
/// let local = HostAllowList::new(["127.0.0.1:8080"])?.allow_loopback_http(true);
/// assert_eq!(local.may_attach("http", "127.0.0.1:8080"), Attach::Token);
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowList {
    hosts: Vec<Entry>,
    allow_loopback_http: bool,
    /// Each entry as written (lowercase, no trailing dot) and whether it is
    /// loopback: a URL's authority usually equals one byte for byte, which settles
    /// the question without parsing.
    exact: Vec<(Box<str>, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: OwnedHost,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedHost {
    Name(Box<str>),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
enum Host<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

impl HostAllowList {
    /// The hosts in `hosts` (at least one), plain `http` refused everywhere.
    ///
    /// The error names `auth.hosts` and quotes the first entry that is not `host[:port]`
    /// (a scheme, path, userinfo or bad port is refused rather than never matching).
    pub fn new<I>(hosts: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut entries = Vec::new();
        let mut exact = Vec::new();
        for item in hosts {
            let text = item.as_ref();
            let Some((host, port)) = parse_authority(text) else {
                let problem = format!("`{text}` is not `host` or `host:port`");
                return Err(ConfigError::new("auth.hosts", Cow::Owned(problem)));
            };
            let canonical = text.to_ascii_lowercase();
            let canonical = canonical.strip_suffix('.').unwrap_or(&canonical);
            if !canonical.contains(".:") {
                exact.push((canonical.into(), host.is_loopback()));
            }
            let host = match host {
                Host::Name(name) => OwnedHost::Name(name.to_ascii_lowercase().into()),
                Host::Ip(ip) => OwnedHost::Ip(ip),
            };
            entries.push(Entry { host, port });
        }
        if entries.is_empty() {
            return Err(ConfigError::new(
                "auth.hosts",
                "must name at least one host",
            ));
        }
        Ok(Self {
            hosts: entries,
            allow_loopback_http: false,
            exact,
        })
    }

    /// Also attach over plain `http`/`ws` when the host is loopback (default: no).
    #[must_use]
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// Whether a token may go to `authority` (`host[:port]`, as in a URL) over `scheme`.
    /// Allocates nothing.
    #[must_use]
    pub fn may_attach(&self, scheme: &str, authority: &str) -> Attach {
        if let Some(&(_, loopback)) = self.exact.iter().find(|(e, _)| **e == *authority) {
            return match Scheme::of(scheme) {
                Scheme::Secure => Attach::Token,
                _ if self.allow_loopback_http && loopback => Attach::Token,
                _ => Attach::RefuseInsecure,
            };
        }
        let Some((host, port)) = parse_authority(authority) else {
            return Attach::NotConfigured;
        };
        let (secure, default_port) = match Scheme::of(scheme) {
            Scheme::Secure => (true, Some(443)),
            Scheme::Plain => (false, Some(80)),
            Scheme::Unknown => (false, None),
        };
        let port = port.or(default_port);
        let configured = self
            .hosts
            .iter()
            .any(|e| e.host.matches(host) && e.port.or(default_port) == port);
        if !configured {
            Attach::NotConfigured
        } else if secure || (self.allow_loopback_http && host.is_loopback()) {
            Attach::Token
        } else {
            Attach::RefuseInsecure
        }
    }
}

enum Scheme {
    Secure,
    Plain,
    Unknown,
}

impl Scheme {
    fn of(scheme: &str) -> Self {
        // A URL's scheme is lower case: compare exactly first.
        match scheme {
            "https" | "wss" => return Self::Secure,
            "http" | "ws" => return Self::Plain,
            _ => {}
        }
        let is = |s: &str| scheme.eq_ignore_ascii_case(s);
        if is("https") || is("wss") {
            Self::Secure
        } else if is("http") || is("ws") {
            Self::Plain
        } else {
            Self::Unknown
        }
    }
}

impl OwnedHost {
    fn matches(&self, other: Host<'_>) -> bool {
        match (self, other) {
            (Self::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Self::Ip(a), Host::Ip(b)) => *a == b,
            _ => false,
        }
    }
}

impl Host<'_> {
    fn is_loopback(self) -> bool {
        match self {
            Self::Name(name) => name.eq_ignore_ascii_case("localhost"),
            Self::Ip(IpAddr::V4(ip)) => ip.is_loopback(),
            Self::Ip(IpAddr::V6(ip)) => ip == Ipv6Addr::LOCALHOST,
        }
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `None` for anything else, including
/// userinfo, paths, empty or non-decimal ports and malformed names.
fn parse_authority(text: &str) -> Option<(Host<'_>, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (Host::Ip(IpAddr::V6(inside.parse().ok()?)), port)
    } else {
        let (name, port) = match text.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        let host = match name.parse() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) if is_dns_name(name) => Host::Name(name),
            Err(_) => return None,
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// Non-empty dot-separated labels of letters, digits, `-` and `_`.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "api.example.com";

    fn list(hosts: &[&str]) -> HostAllowList {
        HostAllowList::new(hosts).unwrap()
    }

    #[test]
    fn exact_names_match_case_insensitively_with_one_trailing_dot() {
        let hosts = list(&[API]);
        for ok in [
            "api.example.com",
            "API.Example.COM",
            "api.example.com.",
            "api.example.com:443",
        ] {
            assert_eq!(hosts.may_attach("https", ok), Attach::Token, "{ok}");
            assert_eq!(hosts.may_attach("HTTPS", ok), Attach::Token, "{ok}");
        }
        let dotted = list(&["api.example.com."]);
        assert_eq!(dotted.may_attach("https", API), Attach::Token);
    }

    #[test]
    fn look_alikes_do_not_match() {
        let hosts = list(&[API]);
        for bad in [
            "api.example.com.evil.org",
            "evil-api.example.com",
            "xapi.example.com",
            "api.example.co",
            "api.example.com..",
            "sub.api.example.com",
            "api.example.com@evil.org",
            "evil.org@api.example.com",
            "user:pass@api.example.com",
            "api.example.com/path",
            "api.example.com:",
            "api.example.com:+443",
            "api.example.com:99999",
            "api.example.com:443:443",
            "api.example.com\t",
            " api.example.com",
            "",
        ] {
            assert_eq!(
                hosts.may_attach("https", bad),
                Attach::NotConfigured,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ports_must_agree_with_defaults_filled_in() {
        let hosts = list(&[API, "other.example.com:8443"]);
        assert_eq!(
            hosts.may_attach("https", "api.example.com:8443"),
            Attach::NotConfigured
        );
        assert_eq!(hosts.may_attach("wss", "api.example.com"), Attach::Token);
        assert_eq!(
            hosts.may_attach("https", "other.example.com:8443"),
            Attach::Token
        );
        assert_eq!(
            hosts.may_attach("https", "other.example.com"),
            Attach::NotConfigured
        );
        let explicit = list(&["api.example.com:443"]);
        assert_eq!(explicit.may_attach("https", API), Attach::Token);
        // `api.example.com` over http means port 80, which the https entry does not cover...
        assert_eq!(explicit.may_attach("http", API), Attach::NotConfigured);
        // ...while an entry without a port is the same host over any scheme: refused.
        assert_eq!(hosts.may_attach("http", API), Attach::RefuseInsecure);
        assert_eq!(hosts.may_attach("ftp", API), Attach::RefuseInsecure);
    }

    #[test]
    fn plain_http_only_to_allowed_loopback() {
        let entries = [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "127.1.2.3:8080",
        ];
        let strict = list(&entries);
        let local = list(&entries).allow_loopback_http(true);
        for authority in entries
            .iter()
            .copied()
            .chain(["LOCALHOST.:8080", "[0:0:0:0:0:0:0:1]:8080"])
        {
            assert_eq!(
                strict.may_attach("http", authority),
                Attach::RefuseInsecure,
                "{authority}"
            );
            assert_eq!(
                local.may_attach("http", authority),
                Attach::Token,
                "{authority}"
            );
            assert_eq!(
                local.may_attach("ws", authority),
                Attach::Token,
                "{authority}"
            );
        }
        // Configured but not loopback: still refused over http.
        let remote = list(&[
            "10.0.0.1:8080",
            "[2001:db8::1]:8080",
            "localhost.evil.org:8080",
        ])
        .allow_loopback_http(true);
        for authority in [
            "10.0.0.1:8080",
            "[2001:DB8::1]:8080",
            "localhost.evil.org:8080",
        ] {
            assert_eq!(
                remote.may_attach("http", authority),
                Attach::RefuseInsecure,
                "{authority}"
            );
            assert_eq!(
                remote.may_attach("https", authority),
                Attach::Token,
                "{authority}"
            );
        }
        // Loopback but not configured: never.
        assert_eq!(
            local.may_attach("http", "127.0.0.1:9090"),
            Attach::NotConfigured
        );
        assert_eq!(
            local.may_attach("http", "127.0.0.2:8080"),
            Attach::NotConfigured
        );
    }

    #[test]
    fn ipv6_needs_brackets_and_compares_by_value() {
        let hosts = list(&["[2001:db8::1]"]);
        assert_eq!(
            hosts.may_attach("https", "[2001:0db8:0:0:0:0:0:1]"),
            Attach::Token
        );
        assert_eq!(
            hosts.may_attach("https", "[2001:db8::1]:443"),
            Attach::Token
        );
        for bad in [
            "2001:db8::1",
            "[2001:db8::1",
            "[2001:db8::1]443",
            "[2001:db8::1%25eth0]",
        ] {
            assert_eq!(
                hosts.may_attach("https", bad),
                Attach::NotConfigured,
                "{bad}"
            );
        }
        assert!(HostAllowList::new(["::1"]).is_err());
    }

    #[test]
    fn bad_entries_are_config_errors() {
        for bad in [
            "https://api.example.com",
            "api.example.com/v3",
            "user@api.example.com",
            "",
            "a..b",
            "host:http",
        ] {
            let err = HostAllowList::new([bad]).unwrap_err();
            assert_eq!(err.field(), "auth.hosts", "{bad}");
        }
        let err = HostAllowList::new(Vec::<String>::new()).unwrap_err();
        assert_eq!(err.problem(), "must name at least one host");
    }
}
