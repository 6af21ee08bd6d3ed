//! The same configuration as [`ServiceBuilder`], as data: one table per service,
//! loadable from TOML (or any serde format).

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

use resile_policy::classify::Routes;
use resile_policy::{ConfigError, ExponentialBackoff, Jitter, RetryBudget, TokenPolicy};
use serde::{Deserialize, Serialize};

use super::builder::{ResilienceBuilder, ServiceBuilder};
use super::duration::{ConfigDuration, OptionalDuration};
use crate::{
    BreakerMiddleware, DeviceGateBuilder, EnvToken, FileToken, PacingBuilder, RetryBuilder,
};

/// Every service's settings: `[service.<name>]` tables.
///
/// Unknown keys are errors, and every error names the key, as a dotted path
/// (`service.billing.retry.max_attempts`). Durations are strings with a unit
/// (`"250ms"`, `"10s"`, `"2m"`); `"none"` turns a deadline off. Each layer's table
/// takes `enabled = false`. Secrets never go in the file: `auth` names an
/// environment variable or a file to read the token from.
///
/// ```toml
/// [service.device-management]
/// hosts = ["api.us-east-1.mbedcloud.com"]
///
/// [service.device-management.auth]
/// env = "DM_API_KEY"
///
/// [service.device-management.retry]
/// max_attempts = 4
/// deadline = "20s"
/// backoff = { min = "250ms", max = "5s", jitter = "full" }
/// budget = { ratio = 0.2, min_per_second = 1, window = "10s" }
///
/// [service.device-management.breaker]
/// consecutive_failures = 8
/// open_for = "5s"
///
/// [service.device-management.pacing]
/// per_second = 4
/// burst = 4
///
/// [service.billing]
/// hosts = ["api.us-east-1.mbedcloud.com"]
/// device_gate = { enabled = false }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResilienceConfig {
    /// One entry per service.
    #[serde(default)]
    pub service: BTreeMap<String, ServiceConfig>,
}

/// One service's table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The hosts the service talks to (`host` or `host:port`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Fixes every jitter sequence.
    pub seed: Option<u64>,
    /// Most bytes of an error body read for classification.
    pub body_limit: Option<usize>,
    /// Device routes.
    pub routes: Option<RoutesConfig>,
    /// The retry layer.
    pub retry: Option<RetryConfig>,
    /// The auth layer (off unless given).
    pub auth: Option<AuthConfig>,
    /// The circuit breaker.
    pub breaker: Option<BreakerConfigToml>,
    /// The device gate.
    pub device_gate: Option<DeviceGateConfig>,
    /// Pacing.
    pub pacing: Option<PacingConfig>,
}

/// `[service.x.routes]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesConfig {
    /// A path prefix in front of every API path (a proxy mount point).
    pub prefix: Option<String>,
    /// Extra device-route patterns (`/v4/things/{device}/commands`).
    #[serde(default)]
    pub device_routes: Vec<String>,
}

/// `[service.x.retry]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// `false` removes the layer.
    pub enabled: Option<bool>,
    /// Attempts in all.
    pub max_attempts: Option<u32>,
    /// Whole-request deadline, or `"none"`.
    pub deadline: Option<OptionalDuration>,
    /// Per-attempt timeout, or `"none"`.
    pub attempt_timeout: Option<OptionalDuration>,
    /// Clamp on `Retry-After`.
    pub max_retry_after: Option<ConfigDuration>,
    /// Backoff between attempts.
    pub backoff: Option<BackoffConfig>,
    /// The per-host retry budget.
    pub budget: Option<BudgetConfig>,
    /// Hosts whose budgets are kept.
    pub max_hosts: Option<NonZeroUsize>,
}

/// `backoff = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// First delay.
    pub min: Option<ConfigDuration>,
    /// Largest delay.
    pub max: Option<ConfigDuration>,
    /// Growth per attempt.
    pub multiplier: Option<f64>,
    /// `none`, `full`, `equal` or `decorrelated`.
    pub jitter: Option<Jitter>,
}

/// `budget = { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// `false` turns the budget off.
    pub enabled: Option<bool>,
    /// Retries per first-try success.
    pub ratio: Option<f64>,
    /// Retries per second allowed regardless.
    pub min_per_second: Option<u32>,
    /// The rolling window.
    pub window: Option<ConfigDuration>,
}

/// `[service.x.auth]`: where the token comes from (exactly one of `env`, `file`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Read the token from this environment variable at each refresh.
    pub env: Option<String>,
    /// Read the token from this file at each refresh.
    pub file: Option<PathBuf>,
    /// How long a token read from `env`/`file` lives (default: until refused).
    pub lifetime: Option<ConfigDuration>,
    /// Allow the token over plain `http://` to loopback hosts.
    pub allow_loopback_http: Option<bool>,
    /// Refresh this long before a known expiry.
    pub refresh_ahead: Option<ConfigDuration>,
}

