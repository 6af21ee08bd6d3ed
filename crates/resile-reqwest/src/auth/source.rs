//! Token sources that need no I/O: a fixed key, and any async closure.

use std::fmt;
use std::future::Future;

use resile_policy::Secret;

use super::{BoxError, Token, TokenSource};

/// A fixed token that never expires: an API key or application access key.
///
/// After a 401 the middleware asks it again and gets the same key back; that replay
/// fails too, and the second 401 is returned (an operator must issue a new key).
/// To pick up a rotated key without a restart, use [`EnvToken`](super::EnvToken) or
/// [`FileToken`](super::FileToken).
///
/// ```
/// use resile_reqwest::{AuthMiddleware, StaticToken};
///
/// let key = StaticToken::new("ak_0123456789abcdef0123456789abcdef");
/// assert_eq!(format!("{key:?}"), "StaticToken(Secret(ak_…))");
/// let _auth = AuthMiddleware::builder(key).hosts(["api.example.com"]).build()?;
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// The key to send on every request.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StaticToken({:?})", self.0)
    }
}

#[async_trait::async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Token, BoxError> {
        Ok(Token::new(self.0.clone()))
    }
}

/// A token source from a closure returning a future: a login flow, a JWT signer,
/// a secret-store client.
///
/// The closure is called once per refresh. Clone what the future needs inside the
/// closure, so the future owns it (`move || { let c = c.clone(); async move { .. } }`).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use resile_reqwest::{BoxError, FnSource, Token};
///
/// let issued = Arc::new(AtomicU32::new(0));
/// let source = FnSource::new(move || {
///     let issued = Arc::clone(&issued);
///     async move {
///         let n = issued.fetch_add(1, Ordering::Relaxed);
///         // Ask the signer here; errors become failed refreshes.
///         Ok::<_, BoxError>(Token::new(format!("jwt-{n}")).expires_in(Duration::from_secs(300)))
///     }
/// });
/// assert_eq!(format!("{source:?}"), "FnSource { .. }");
/// ```
pub struct FnSource<F> {
    f: F,
}

impl<F, Fut> FnSource<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, BoxError>> + Send + 'static,
{
    /// Calls `f` for every refresh.
    pub const fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> fmt::Debug for FnSource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnSource").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl<F, Fut> TokenSource for FnSource<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, BoxError>> + Send + 'static,
{
    async fn token(&self) -> Result<Token, BoxError> {
        (self.f)().await
    }
}
