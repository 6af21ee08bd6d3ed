use std::borrow::Cow;

/// A configuration value that cannot work, found when a builder's `build` ran.
///
/// The only error this crate returns: decisions are plain values, never errors.
///
/// ```
/// use std::time::Duration;
/// use resile_policy::ConfigError;
///
/// let err = ConfigError::new("backoff.max", "must be at least `min`");
/// assert_eq!(err.field(), "backoff.max");
/// assert_eq!(err.to_string(), "invalid configuration `backoff.max`: must be at least `min`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration `{field}`: {problem}")]
pub struct ConfigError {
    field: Cow<'static, str>,
    problem: Cow<'static, str>,
}

impl ConfigError {
    /// An error about `field` (a dotted path such as `breaker.failure_ratio`).
    pub fn new(field: impl Into<Cow<'static, str>>, problem: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The offending field, as a dotted path.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// The same error with `prefix.` put before the field name, for nested builders.
    #[must_use]
    pub fn within(self, prefix: &str) -> Self {
        Self {
            field: Cow::Owned(format!("{prefix}.{}", self.field)),
            problem: self.problem,
        }
    }
}
