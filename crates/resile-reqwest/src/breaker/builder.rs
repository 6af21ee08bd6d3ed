//! [`BreakerMiddlewareBuilder`]: validated settings for a [`BreakerMiddleware`].

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use resile_policy::breaker::Transition;
use resile_policy::classify::BODY_PREFIX_LIMIT;
use resile_policy::{BreakerConfig, Classify, ConfigError, DefaultClassifier};

use crate::hosts::Hosts;

use super::{BreakerMiddleware, Hook};
use crate::seed::Seeds;

/// Configures a [`BreakerMiddleware`]; starts from the documented
/// [defaults](BreakerMiddleware#defaults-and-why).
#[derive(Clone)]
#[must_use]
pub struct BreakerMiddlewareBuilder {
    config: BreakerConfig,
    max_hosts: NonZeroUsize,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    seed: Option<u64>,
    hook: Option<Hook>,
}

impl Default for BreakerMiddlewareBuilder {
    fn default() -> Self {
        Self {
            // The adapter defaults are valid; the fallback is never taken.
            config: BreakerMiddleware::config_builder()
                .config()
                .unwrap_or_default(),
            max_hosts: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            classifier: Arc::new(DefaultClassifier::new()),
            body_limit: BODY_PREFIX_LIMIT,
            seed: None,
            hook: None,
        }
    }
}

impl BreakerMiddlewareBuilder {
    /// The breaker configuration for every host (default:
    /// [`BreakerMiddleware::config_builder`]). Its own `seed` is mixed into each
    /// host's seed.
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// How many hosts' breakers to keep (default 1024). When full, idle (closed,
    /// failure-free) breakers are forgotten first, least recently used first.
    /// In a [`Service`](crate::Service) the layers keep their per-host state in
    /// one table, as large as the largest of their `max_hosts`, and the
    /// service's own [`hosts`](crate::ServiceBuilder::hosts) are kept on top of it.
    pub fn max_hosts(mut self, n: NonZeroUsize) -> Self {
        self.max_hosts = n;
        self
    }

    /// The classifier (default: the spec's table, [`DefaultClassifier`]). In a
    /// [`Stack`](crate::Stack), each attempt is classified once, by the innermost
    /// layer's classifier.
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = classifier;
        self
    }

    /// The most bytes of an error body read for classification (default 64 KiB).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Called with the host (`host[:port]`) and each transition of its breaker,
    /// once per transition, on the task that caused it. Keep it quick; it must not
    /// call back into the middleware for the same host.
    pub fn on_transition(
        mut self,
        hook: impl Fn(&str, &Transition) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Fixes the per-host jitter seeds, for reproducible tests (default: varies per
    /// process). Hosts still get distinct seeds.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The middleware, or the first invalid setting.
    ///
    /// # Errors
    ///
    /// `breaker.body_limit` when it is zero.
    pub fn build(self) -> Result<BreakerMiddleware, ConfigError> {
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                "breaker.body_limit",
                "must be greater than zero",
            ));
        }
        Ok(BreakerMiddleware {
            hosts: Hosts::new(self.max_hosts),
            base_seed: Seeds::new(self.seed).next() ^ self.config.seed(),
            config: self.config,
            classifier: self.classifier,
            body_limit: self.body_limit,
            hook: self.hook,
            opens: AtomicU64::new(0),
        })
    }
}

impl std::fmt::Debug for BreakerMiddlewareBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerMiddlewareBuilder")
            .field("config", &self.config)
            .field("max_hosts", &self.max_hosts)
            .field("classifier", &self.classifier)
            .field("body_limit", &self.body_limit)
            .field("seed", &self.seed)
            .field("hook", &self.hook.as_ref().map(|_| "Fn"))
            .finish()
    }
}
