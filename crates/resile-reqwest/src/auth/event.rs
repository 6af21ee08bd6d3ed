//! What the auth middleware reports: refresh events for the hook, and the failure left
//! on a 401 it could not fix.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use resile_policy::Clock;
use resile_policy::SecretKind;
use resile_policy::auth::Completion;

use crate::{TokioClock, telemetry};

/// Why a refresh started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshTrigger {
    /// There was no token yet.
    Initial,
    /// The token's known expiry drew near (refresh ahead), or it expired.
    Proactive,
    /// The server refused the current token with a `reauth` 401.
    Reauth,
}

impl RefreshTrigger {
    /// `initial`, `proactive` or `reauth`: stable, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Proactive => "proactive",
            Self::Reauth => "reauth",
        }
    }
}

/// One call to the token source, as passed to the
/// [`on_refresh`](super::AuthBuilder::on_refresh) hook. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshEvent {
    /// A token was installed.
    #[non_exhaustive]
    Refreshed {
        /// Its generation: 1 for the first token, one more for each after it.
        generation: u64,
        /// When it expires (tokio clock), if the source said.
        expires_at: Option<Instant>,
        /// Why the refresh started.
        trigger: RefreshTrigger,
        /// The source returned the token it replaced. After a `reauth` this means the
        /// credential itself was refused: an operator must issue a new one.
        unchanged: bool,
    },
    /// The source failed, returned an expired or unusable token, or did not answer
    /// within `refresh_timeout`.
    #[non_exhaustive]
    Failed {
        /// Consecutive failures so far, this one included.
        attempt: u32,
        /// The source's error message.
        error: String,
        /// Another attempt follows after a backoff; `false` when this was the last
        /// attempt of the round and the waiting requests get the error.
        will_retry: bool,
        /// Why the refresh started.
        trigger: RefreshTrigger,
    },
}

/// Why no new token came after a `reauth` 401, left in the extensions of that 401
/// response, which is returned unchanged.
///
/// ```no_run
/// # async fn demo(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// use resile_reqwest::RefreshFailure;
///
/// let resp = client.get("https://api.example.com/v3/devices").send().await?;
/// if let Some(failure) = resp.extensions().get::<RefreshFailure>() {
///     eprintln!("401 and no new token after {} attempt(s): {failure}", failure.attempts());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    attempts: u32,
    error: Arc<dyn StdError + Send + Sync>,
}

impl RefreshFailure {
    pub(super) fn new(attempts: u32, error: Arc<dyn StdError + Send + Sync>) -> Self {
        Self { attempts, error }
    }

    /// Consecutive failed calls to the token source (0 if the request's deadline
    /// ran out before the source could be asked).
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The source's last error (or [`Error::deadline_exceeded`](crate::Error::deadline_exceeded)).
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for RefreshFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// Logs and counts one answer from the source, and makes the hook's event; `None`
/// for a late answer that changed nothing. Never sees the token, only its kind.
pub(super) fn report(
    completion: Completion,
    error: Option<&(dyn StdError + Send + Sync)>,
    trigger: RefreshTrigger,
    expires_at: Option<Instant>,
    kind: Option<SecretKind>,
) -> Option<RefreshEvent> {
    match completion {
        Completion::Installed {
            generation,
            unchanged,
            ..
        } => {
            telemetry::refresh("ok");
            let expires_in_s =
                expires_at.map(|at| at.saturating_duration_since(TokioClock.now()).as_secs());
            tracing::info!(
                target: "resile::auth",
                generation = generation.get(),
                trigger = trigger.as_str(),
                kind = kind.map(SecretKind::label),
                expires_in_s,
                unchanged,
                "token refreshed"
            );
            if unchanged && trigger == RefreshTrigger::Reauth {
                tracing::warn!(
                    target: "resile::auth",
                    "the token source returned the token the server refused; \
                     the credential may need to be reissued"
                );
            }
            Some(RefreshEvent::Refreshed {
                generation: generation.get(),
                expires_at,
                trigger,
                unchanged,
            })
        }
        Completion::Failed { failures, .. } | Completion::GaveUp { failures, .. } => {
            let will_retry = matches!(completion, Completion::Failed { .. });
            let error = error.map_or_else(String::new, ToString::to_string);
            telemetry::refresh("failed");
            tracing::warn!(
                target: "resile::auth",
                attempt = failures,
                trigger = trigger.as_str(),
                will_retry,
                error = %error,
                "token refresh failed"
            );
            Some(RefreshEvent::Failed {
                attempt: failures,
                error,
                will_retry,
                trigger,
            })
        }
        Completion::Stale => {
            tracing::debug!(target: "resile::auth", "late token refresh ignored");
            None
        }
    }
}
