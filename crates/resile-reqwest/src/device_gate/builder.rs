//! [`DeviceGateBuilder`]: validated settings for a [`DeviceGateMiddleware`].

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use resile_policy::classify::{BODY_PREFIX_LIMIT, Routes};
use resile_policy::{
    Classify, ConfigError, DefaultClassifier, ExponentialBackoff, Jitter, Registry,
};

use super::DeviceGateMiddleware;
use super::state::Counters;
use crate::seed::Seeds;

/// Configures a [`DeviceGateMiddleware`]; starts from the documented
/// [defaults](DeviceGateMiddleware#defaults).
#[derive(Debug, Clone)]
#[must_use]
pub struct DeviceGateBuilder {
    routes: Routes,
    classifier: Option<Arc<dyn Classify>>,
    body_limit: usize,
    max_in_flight: u32,
    max_wait: Duration,
    max_retry_after: Duration,
    backoff: Option<ExponentialBackoff>,
    max_devices: NonZeroUsize,
    seed: Option<u64>,
}

impl Default for DeviceGateBuilder {
    fn default() -> Self {
        Self {
            routes: Routes::default(),
            classifier: None,
            body_limit: BODY_PREFIX_LIMIT,
            max_in_flight: 20,
            max_wait: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
            backoff: None,
            max_devices: NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN),
            seed: None,
        }
    }
}

impl DeviceGateBuilder {
    /// Which paths are device routes, and where the id sits (default
    /// [`Routes::standard`]). Unless [`classifier`](Self::classifier) is set, the
    /// classifier uses the same routes.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = routes;
        self
    }

    /// The classifier (default: [`DefaultClassifier`] with these routes); used only
    /// when no inner resile layer has classified the attempt already.
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// The most bytes of an error body read for classification (default 64 KiB).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Requests in flight per device (default 20, the Connect queue size; at least 1).
    pub fn max_in_flight(mut self, n: u32) -> Self {
        self.max_in_flight = n;
        self
    }

    /// The longest a request waits for a hold to end (default 5 s); a longer hold
    /// fails it at once. Zero: never wait.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The longest `Retry-After` honoured as a hold floor (default 60 s).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Successive hold lengths (default 1 s → 30 s, ×2, [`Jitter::Equal`]); each
    /// device draws from its own seeded copy.
    pub fn hold_backoff(mut self, backoff: ExponentialBackoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// How many devices to keep state for (default 100 000). When full, idle
    /// devices go first, least recently used first.
    pub fn max_devices(mut self, n: NonZeroUsize) -> Self {
        self.max_devices = n;
        self
    }

    /// Fixes the hold jitter, for reproducible tests (default: varies per process).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The default hold backoff: 1 s → 30 s, ×2, equal jitter.
    fn default_backoff() -> Result<ExponentialBackoff, ConfigError> {
        ExponentialBackoff::builder()
            .min(Duration::from_secs(1))
            .max(Duration::from_secs(30))
            .multiplier(2.0)
            .jitter(Jitter::Equal)
            .build()
    }

    /// The middleware, or the first invalid setting.
    ///
    /// # Errors
    ///
    /// `device_gate.max_in_flight` or `device_gate.body_limit` when zero.
    pub fn build(self) -> Result<DeviceGateMiddleware, ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError::new(
                "device_gate.max_in_flight",
                "must be at least 1",
            ));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                "device_gate.body_limit",
                "must be greater than zero",
            ));
        }
        let backoff = match self.backoff {
            Some(b) => b,
            None => Self::default_backoff()?,
        };
        let classifier = self
            .classifier
            .unwrap_or_else(|| Arc::new(DefaultClassifier::with_routes(self.routes.clone())));
        Ok(DeviceGateMiddleware {
            devices: Registry::idle_first(self.max_devices),
            routes: self.routes,
            classifier,
            body_limit: self.body_limit,
            max_in_flight: self.max_in_flight as usize,
            max_wait: self.max_wait,
            max_retry_after: self.max_retry_after,
            backoff,
            seeds: Seeds::new(self.seed),
            counters: Arc::new(Counters::default()),
        })
    }
}
