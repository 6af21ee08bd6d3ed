use std::io;
use std::net::SocketAddr;

/// Why the simulator could not start.
///
/// Opaque; ask it with [`is_config`](Self::is_config) and [`is_bind`](Self::is_bind).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SimError(#[from] Kind);

#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error("invalid simulator configuration `{field}`: {problem}")]
    Config { field: String, problem: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

impl SimError {
    pub(crate) fn config(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self(Kind::Config {
            field: field.into(),
            problem: problem.into(),
        })
    }

    pub(crate) const fn bind(addr: SocketAddr, source: io::Error) -> Self {
        Self(Kind::Bind { addr, source })
    }

    /// True when a builder setting is invalid.
    pub const fn is_config(&self) -> bool {
        matches!(self.0, Kind::Config { .. })
    }

    /// True when the listening socket could not be bound.
    pub const fn is_bind(&self) -> bool {
        matches!(self.0, Kind::Bind { .. })
    }

    /// The invalid setting, for configuration errors (e.g. `"queue_capacity"`).
    pub fn field(&self) -> Option<&str> {
        match &self.0 {
            Kind::Config { field, .. } => Some(field),
            Kind::Bind { .. } => None,
        }
    }
}
