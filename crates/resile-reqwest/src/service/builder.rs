//! The builders behind [`Resilience`](super::Resilience).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use resile_policy::classify::Routes;
use resile_policy::{BreakerConfig, Classify, ConfigError, DefaultClassifier, TokenPolicy};

use super::{Resilience, Service};
use crate::hosts::Hosts;
use crate::{
    AuthBuilder, AuthMiddleware, BreakerMiddleware, BreakerMiddlewareBuilder, DeviceGateBuilder,
    PacingBuilder, PacingMiddleware, RefreshEvent, RetryBuilder, RetryMiddleware, TokenSource,
};

/// Collects services; [`build`](Self::build) checks every setting.
#[derive(Debug, Default)]
#[must_use]
pub struct ResilienceBuilder {
    pub(super) services: BTreeMap<String, ServiceBuilder>,
}

impl ResilienceBuilder {
    /// Configures the service `name` (created with the defaults if new; a second
    /// call for the same name continues from the first).
    pub fn service(
        mut self,
        name: impl Into<String>,
        configure: impl FnOnce(ServiceBuilder) -> ServiceBuilder,
    ) -> Self {
        let name = name.into();
        let current = self.services.remove(&name).unwrap_or_default();
        self.services.insert(name, configure(current));
        self
    }

    /// Every service, or the first invalid setting, named
    /// `service.<name>.<layer>.<field>`.
    pub fn build(self) -> Result<Resilience, ConfigError> {
        let mut services = BTreeMap::new();
        for (name, b) in self.services {
            let service = b
                .build(&name)
                .map_err(|e| e.within(&format!("service.{name}")))?;
            services.insert(name, service);
        }
        Ok(Resilience { services })
    }
}

type Hook = Arc<dyn Fn(&RefreshEvent) + Send + Sync>;

/// One service's settings. Every layer starts from its documented defaults; the
/// breaker, device gate and pacing are on, retry is on, auth is on once a token
/// source is given.
#[must_use]
pub struct ServiceBuilder {
    hosts: Vec<String>,
    classifier: Option<Arc<dyn Classify>>,
    routes: Option<Routes>,
    body_limit: Option<usize>,
    seed: Option<u64>,
    retry: Option<RetryBuilder>,
    source: Option<Arc<dyn TokenSource>>,
    token_policy: Option<TokenPolicy>,
    allow_loopback_http: bool,
    on_refresh: Option<Hook>,
    breaker: Option<BreakerConfig>,
    device_gate: Option<DeviceGateBuilder>,
    pacing: Option<PacingBuilder>,
}

impl Default for ServiceBuilder {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            classifier: None,
            routes: None,
            body_limit: None,
            seed: None,
            retry: Some(RetryBuilder::default()),
            source: None,
            token_policy: None,
            allow_loopback_http: false,
            on_refresh: None,
            breaker: Some(
                BreakerMiddleware::config_builder()
                    .config()
                    .unwrap_or_default(),
            ),
            device_gate: Some(DeviceGateBuilder::default()),
            pacing: Some(PacingBuilder::default()),
        }
    }
}

