//! One builder for every layer, per service.

mod builder;
mod config;
mod duration;
mod stack;

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware};
use resile_policy::ConfigError;

use crate::{
    AuthMiddleware, BreakerMiddleware, DeviceGateMiddleware, PacingMiddleware, RetryMiddleware,
};

pub use builder::{ResilienceBuilder, ServiceBuilder};
pub use config::{
    AuthConfig, BackoffConfig, BreakerConfigToml, BudgetConfig, DeviceGateConfig, PacingConfig,
    ResilienceConfig, RetryConfig, RoutesConfig, ServiceConfig,
};
pub use duration::{ConfigDuration, OptionalDuration};
pub use stack::Stack;

/// Every configured service, each with its stack of layers.
///
/// ```
/// use std::time::Duration;
/// use resile_reqwest::{Resilience, RetryMiddleware, StaticToken};
///
/// let resilience = Resilience::builder()
///     .service("device-management", |s| {
///         s.hosts(["api.us-east-1.mbedcloud.com"])
///             .retry(RetryMiddleware::builder().max_attempts(4))
///             .auth(StaticToken::new("ak_..."))
///     })
///     .build()?;
/// let client = resilience.client("device-management", reqwest::Client::new()).unwrap();
/// # let _ = client;
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Resilience {
    services: BTreeMap<String, Service>,
}

impl Resilience {
    /// An empty builder.
    pub fn builder() -> ResilienceBuilder {
        ResilienceBuilder::default()
    }

    /// Builders for every service in a TOML document (see [`ResilienceConfig`]); add
    /// what a file cannot hold (a closure token source, hooks) before `build()`.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<ResilienceBuilder, ConfigError> {
        ResilienceConfig::from_toml(text)?.into_builder()
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    /// The names of every service.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// A ready client for the service `name` over `http`, a client built already
    /// (see [`Service::build_client`], which lets reqwest's client time the
    /// attempts out and spares each request a timeout of its own).
    pub fn client(&self, name: &str, http: reqwest::Client) -> Option<ClientWithMiddleware> {
        self.service(name).map(|s| s.client(http))
    }
}

/// One service's layers, built and shared: every client made from it shares the
/// breakers, budgets, holds and token.
///
/// # Order
///
/// [`middlewares`](Self::middlewares) lists the layers outermost first:
///
/// 1. **retry** — loops over attempts; everything below runs once per attempt;
/// 2. **auth** — each attempt carries the freshest token (and a 401 is refreshed and
///    replayed once, inside one retry attempt);
/// 3. **breaker** — each attempt asks the host's breaker, so a retry never reaches a
///    host whose circuit opened meanwhile, and each attempt counts once;
/// 4. **device gate** — per-device in-flight cap and holds;
/// 5. **pacing** — quota and `Retry-After` holds, closest to the wire so every
///    attempt that is really sent is paced, and none that is refused is.
#[derive(Debug, Clone)]
pub struct Service {
    name: String,
    hosts: Vec<String>,
    retry: Option<Arc<RetryMiddleware>>,
    auth: Option<Arc<AuthMiddleware>>,
    breaker: Option<Arc<BreakerMiddleware>>,
    device_gate: Option<Arc<DeviceGateMiddleware>>,
    pacing: Option<Arc<PacingMiddleware>>,
}

impl Service {
    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hosts the service talks to (and the only ones that get its token).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The layers as one middleware, in the documented order: the fast way to add
    /// them all (one future per request, not one per layer).
    pub fn middleware(&self) -> Stack {
        Stack {
            retry: self.retry.clone(),
            auth: self.auth.clone(),
            breaker: self.breaker.clone(),
            device_gate: self.device_gate.clone(),
            pacing: self.pacing.clone(),
            client_timeout: None,
        }
    }

    /// The layers one by one, outermost first (see [Order](Self#order)), for a
    /// stack that puts other middlewares between them. They share their state with
    /// [`middleware`](Self::middleware), which is cheaper when nothing needs to go
    /// between them (see [`Stack`]).
    pub fn middlewares(&self) -> Vec<Arc<dyn Middleware>> {
        let mut out: Vec<Arc<dyn Middleware>> = Vec::with_capacity(5);
        if let Some(m) = &self.retry {
            out.push(m.clone());
        }
        if let Some(m) = &self.auth {
            out.push(m.clone());
        }
        if let Some(m) = &self.breaker {
            out.push(m.clone());
        }
        if let Some(m) = &self.device_gate {
            out.push(m.clone());
        }
        if let Some(m) = &self.pacing {
            out.push(m.clone());
        }
        out
    }

    /// Adds the stack (as one [`Stack`] middleware) to a `reqwest_middleware`
    /// builder; add your own layers before (outside) or after (inside) as you need.
    pub fn attach(&self, builder: ClientBuilder) -> ClientBuilder {
        builder.with(self.middleware())
    }

    /// A ready client over `http`, a client built already: each attempt carries
    /// its own timeout (see [`build_client`](Self::build_client), which spares
    /// that).
    pub fn client(&self, http: reqwest::Client) -> ClientWithMiddleware {
        self.attach(ClientBuilder::new(http)).build()
    }

    /// A ready client built from `http` with reqwest's own timeout set to the
    /// per-attempt timeout (replacing any `timeout` set on `http`), so that an
    /// attempt needs a timeout of its own only when the deadline is closer than
    /// that (see [`Stack::with_client_timeout`]): the cheapest way to a client.
    ///
    /// ```
    /// use resile_reqwest::Resilience;
    ///
    /// let resilience = Resilience::builder()
    ///     .service("device-management", |s| s.hosts(["api.us-east-1.mbedcloud.com"]))
    ///     .build()?;
    /// let service = resilience.service("device-management").expect("configured above");
    /// let client = service.build_client(reqwest::Client::builder())?;
    /// # let _ = client;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When reqwest cannot build the client (`reqwest::ClientBuilder::build`).
    pub fn build_client(
        &self,
        http: reqwest::ClientBuilder,
    ) -> Result<ClientWithMiddleware, reqwest::Error> {
        Ok(self.client_builder(http)?.build())
    }

    /// [`build_client`](Self::build_client), stopping at the `reqwest_middleware`
    /// builder: the stack is added, add your own layers after (inside) it.
    ///
    /// # Errors
    ///
    /// When reqwest cannot build the client (`reqwest::ClientBuilder::build`).
    pub fn client_builder(
        &self,
        http: reqwest::ClientBuilder,
    ) -> Result<ClientBuilder, reqwest::Error> {
        let timeout = self
            .retry
            .as_deref()
            .and_then(RetryMiddleware::attempt_timeout);
        let http = match timeout {
            Some(t) => http.timeout(t),
            None => http,
        };
        let stack = self.middleware().with_client_timeout(timeout);
        Ok(ClientBuilder::new(http.build()?).with(stack))
    }

    /// The retry layer, if enabled.
    pub fn retry(&self) -> Option<&RetryMiddleware> {
        self.retry.as_deref()
    }

    /// The auth layer, if a token source was given.
    pub fn auth(&self) -> Option<&AuthMiddleware> {
        self.auth.as_deref()
    }

    /// The breaker layer, if enabled.
    pub fn breaker(&self) -> Option<&BreakerMiddleware> {
        self.breaker.as_deref()
    }

    /// The device gate, if enabled.
    pub fn device_gate(&self) -> Option<&DeviceGateMiddleware> {
        self.device_gate.as_deref()
    }

    /// The pacing layer, if enabled.
    pub fn pacing(&self) -> Option<&PacingMiddleware> {
        self.pacing.as_deref()
    }
}
