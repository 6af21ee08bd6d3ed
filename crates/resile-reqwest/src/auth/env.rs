//! A token read from an environment variable at each refresh.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use super::{BoxError, Token, TokenSource};

/// Reads the token from an environment variable, afresh at every refresh.
///
/// The variable is read only when the middleware refreshes (the first request, a 401,
/// or the configured [`lifetime`](Self::lifetime) drawing to an end), never per request.
/// Surrounding whitespace is trimmed. A variable that is missing, not UTF-8 or empty
/// is a failed refresh whose error names the variable (never its value).
///
/// ```
/// use resile_reqwest::{AuthMiddleware, EnvToken};
///
/// let source = EnvToken::new("RESILE_API_KEY");
/// assert_eq!(format!("{source:?}"), r#"EnvToken { name: "RESILE_API_KEY", lifetime: None }"#);
/// let _auth = AuthMiddleware::builder(source).hosts(["api.example.com"]).build()?;
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct EnvToken {
    name: String,
    lifetime: Option<Duration>,
    read: fn(&str) -> Option<OsString>,
}

impl EnvToken {
    /// Reads the variable `name`; the token has no known expiry.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            lifetime: None,
            read: |name| std::env::var_os(name),
        }
    }

    /// Treat each token read as expiring `lifetime` later, so it is re-read ahead of
    /// that (default: no expiry, re-read only after a 401).
    #[must_use]
    pub const fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The variable's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn read(&self) -> Result<Token, EnvError> {
        let name = || self.name.clone();
        if self.name.is_empty() || self.name.contains(['=', '\0']) {
            return Err(EnvError::BadName(name()));
        }
        let value = (self.read)(&self.name).ok_or_else(|| EnvError::Missing(name()))?;
        let value = value
            .into_string()
            .map_err(|_| EnvError::NotUnicode(name()))?;
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(EnvError::Empty(name()));
        }
        let token = Token::new(trimmed);
        Ok(match self.lifetime {
            Some(life) => token.expires_in(life),
            None => token,
        })
    }
}

impl fmt::Debug for EnvToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvToken")
            .field("name", &self.name)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenSource for EnvToken {
    async fn token(&self) -> Result<Token, BoxError> {
        Ok(self.read()?)
    }
}

/// Why [`EnvToken`] had no token; names the variable, never its value.
#[derive(Debug, thiserror::Error)]
enum EnvError {
    #[error("`{0}` is not a valid environment variable name")]
    BadName(String),
    #[error("environment variable `{0}` is not set")]
    Missing(String),
    #[error("environment variable `{0}` is not valid UTF-8")]
    NotUnicode(String),
    #[error("environment variable `{0}` is empty")]
    Empty(String),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static READS: AtomicUsize = AtomicUsize::new(0);

    /// A fake environment whose value changes on every read.
    fn rotating(_: &str) -> Option<OsString> {
        let n = READS.fetch_add(1, Ordering::SeqCst);
        match n {
            0 => Some("  ak_first\n".into()),
            1 => Some("ak_second".into()),
            2 => Some(" \t ".into()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn reads_afresh_on_every_refresh_and_names_the_problem() {
        let source = EnvToken {
            read: rotating,
            ..EnvToken::new("FAKE_KEY").lifetime(Duration::from_secs(60))
        };
        let first = source.token().await.unwrap();
        assert_eq!(first.secret().expose(), "ak_first");
        assert_eq!(first.lifetime(), Some(Duration::from_secs(60)));
        assert_eq!(source.token().await.unwrap().secret().expose(), "ak_second");
        let empty = source.token().await.unwrap_err().to_string();
        assert_eq!(empty, "environment variable `FAKE_KEY` is empty");
        let missing = source.token().await.unwrap_err().to_string();
        assert_eq!(missing, "environment variable `FAKE_KEY` is not set");
        let bad = EnvToken::new("A=B").token().await.unwrap_err().to_string();
        assert_eq!(bad, "`A=B` is not a valid environment variable name");
    }
}
