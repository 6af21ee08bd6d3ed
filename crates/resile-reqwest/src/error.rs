//! The one error type for what the middlewares originate.

use std::time::Duration;

use resile_policy::ConfigError;

/// An error that resile itself raised: a circuit open, a device or host held, a
/// credential that could not be obtained, a deadline passed, a token kept off plain
/// HTTP.
///
/// It reaches callers inside [`reqwest_middleware::Error::Middleware`]; get it back
/// with [`Error::find`] (or `anyhow::Error::downcast_ref`). Failures from the
/// network or the server are never wrapped: when retries run out, the last response
/// or `reqwest::Error` is returned unchanged, so `status()` and `is_timeout()` keep
/// working.
///
/// ```
/// use std::time::Duration;
/// use resile_reqwest::Error;
///
/// let err: reqwest_middleware::Error =
///     Error::circuit_open("api.example.com", Duration::from_secs(5), false).into();
/// let ours = Error::find(&err).unwrap();
/// assert!(ours.is_circuit_open());
/// assert_eq!(ours.host(), Some("api.example.com"));
/// assert_eq!(ours.retry_after(), Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(#[from] Kind);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum Kind {
    #[error("circuit open for {host}: failing fast; next probe allowed in {retry_after:?}")]
    CircuitOpen {
        host: String,
        retry_after: Duration,
        isolated: bool,
    },
    #[error("device {device} on {host} is held ({reason}) for another {retry_after:?}")]
    DeviceHeld {
        host: String,
        device: String,
        reason: &'static str,
        retry_after: Duration,
    },
    #[error("{host} asked us to wait (Retry-After) for another {retry_after:?}; not sending")]
    HostHeld { host: String, retry_after: Duration },
    #[error("could not obtain a credential for {host} after {attempts} attempt(s): {source}")]
    RefreshFailed {
        host: String,
        attempts: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("deadline exceeded before the request to {host} could be sent ({waiting_for})")]
    DeadlineExceeded {
        host: String,
        waiting_for: &'static str,
    },
    #[error("refusing to send a bearer token to {host} over plain http://")]
    InsecureTransport { host: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Error {
    /// The host's circuit is open (or isolated by hand).
    pub fn circuit_open(host: impl Into<String>, retry_after: Duration, isolated: bool) -> Self {
        Kind::CircuitOpen {
            host: host.into(),
            retry_after,
            isolated,
        }
        .into()
    }

    /// The device is held after a full queue or while unreachable.
    pub fn device_held(
        host: impl Into<String>,
        device: impl Into<String>,
        reason: &'static str,
        retry_after: Duration,
    ) -> Self {
        Kind::DeviceHeld {
            host: host.into(),
            device: device.into(),
            reason,
            retry_after,
        }
        .into()
    }

    /// The host answered 429 or 503 with `Retry-After`, and the hold it asked for
    /// lasts past the request's deadline (or the pacing layer's longest wait).
    pub fn host_held(host: impl Into<String>, retry_after: Duration) -> Self {
        Kind::HostHeld {
            host: host.into(),
            retry_after,
        }
        .into()
    }

    /// The token source failed `attempts` times in a row.
    pub fn refresh_failed(
        host: impl Into<String>,
        attempts: u32,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        Kind::RefreshFailed {
            host: host.into(),
            attempts,
            source,
        }
        .into()
    }

    /// A wait (pacing, hold, credential) would have run past the deadline.
    pub fn deadline_exceeded(host: impl Into<String>, waiting_for: &'static str) -> Self {
        Kind::DeadlineExceeded {
            host: host.into(),
            waiting_for,
        }
        .into()
    }

    /// A token would have crossed the network in the clear.
    pub fn insecure_transport(host: impl Into<String>) -> Self {
        Kind::InsecureTransport { host: host.into() }.into()
    }

    /// Finds our error inside a middleware error.
    pub fn find(err: &reqwest_middleware::Error) -> Option<&Error> {
        match err {
            reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<Error>(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }

    /// The circuit for the host is open.
    pub fn is_circuit_open(&self) -> bool {
        matches!(self.0, Kind::CircuitOpen { .. })
    }

    /// The device gate held the request.
    pub fn is_device_held(&self) -> bool {
        matches!(self.0, Kind::DeviceHeld { .. })
    }

    /// The pacing layer held the request: the host's `Retry-After` hold lasts too long.
    pub fn is_host_held(&self) -> bool {
        matches!(self.0, Kind::HostHeld { .. })
    }

    /// No credential could be obtained.
    pub fn is_refresh_failed(&self) -> bool {
        matches!(self.0, Kind::RefreshFailed { .. })
    }

    /// The deadline passed while waiting to send.
    pub fn is_deadline_exceeded(&self) -> bool {
        matches!(self.0, Kind::DeadlineExceeded { .. })
    }

    /// A token was kept off plain HTTP.
    pub fn is_insecure_transport(&self) -> bool {
        matches!(self.0, Kind::InsecureTransport { .. })
    }

    /// Invalid configuration.
    pub fn is_config(&self) -> bool {
        matches!(self.0, Kind::Config(_))
    }

    /// The host concerned, if any.
    pub fn host(&self) -> Option<&str> {
        match &self.0 {
            Kind::CircuitOpen { host, .. }
            | Kind::DeviceHeld { host, .. }
            | Kind::HostHeld { host, .. }
            | Kind::RefreshFailed { host, .. }
            | Kind::DeadlineExceeded { host, .. }
            | Kind::InsecureTransport { host } => Some(host),
            Kind::Config(_) => None,
        }
    }

    /// The device concerned, for a device hold.
    pub fn device(&self) -> Option<&str> {
        match &self.0 {
            Kind::DeviceHeld { device, .. } => Some(device),
            _ => None,
        }
    }

    /// When asking again makes sense: the next breaker probe or the end of a hold.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.0 {
            Kind::CircuitOpen { retry_after, .. }
            | Kind::DeviceHeld { retry_after, .. }
            | Kind::HostHeld { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Kind::Config(e).into()
    }
}

impl From<Error> for reqwest_middleware::Error {
    fn from(e: Error) -> Self {
        reqwest_middleware::Error::middleware(e)
    }
}
