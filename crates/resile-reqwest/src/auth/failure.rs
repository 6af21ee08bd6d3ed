//! Why no token came, and the checks a token passes before it is installed.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use resile_policy::Secret;

use super::RefreshFailure;
use crate::Error;

/// An error shared by every request that waited on the refresh that raised it.
pub(super) type Shared = Arc<dyn StdError + Send + Sync>;

/// Why no token could be had.
pub(super) enum NoToken {
    Provider { attempts: u32, error: Shared },
    Deadline,
}

impl NoToken {
    /// The error for a request that could not be sent.
    pub(super) fn into_error(self, host: &str) -> Error {
        match self {
            Self::Provider { attempts, error } => {
                Error::refresh_failed(host, attempts, Box::new(SharedError(error)))
            }
            Self::Deadline => Error::deadline_exceeded(host, "a credential"),
        }
    }

    /// The note for a 401 that could not be fixed.
    pub(super) fn into_failure(self, host: &str) -> RefreshFailure {
        match self {
            Self::Provider { attempts, error } => RefreshFailure::new(attempts, error),
            Self::Deadline => RefreshFailure::new(0, Arc::new(self.into_error(host))),
        }
    }
}

/// Refuses tokens that cannot go in a header (or are empty) as failed refreshes.
pub(super) fn usable(
    (secret, life): (Secret, Option<Duration>),
) -> Result<(Secret, Option<Duration>), Shared> {
    if secret.expose().trim().is_empty() {
        return Err(message("token source returned an empty token".into()));
    }
    if bearer(&secret).is_none() {
        return Err(message(
            "token source returned a token that is not a valid HTTP header value".into(),
        ));
    }
    Ok((secret, life))
}

/// `Bearer <token>`, marked sensitive so HTTP/2 never indexes it.
pub(super) fn bearer(secret: &Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", secret.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A plain error message as a shared error.
pub(super) fn message(text: String) -> Shared {
    Arc::new(Message(text))
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// The provider's error, shared by every request that waited on it.
#[derive(Debug)]
struct SharedError(Shared);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for SharedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}