impl fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("hosts", &self.hosts)
            .field("retry", &self.retry.is_some())
            .field("auth", &self.source.is_some())
            .field("breaker", &self.breaker)
            .field("device_gate", &self.device_gate.is_some())
            .field("pacing", &self.pacing.is_some())
            .finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// The hosts (`host` or `host:port`) this service talks to; the token goes to
    /// these only.
    ///
    /// Their per-host state (retry budget, breaker, pace) is kept for the
    /// service's life, outside the `max_hosts` bound and never evicted, and found
    /// without a lock; requests to other hosts are tracked in the bounded part.
    pub fn hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// One classifier for every layer (default: the spec's table). The stack
    /// classifies each attempt once, for all its layers.
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Device routes (a proxy prefix, extra patterns), for the default classifier
    /// and the device gate.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = Some(routes);
        self
    }

    /// The most bytes of an error body any layer reads (default 64 KiB).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = Some(limit);
        self
    }

    /// Fixes every jitter sequence, for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Retry settings (default on, [`RetryMiddleware`](crate::RetryMiddleware)'s
    /// defaults).
    pub fn retry(mut self, retry: RetryBuilder) -> Self {
        self.retry = Some(retry);
        self
    }

    /// No retry layer.
    pub fn no_retry(mut self) -> Self {
        self.retry = None;
        self
    }

    /// The credential provider; turns the auth layer on.
    pub fn auth(mut self, source: impl TokenSource) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// When to refresh the token (default [`TokenPolicy::default`]).
    pub fn token_policy(mut self, policy: TokenPolicy) -> Self {
        self.token_policy = Some(policy);
        self
    }

    /// Allow the token over plain `http://` to loopback hosts (for a local
    /// simulator; default no).
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// Called after every call to the token source.
    pub fn on_refresh(mut self, hook: impl Fn(&RefreshEvent) + Send + Sync + 'static) -> Self {
        self.on_refresh = Some(Arc::new(hook));
        self
    }

    /// Breaker settings (default on, [`BreakerMiddleware`]'s defaults).
    pub fn breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = Some(config);
        self
    }

    /// No circuit breaker.
    pub fn no_breaker(mut self) -> Self {
        self.breaker = None;
        self
    }

    /// Device gate settings (default on).
    pub fn device_gate(mut self, gate: DeviceGateBuilder) -> Self {
        self.device_gate = Some(gate);
        self
    }

    /// No device gate.
    pub fn no_device_gate(mut self) -> Self {
        self.device_gate = None;
        self
    }

    /// Pacing settings (default on: `Retry-After` holds and adaptive pace, no quota).
    pub fn pacing(mut self, pacing: PacingBuilder) -> Self {
        self.pacing = Some(pacing);
        self
    }

    /// No pacing layer.
    pub fn no_pacing(mut self) -> Self {
        self.pacing = None;
        self
    }

    fn build(self, name: &str) -> Result<Service, ConfigError> {
        let classifier: Arc<dyn Classify> = match (self.classifier, &self.routes) {
            (Some(c), _) => c,
            (None, Some(routes)) => Arc::new(DefaultClassifier::with_routes(routes.clone())),
            (None, None) => Arc::new(DefaultClassifier::new()),
        };
        let shared = Shared {
            classifier,
            body_limit: self.body_limit,
            seed: self.seed,
        };
        let mut retry = match self.retry {
            Some(b) => Some(shared.apply(b).build()?),
            None => None,
        };
        let auth = match self.source {
            Some(source) => {
                if self.hosts.is_empty() {
                    return Err(ConfigError::new(
                        "auth.hosts",
                        "a service with a token source needs `hosts`: a token goes nowhere unless named",
                    ));
                }
                let mut b = AuthMiddleware::builder(source)
                    .hosts(&self.hosts)
                    .allow_loopback_http(self.allow_loopback_http);
                if let Some(p) = self.token_policy {
                    b = b.policy(p);
                }
                if let Some(hook) = self.on_refresh {
                    b = b.on_refresh(move |e| hook(e));
                }
                Some(Arc::new(shared.apply(b).build()?))
            }
            None => None,
        };
        let mut breaker = match self.breaker {
            Some(config) => {
                let b = BreakerMiddleware::builder().config(config);
                Some(shared.apply(b).build()?)
            }
            None => None,
        };
        let device_gate = match self.device_gate {
            Some(mut b) => {
                if let Some(routes) = self.routes {
                    b = b.routes(routes);
                }
                Some(Arc::new(shared.apply(b).build()?))
            }
            None => None,
        };
        let mut pacing = match self.pacing {
            Some(b) => Some(shared.apply(b).build()?),
            None => None,
        };
        // One table of hosts for the layers that keep state per host, so a request
        // looks its host up once for all of them.
        let tables = [
            retry.as_ref().map(RetryMiddleware::table),
            breaker.as_ref().map(BreakerMiddleware::hosts),
            pacing.as_ref().map(PacingMiddleware::hosts),
        ];
        if let Some(one) = Hosts::share(tables.into_iter().flatten(), &self.hosts) {
            retry.iter_mut().for_each(|r| r.share(&one));
            breaker.iter_mut().for_each(|b| b.share(&one));
            pacing.iter_mut().for_each(|p| p.share(&one));
        }
        Ok(Service {
            name: name.to_owned(),
            hosts: self.hosts,
            retry: retry.map(Arc::new),
            auth,
            breaker: breaker.map(Arc::new),
            device_gate,
            pacing: pacing.map(Arc::new),
        })
    }
}

/// What every layer of a service shares: one classifier, one body limit, one seed.
struct Shared {
    classifier: Arc<dyn Classify>,
    body_limit: Option<usize>,
    seed: Option<u64>,
}

impl Shared {
    fn apply<B: LayerBuilder>(&self, mut b: B) -> B {
        b = b.set_classifier(self.classifier.clone());
        if let Some(limit) = self.body_limit {
            b = b.set_body_limit(limit);
        }
        if let Some(seed) = self.seed {
            b = b.set_seed(seed);
        }
        b
    }
}

/// The settings every layer's builder takes.
trait LayerBuilder: Sized {
    fn set_classifier(self, classifier: Arc<dyn Classify>) -> Self;
    fn set_body_limit(self, limit: usize) -> Self;
    fn set_seed(self, seed: u64) -> Self;
}

macro_rules! layer_builder {
    ($($builder:ty),+ $(,)?) => {$(
        impl LayerBuilder for $builder {
            fn set_classifier(self, classifier: Arc<dyn Classify>) -> Self {
                self.classifier(classifier)
            }
            fn set_body_limit(self, limit: usize) -> Self {
                self.body_limit(limit)
            }
            fn set_seed(self, seed: u64) -> Self {
                self.seed(seed)
            }
        }
    )+};
}

layer_builder!(
    RetryBuilder,
    AuthBuilder,
    BreakerMiddlewareBuilder,
    DeviceGateBuilder
);

impl LayerBuilder for PacingBuilder {
    fn set_classifier(self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier(classifier)
    }
    fn set_body_limit(self, limit: usize) -> Self {
        self.body_limit(limit)
    }
    /// Pacing draws no random numbers.
    fn set_seed(self, _seed: u64) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    #[test]
    fn a_services_layers_share_one_table_of_hosts_as_large_as_the_largest() {
        let n = |n| NonZeroUsize::new(n).unwrap();
        let resilience = Resilience::builder()
            .service("dm", |s| {
                s.retry(RetryMiddleware::builder().max_hosts(n(10)))
                    .pacing(PacingMiddleware::builder().max_hosts(n(3000)))
            })
            .service("alone", |s| s.no_breaker().no_pacing())
            .build()
            .unwrap();
        let dm = resilience.service("dm").unwrap();
        let (retry, breaker, pacing) = (
            dm.retry().unwrap().table(),
            dm.breaker().unwrap().hosts(),
            dm.pacing().unwrap().hosts(),
        );
        assert!(retry.is(breaker) && retry.is(pacing));
        assert_eq!(retry.capacity(), n(3000));
        // Another service's layers keep their own.
        let alone = resilience
            .service("alone")
            .unwrap()
            .retry()
            .unwrap()
            .table();
        assert!(!alone.is(retry));
        assert_eq!(alone.capacity(), n(1024));
    }
}
