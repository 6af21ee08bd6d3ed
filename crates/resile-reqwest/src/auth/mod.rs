//! Bearer tokens: attach them to the configured hosts, refresh them before they
//! expire and after a `reauth` 401, one provider call at a time.
//!
//! The essay (when to refresh, single flight, failures, where tokens go) is on
//! [`AuthMiddleware`], the public face of this module.

mod builder;
mod env;
mod event;
mod failure;
mod file;
mod flight;
mod middleware;
mod source;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use resile_policy::Secret;

pub use builder::AuthBuilder;
pub use env::EnvToken;
pub use event::{RefreshEvent, RefreshFailure, RefreshTrigger};
pub use file::FileToken;
pub use middleware::AuthMiddleware;
pub use source::{FnSource, StaticToken};

/// The error a [`TokenSource`] returns: anything that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where tokens come from: the caller's secret store, login flow or JWT signer.
///
/// [`AuthMiddleware`] calls [`token`](Self::token) when it needs a token (the first
/// request, a known expiry drawing near, a 401) and never more than one call at a
/// time. The `Debug` output of an implementation must not show a token, and neither
/// should its errors' messages: they are logged and handed to callers.
///
/// ```
/// use resile_reqwest::{BoxError, Token, TokenSource};
///
/// /// Signs a fresh JWT valid for five minutes.
/// #[derive(Debug)]
/// struct Signer;
///
/// #[async_trait::async_trait]
/// impl TokenSource for Signer {
///     async fn token(&self) -> Result<Token, BoxError> {
///         let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2ln"; // sign here
///         Ok(Token::new(jwt).expires_in(std::time::Duration::from_secs(300)))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync + Debug + 'static {
    /// A token, fresh from the provider (the middleware keeps and reuses it).
    async fn token(&self) -> Result<Token, BoxError>;
}

#[async_trait::async_trait]
impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    async fn token(&self) -> Result<Token, BoxError> {
        (**self).token().await
    }
}

#[async_trait::async_trait]
impl<T: TokenSource + ?Sized> TokenSource for Box<T> {
    async fn token(&self) -> Result<Token, BoxError> {
        (**self).token().await
    }
}

/// A token from a [`TokenSource`], with its remaining lifetime if the provider knows
/// it (a JWT's `exp`); without one it is kept until a 401 refuses it.
///
/// `Debug` shows only the token's kind.
///
/// ```
/// use std::time::Duration;
/// use resile_reqwest::Token;
///
/// let token = Token::new("rt_session").expires_in(Duration::from_secs(1800));
/// assert_eq!(token.lifetime(), Some(Duration::from_secs(1800)));
/// assert!(!format!("{token:?}").contains("session"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    secret: Secret,
    lifetime: Option<Duration>,
}

impl Token {
    /// A token without a known expiry.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self {
            secret: secret.into(),
            lifetime: None,
        }
    }

    /// The token expires `lifetime` from now (measured on the tokio clock when the
    /// source returns). A zero lifetime counts as a failed refresh.
    #[must_use]
    pub const fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The token.
    pub const fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Its remaining lifetime, if known.
    pub const fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The token and its lifetime.
    pub fn into_parts(self) -> (Secret, Option<Duration>) {
        (self.secret, self.lifetime)
    }
}