/// `[service.x.breaker]`, on top of [`BreakerMiddleware`]'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfigToml {
    /// `false` removes the layer.
    pub enabled: Option<bool>,
    /// Failure ratio that trips it.
    pub failure_ratio: Option<f64>,
    /// The rolling window.
    pub window: Option<ConfigDuration>,
    /// Calls in the window before the ratio counts.
    pub minimum_calls: Option<u32>,
    /// Failures in a row that trip it (0 = off).
    pub consecutive_failures: Option<u32>,
    /// First open duration.
    pub open_for: Option<ConfigDuration>,
    /// Longest open duration.
    pub max_open_for: Option<ConfigDuration>,
    /// Jitter fraction on the open duration.
    pub jitter: Option<f64>,
    /// Probes admitted half-open.
    pub probes: Option<u32>,
    /// When a silent probe is presumed lost.
    pub probe_timeout: Option<ConfigDuration>,
    /// A success slower than this counts as a failure, or `"none"`.
    pub slow_call: Option<OptionalDuration>,
}

/// `[service.x.device_gate]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceGateConfig {
    /// `false` removes the layer.
    pub enabled: Option<bool>,
    /// In-flight requests per device.
    pub max_in_flight: Option<u32>,
    /// Longest wait for a held device.
    pub max_wait: Option<ConfigDuration>,
    /// Clamp on a device's `Retry-After`.
    pub max_retry_after: Option<ConfigDuration>,
    /// Devices tracked.
    pub max_devices: Option<NonZeroUsize>,
}

/// `[service.x.pacing]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacingConfig {
    /// `false` removes the layer.
    pub enabled: Option<bool>,
    /// Quota: requests per second per host.
    pub per_second: Option<NonZeroU32>,
    /// Quota burst.
    pub burst: Option<NonZeroU32>,
    /// Clamp on a host's `Retry-After` hold.
    pub max_hold: Option<ConfigDuration>,
    /// Longest wait for a hold before failing fast.
    pub max_hold_wait: Option<ConfigDuration>,
    /// `false` turns the adaptive pace (after hint-less 429s) off.
    pub adaptive: Option<bool>,
    /// Hosts tracked.
    pub max_hosts: Option<NonZeroUsize>,
}

impl ResilienceConfig {
    /// Parses TOML; a bad key or value names itself (`service.x.retry.max_attempts`).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de =
            toml::Deserializer::parse(text).map_err(|e| ConfigError::new("toml", e.to_string()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::new(path, e.into_inner().message().to_owned())
        })
    }

    /// Builders for every service, ready for further settings in code (a closure
    /// token source, hooks) before `build()`.
    pub fn into_builder(self) -> Result<ResilienceBuilder, ConfigError> {
        let mut out = ResilienceBuilder::default();
        for (name, cfg) in self.service {
            let b = cfg
                .apply(ServiceBuilder::default())
                .map_err(|e| e.within(&format!("service.{name}")))?;
            out.services.insert(name, b);
        }
        Ok(out)
    }
}

fn off(enabled: Option<bool>) -> bool {
    enabled == Some(false)
}

impl ServiceConfig {
    /// Applies this table on top of `b`.
    pub fn apply(self, mut b: ServiceBuilder) -> Result<ServiceBuilder, ConfigError> {
        if !self.hosts.is_empty() {
            b = b.hosts(self.hosts);
        }
        if let Some(seed) = self.seed {
            b = b.seed(seed);
        }
        if let Some(limit) = self.body_limit {
            b = b.body_limit(limit);
        }
        if let Some(r) = self.routes {
            let mut rb = Routes::builder();
            if let Some(p) = &r.prefix {
                rb = rb.prefix(p);
            }
            for pattern in &r.device_routes {
                rb = rb.device_route(pattern);
            }
            b = b.routes(rb.build()?);
        }
        if let Some(r) = self.retry {
            b = if off(r.enabled) {
                b.no_retry()
            } else {
                b.retry(r.builder()?)
            };
        }
        if let Some(a) = self.auth {
            b = a.apply(b)?;
        }
        if let Some(c) = self.breaker {
            b = if off(c.enabled) {
                b.no_breaker()
            } else {
                b.breaker(c.config()?)
            };
        }
        if let Some(g) = self.device_gate {
            b = if off(g.enabled) {
                b.no_device_gate()
            } else {
                b.device_gate(g.builder())
            };
        }
        if let Some(p) = self.pacing {
            b = if off(p.enabled) {
                b.no_pacing()
            } else {
                b.pacing(p.builder())
            };
        }
        Ok(b)
    }
}

