//! Credentials: the static API key, issued access tokens and the `Authorization` check.
//!
//! Answers follow the Troubleshooting page: a missing or malformed header is 401
//! `invalid_auth`; an unknown or expired access token is 401 `invalid_token`; an
//! unknown `ak_...` key is 401 `invalid_apikey`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use http::HeaderValue;
use http::StatusCode;
use tokio::time::Instant;

use crate::body::Reply;
use crate::rng;

/// How many issued tokens are kept; the oldest is forgotten (and then refused) past it.
const KEPT: usize = 100_000;

/// Why a request's credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No header, not `Bearer`, or empty.
    Auth,
    /// An access token that is unknown or expired; `by_fault` when only a
    /// [`Fault::TokenExpiry`](crate::Fault::TokenExpiry) made it expire.
    Token { by_fault: bool },
    /// An `ak_` key that is not the simulator's.
    ApiKey,
}

impl Denied {
    /// The 401 reply.
    pub(crate) fn reply(self) -> Reply {
        let (kind, message) = match self {
            Self::Auth => (
                "invalid_auth",
                "Authentication failure: provided authorization header is invalid.",
            ),
            Self::Token { .. } => (
                "invalid_token",
                "Authentication failure: provided token is invalid.",
            ),
            Self::ApiKey => (
                "invalid_apikey",
                "Authentication failure: provided API key is invalid.",
            ),
        };
        Reply::error(StatusCode::UNAUTHORIZED, kind, message)
    }
}

/// Issued access tokens, each with the instant it was issued.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, Instant>,
    order: VecDeque<String>,
    counter: u64,
}

impl Tokens {
    /// A new access token, `rt_` and 32 hex digits, fixed by the seed and the count.
    pub(crate) fn issue(&mut self, seed: u64, now: Instant) -> String {
        self.counter += 1;
        let hi = rng::draw(seed, self.counter, 0x7031);
        let lo = rng::draw(seed, self.counter, 0x7032);
        let token = format!("rt_{hi:016x}{lo:016x}");
        if self.order.len() >= KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.issued.remove(&old);
        }
        self.issued.insert(token.clone(), now);
        self.order.push_back(token.clone());
        token
    }

    /// Checks an `Authorization` header. `ttl` is the configured token lifetime and
    /// `fault_ttl` the tightest active token-expiry fault.
    pub(crate) fn check(
        &self,
        header: Option<&HeaderValue>,
        api_key: &str,
        ttl: Option<Duration>,
        fault_ttl: Option<Duration>,
        now: Instant,
    ) -> Result<(), Denied> {
        let value = header.and_then(|h| h.to_str().ok()).ok_or(Denied::Auth)?;
        let (scheme, credential) = value.trim().split_once(' ').ok_or(Denied::Auth)?;
        let credential = credential.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() {
            return Err(Denied::Auth);
        }
        if credential == api_key {
            return Ok(());
        }
        if credential.starts_with("ak_") {
            return Err(Denied::ApiKey);
        }
        let issued = self
            .issued
            .get(credential)
            .ok_or(Denied::Token { by_fault: false })?;
        let age = now.saturating_duration_since(*issued);
        let expired = |limit: Option<Duration>| limit.is_some_and(|l| age >= l);
        if expired(ttl) {
            Err(Denied::Token { by_fault: false })
        } else if expired(fault_ttl) {
            Err(Denied::Token { by_fault: true })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ak_test";

    fn check(
        tokens: &Tokens,
        header: &str,
        ttl: Option<u64>,
        fault: Option<u64>,
        at: Instant,
    ) -> Result<(), Denied> {
        let header = HeaderValue::from_str(header).unwrap();
        let secs = |s: Option<u64>| s.map(Duration::from_secs);
        tokens.check(Some(&header), KEY, secs(ttl), secs(fault), at)
    }

    #[test]
    fn headers_keys_and_tokens() {
        let t0 = Instant::now();
        let mut tokens = Tokens::default();
        let token = tokens.issue(1, t0);
        assert!(token.starts_with("rt_") && token.len() == 35);
        assert_eq!(tokens.check(None, KEY, None, None, t0), Err(Denied::Auth));
        assert_eq!(
            check(&tokens, "Basic abc", None, None, t0),
            Err(Denied::Auth)
        );
        assert_eq!(check(&tokens, "Bearer ", None, None, t0), Err(Denied::Auth));
        assert_eq!(check(&tokens, "bearer ak_test", None, None, t0), Ok(()));
        assert_eq!(
            check(&tokens, "Bearer ak_other", None, None, t0),
            Err(Denied::ApiKey)
        );
        assert_eq!(
            check(&tokens, "Bearer rt_unknown", None, None, t0),
            Err(Denied::Token { by_fault: false })
        );
        let bearer = format!("Bearer {token}");
        let later = t0 + Duration::from_secs(5);
        assert_eq!(check(&tokens, &bearer, Some(10), None, later), Ok(()));
        assert_eq!(
            check(&tokens, &bearer, Some(5), None, later),
            Err(Denied::Token { by_fault: false })
        );
        assert_eq!(
            check(&tokens, &bearer, None, Some(2), later),
            Err(Denied::Token { by_fault: true })
        );
        assert_eq!(
            check(&tokens, "Bearer ak_test", Some(0), Some(0), later),
            Ok(())
        );
    }

    #[test]
    fn tokens_repeat_per_seed_and_differ_between_seeds() {
        let t0 = Instant::now();
        let (mut a, mut b, mut c) = (Tokens::default(), Tokens::default(), Tokens::default());
        let first = a.issue(7, t0);
        assert_eq!(first, b.issue(7, t0));
        assert_ne!(first, c.issue(8, t0));
        assert_ne!(first, a.issue(7, t0));
    }
}
