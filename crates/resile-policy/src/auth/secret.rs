//! A bearer token that never prints itself.

use std::fmt;
use std::sync::Arc;

/// A bearer token: an API key, a user session token, a JWT or anything else the
/// caller's provider hands over.
///
/// Cloning is cheap (one reference count), so the current token can be attached to every
/// request without copying it. The token's characters leave this type only through
/// [`expose`](Self::expose): [`Debug`](fmt::Debug) and [`Display`](fmt::Display) show at
/// most its [kind](SecretKind), as `Secret(ak_…)`, `Secret(rt_…)`, `Secret(jwt)` or
/// `Secret(redacted)`, so a token inside a logged struct or error stays hidden.
///
/// Equality runs in time that depends only on the lengths, not on where the tokens
/// differ. The memory is not zeroed on drop (that would need a dependency), so treat a
/// process dump as containing the token.
///
/// ```
/// use resile_policy::{Secret, SecretKind};
///
/// let key = Secret::new("ak_0123456789abcdef0123456789abcdef");
/// assert_eq!(key.kind(), SecretKind::ApiKey);
/// assert_eq!(format!("{key:?}"), "Secret(ak_…)");
/// assert_eq!(key.to_string(), "Secret(ak_…)");
/// assert!(key.expose().ends_with("cdef"));
/// ```
#[derive(Clone)]
pub struct Secret {
    value: Arc<str>,
    kind: SecretKind,
}

/// What a [`Secret`] looks like, from its shape alone (error model, section 9).
///
/// The kind is the only thing about a token that may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// An API key or application access key: `ak_` prefix. Does not expire on its own.
    ApiKey,
    /// A user session token: `rt_` prefix. Expires after the account's idle timeout.
    UserSession,
    /// A JWT: three dot-separated base64url parts (the third may be empty).
    Jwt,
    /// Anything else.
    Other,
}

impl SecretKind {
    /// Recognises the kind of `token` by its prefix or shape.
    #[must_use]
    pub fn of(token: &str) -> Self {
        if token.starts_with("ak_") {
            Self::ApiKey
        } else if token.starts_with("rt_") {
            Self::UserSession
        } else if is_jwt(token) {
            Self::Jwt
        } else {
            Self::Other
        }
    }

    /// The label shown in place of a token of this kind: `ak_…`, `rt_…`, `jwt` or
    /// `redacted`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::ApiKey => "ak_…",
            Self::UserSession => "rt_…",
            Self::Jwt => "jwt",
            Self::Other => "redacted",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Three parts separated by two dots, the first two non-empty, all base64url.
fn is_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    !header.is_empty()
        && !claims.is_empty()
        && base64url(header)
        && base64url(claims)
        && base64url(signature)
}

impl Secret {
    /// Wraps a token. Its kind is recognised once, here.
    pub fn new(token: impl Into<String>) -> Self {
        let token: String = token.into();
        let kind = SecretKind::of(&token);
        Self {
            value: Arc::from(token),
            kind,
        }
    }

    /// The token itself, for the `Authorization: Bearer` header and nothing else.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// What the token looks like; safe to log.
    #[must_use]
    pub const fn kind(&self) -> SecretKind {
        self.kind
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written by hand: `debug_tuple` would quote the label and invite a future
        // "helpful" change to print the value.
        write!(f, "Secret({})", self.kind.label())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl PartialEq for Secret {
    /// Compares every byte whatever the first difference; only the lengths leak.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.value.as_bytes(), other.value.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(diff) == 0
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

impl From<&str> for Secret {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API_KEY: &str = "ak_1MDE2ZmJmN2QxOGQ5MjdjZTQ0N2I2YzQ0MDAwMDAwMDA";
    const SESSION: &str = "rt_Qw9xZp3LkT7vN2bYc8dHf4sJm6gR1aEu";
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZXZpY2UtNDIifQ.c2lnbmF0dXJlLWJ5dGVz";
    const OTHER: &str = "Zq8Wv3Nx7Ty2Lp5Rk9Hm4Bd6Fs1Gj0Cx";

    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug only
    struct Holder {
        name: &'static str,
        token: Secret,
        tokens: Vec<Secret>,
    }

    /// Every 4-character window of the part of `token` after its kind prefix.
    fn windows(token: &str) -> Vec<&str> {
        let secret = token
            .strip_prefix("ak_")
            .or_else(|| token.strip_prefix("rt_"))
            .unwrap_or(token);
        (0..=secret.len() - 4).map(|i| &secret[i..i + 4]).collect()
    }

    #[test]
    fn kinds_are_recognised_by_shape() {
        assert_eq!(SecretKind::of(API_KEY), SecretKind::ApiKey);
        assert_eq!(SecretKind::of(SESSION), SecretKind::UserSession);
        assert_eq!(SecretKind::of(JWT), SecretKind::Jwt);
        assert_eq!(SecretKind::of("aGVhZA.Ym9keQ."), SecretKind::Jwt); // unsigned JWT
        assert_eq!(SecretKind::of(OTHER), SecretKind::Other);
        for not_jwt in [
            "a.b", "a.b.c.d", ".b.c", "a..c", "a.b+c.d", "a.b.c=", "", "...",
        ] {
            assert_eq!(SecretKind::of(not_jwt), SecretKind::Other, "{not_jwt}");
        }
    }

    #[test]
    fn formatting_never_shows_the_token() {
        for (token, label) in [
            (API_KEY, "ak_…"),
            (SESSION, "rt_…"),
            (JWT, "jwt"),
            (OTHER, "redacted"),
        ] {
            let secret = Secret::new(token);
            let holder = Holder {
                name: "holder",
                token: secret.clone(),
                tokens: vec![secret.clone(), Secret::from(token.to_owned())],
            };
            let outputs = [
                format!("{secret:?}"),
                format!("{secret:#?}"),
                format!("{secret}"),
                format!("{secret:>80}"),
                format!("{holder:?}"),
                format!("{holder:#?}"),
                format!("{:?}", Some(&secret)),
            ];
            assert_eq!(outputs[0], format!("Secret({label})"));
            assert!(outputs[4].contains(&format!("token: Secret({label})")));
            for out in &outputs {
                assert!(!out.contains(token), "{out}");
                for w in windows(token) {
                    assert!(!out.contains(w), "{out} shows {w}");
                }
            }
        }
    }

    #[test]
    fn expose_returns_the_token_and_clones_share_it() {
        let a = Secret::new(API_KEY);
        let b = a.clone();
        assert_eq!(a.expose(), API_KEY);
        assert_eq!(a.expose().as_ptr(), b.expose().as_ptr());
    }

    #[test]
    fn equality_compares_content() {
        let a = Secret::new(API_KEY);
        assert_eq!(a, Secret::from(API_KEY));
        assert_ne!(a, Secret::new(&API_KEY[..API_KEY.len() - 1]));
        let mut flipped = API_KEY.to_owned();
        flipped.replace_range(3..4, "2");
        assert_ne!(a, Secret::new(flipped));
        assert_ne!(a, Secret::new(""));
        assert_eq!(Secret::new(""), Secret::new(""));
    }
}