impl RetryConfig {
    fn builder(self) -> Result<RetryBuilder, ConfigError> {
        let mut b = RetryBuilder::default();
        if let Some(n) = self.max_attempts {
            b = b.max_attempts(n);
        }
        if let Some(d) = self.deadline {
            b = b.deadline(d.0);
        }
        if let Some(d) = self.attempt_timeout {
            b = b.attempt_timeout(d.0);
        }
        if let Some(d) = self.max_retry_after {
            b = b.max_retry_after(d.0);
        }
        if let Some(n) = self.max_hosts {
            b = b.max_hosts(n);
        }
        if let Some(c) = self.backoff {
            let mut e = ExponentialBackoff::builder();
            if let Some(d) = c.min {
                e = e.min(d.0);
            }
            if let Some(d) = c.max {
                e = e.max(d.0);
            }
            if let Some(m) = c.multiplier {
                e = e.multiplier(m);
            }
            if let Some(j) = c.jitter {
                e = e.jitter(j);
            }
            b = b.backoff(e.build().map_err(|e| e.within("retry"))?);
        }
        if let Some(c) = self.budget {
            if off(c.enabled) {
                b = b.no_budget();
            } else {
                let mut r = RetryBudget::builder();
                if let Some(x) = c.ratio {
                    r = r.ratio(x);
                }
                if let Some(x) = c.min_per_second {
                    r = r.min_per_second(x);
                }
                if let Some(x) = c.window {
                    r = r.window(x.0);
                }
                b = b.budget(r);
            }
        }
        Ok(b)
    }
}

impl AuthConfig {
    fn apply(self, mut b: ServiceBuilder) -> Result<ServiceBuilder, ConfigError> {
        b = match (self.env, self.file) {
            (Some(var), None) => {
                let mut s = EnvToken::new(var);
                if let Some(d) = self.lifetime {
                    s = s.lifetime(d.0);
                }
                b.auth(s)
            }
            (None, Some(path)) => {
                let mut s = FileToken::new(path);
                if let Some(d) = self.lifetime {
                    s = s.lifetime(d.0);
                }
                b.auth(s)
            }
            _ => {
                return Err(ConfigError::new(
                    "auth",
                    "give exactly one of `env` or `file` (secrets never go in the file itself)",
                ));
            }
        };
        if let Some(allow) = self.allow_loopback_http {
            b = b.allow_loopback_http(allow);
        }
        if let Some(d) = self.refresh_ahead {
            let policy = TokenPolicy::builder().refresh_ahead(d.0).build()?;
            b = b.token_policy(policy);
        }
        Ok(b)
    }
}

impl BreakerConfigToml {
    fn config(self) -> Result<resile_policy::BreakerConfig, ConfigError> {
        let mut c = BreakerMiddleware::config_builder();
        if let Some(x) = self.failure_ratio {
            c = c.failure_ratio(x);
        }
        if let Some(x) = self.window {
            c = c.window(x.0);
        }
        if let Some(x) = self.minimum_calls {
            c = c.minimum_calls(x);
        }
        if let Some(x) = self.consecutive_failures {
            c = c.consecutive_failures(x);
        }
        if let Some(x) = self.open_for {
            c = c.open_for(x.0);
        }
        if let Some(x) = self.max_open_for {
            c = c.max_open_for(x.0);
        }
        if let Some(x) = self.jitter {
            c = c.jitter(x);
        }
        if let Some(x) = self.probes {
            c = c.probes(x);
        }
        if let Some(x) = self.probe_timeout {
            c = c.probe_timeout(x.0);
        }
        if let Some(x) = self.slow_call {
            c = c.slow_call(x.0);
        }
        c.config()
    }
}

impl DeviceGateConfig {
    fn builder(self) -> DeviceGateBuilder {
        let mut b = DeviceGateBuilder::default();
        if let Some(x) = self.max_in_flight {
            b = b.max_in_flight(x);
        }
        if let Some(x) = self.max_wait {
            b = b.max_wait(x.0);
        }
        if let Some(x) = self.max_retry_after {
            b = b.max_retry_after(x.0);
        }
        if let Some(x) = self.max_devices {
            b = b.max_devices(x);
        }
        b
    }
}

impl PacingConfig {
    fn builder(self) -> PacingBuilder {
        let mut b = PacingBuilder::default();
        if let Some(x) = self.per_second {
            b = b.per_second(x);
        }
        if let Some(x) = self.burst {
            b = b.burst(x);
        }
        if let Some(x) = self.max_hold {
            b = b.max_hold(x.0);
        }
        if let Some(x) = self.max_hold_wait {
            b = b.max_hold_wait(x.0);
        }
        if self.adaptive == Some(false) {
            b = b.no_adaptive();
        }
        if let Some(x) = self.max_hosts {
            b = b.max_hosts(x);
        }
        b
    }
}
