//! Configuring and starting a simulator.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::fleet::seeded_id;
use crate::{Scenario, SimError, SimHandle, TimedFault, Timeline};

/// The API key every simulator accepts unless [`SimBuilder::api_key`] sets another.
pub const DEFAULT_API_KEY: &str = "ak_sim_0123456789abcdef0123456789abcdef";

/// The simulator; start one with [`Sim::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), resile_sim::SimError> {
/// use resile_sim::{Scenario, Sim};
///
/// let sim = Sim::builder()
///     .seed(7)
///     .scenario(Scenario::from_name("storm").expect("a preset"))
///     .start()
///     .await?;
/// println!("point your client at {}", sim.base_url());
/// sim.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Sim;

impl Sim {
    /// A builder with the defaults listed on [`SimBuilder`].
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }
}

/// How an offline device answers a command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Offline {
    /// 400 with the plain-text token `DEVICE_NOT_CONNECTED` (the default).
    #[default]
    NotConnected,
    /// 502 with a gateway's HTML page: no link to the device.
    Gateway,
}

/// Settings for a simulator.
///
/// Defaults: seed 0; 100 devices, all online; offline devices answer
/// [`Offline::NotConnected`]; no queue starts full; command queues hold 20 entries (the
/// documented Connect queue) and drain 5 commands per second per device; no device cap;
/// tokens never expire; API key [`DEFAULT_API_KEY`]; no client secret on the token route;
/// no faults; listens on `127.0.0.1:0` (a free port); request bodies up to 1 MiB (larger
/// is 413); shutdown waits up to 1 s for requests in flight.
#[derive(Debug, Clone)]
pub struct SimBuilder {
    pub(crate) cfg: Config,
    offline_count: usize,
    offline_ids: Vec<String>,
    full_queues: usize,
}

/// The validated settings a running simulator reads.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) seed: u64,
    pub(crate) devices: usize,
    pub(crate) offline_mode: Offline,
    pub(crate) queue_capacity: u32,
    pub(crate) drain_per_second: f64,
    pub(crate) device_cap: Option<usize>,
    pub(crate) token_ttl: Option<Duration>,
    pub(crate) api_key: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) timeline: Timeline,
    pub(crate) bind: SocketAddr,
    pub(crate) max_body_bytes: usize,
    pub(crate) shutdown_grace: Duration,
    /// Seeded devices that start offline / with a full queue (filled in by `start`).
    pub(crate) offline: HashSet<String>,
    pub(crate) full: HashSet<String>,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            cfg: Config {
                seed: 0,
                devices: 100,
                offline_mode: Offline::NotConnected,
                queue_capacity: 20,
                drain_per_second: 5.0,
                device_cap: None,
                token_ttl: None,
                api_key: DEFAULT_API_KEY.to_owned(),
                client_secret: None,
                timeline: Timeline::new(),
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                max_body_bytes: 1 << 20,
                shutdown_grace: Duration::from_secs(1),
                offline: HashSet::new(),
                full: HashSet::new(),
            },
            offline_count: 0,
            offline_ids: Vec::new(),
            full_queues: 0,
        }
    }
}

impl SimBuilder {
    /// The seed fixing every random choice: fault draws, tokens, request ids (default 0).
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = seed;
        self
    }

    /// How many devices the fleet starts with (default 100). Device `i` has the id
    /// `0161b8e8a2d10a58` followed by `i` as 16 hex digits, and the name `device-{i:05}`.
    #[must_use]
    pub const fn devices(mut self, count: usize) -> Self {
        self.cfg.devices = count;
        self
    }

    /// These seeded devices start offline (added to [`offline_count`](Self::offline_count)).
    #[must_use]
    pub fn offline<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.offline_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// The last `count` seeded devices start offline (default 0).
    #[must_use]
    pub const fn offline_count(mut self, count: usize) -> Self {
        self.offline_count = count;
        self
    }

    /// How offline devices answer commands (default [`Offline::NotConnected`]).
    #[must_use]
    pub const fn offline_mode(mut self, mode: Offline) -> Self {
        self.cfg.offline_mode = mode;
        self
    }

    /// `count` seeded devices start with a full command queue (default 0): those just
    /// before the offline ones counted by [`offline_count`](Self::offline_count).
    #[must_use]
    pub const fn full_queues(mut self, count: usize) -> Self {
        self.full_queues = count;
        self
    }

    /// Commands a device's queue holds before `QUEUE_IS_FULL` (default 20; at least 1).
    #[must_use]
    pub const fn queue_capacity(mut self, capacity: u32) -> Self {
        self.cfg.queue_capacity = capacity;
        self
    }

    /// Commands each device takes off its queue per second (default 5; 0 never drains).
    #[must_use]
    pub const fn drain_per_second(mut self, rate: f64) -> Self {
        self.cfg.drain_per_second = rate;
        self
    }

    /// Creating a device when the fleet already has `cap` gets 403
    /// `account_limit_exceeded` (default: no cap).
    #[must_use]
    pub const fn device_cap(mut self, cap: usize) -> Self {
        self.cfg.device_cap = Some(cap);
        self
    }

    /// How long an issued access token is valid (default `None`: forever).
    #[must_use]
    pub const fn token_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.cfg.token_ttl = ttl;
        self
    }

    /// The static API key, always valid (default [`DEFAULT_API_KEY`]; must start with
    /// `ak_` and have no whitespace).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.cfg.api_key = key.into();
        self
    }

    /// Requires `{"client_secret": secret}` in the body of `POST /__sim/token` (default:
    /// any body, or none, gets a token).
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.cfg.client_secret = Some(secret.into());
        self
    }

    /// Appends one fault to the timeline.
    #[must_use]
    pub fn fault(mut self, fault: TimedFault) -> Self {
        self.cfg.timeline.push(fault);
        self
    }

    /// Appends every fault of `timeline`.
    #[must_use]
    pub fn timeline(mut self, timeline: Timeline) -> Self {
        self.cfg.timeline.extend(timeline);
        self
    }

    /// Applies a preset: appends its faults and sets the settings it names (later
    /// builder calls override them).
    #[must_use]
    pub fn scenario(self, scenario: Scenario) -> Self {
        scenario.apply(self)
    }

    /// The address to listen on (default `127.0.0.1:0`).
    #[must_use]
    pub const fn bind(mut self, addr: SocketAddr) -> Self {
        self.cfg.bind = addr;
        self
    }

    /// Largest request body read; larger gets 413 (default 1 MiB).
    #[must_use]
    pub const fn max_body_bytes(mut self, limit: usize) -> Self {
        self.cfg.max_body_bytes = limit;
        self
    }

    /// How long shutdown waits for requests in flight before closing them (default 1 s).
    #[must_use]
    pub const fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.cfg.shutdown_grace = grace;
        self
    }

    /// Validates the settings, binds the socket and starts serving on the current tokio
    /// runtime. Simulator time starts now.
    ///
    /// # Errors
    ///
    /// A [`SimError`] naming the invalid setting, or the bind failure.
    pub async fn start(self) -> Result<SimHandle, SimError> {
        let cfg = self.validate()?;
        SimHandle::start(cfg).await
    }

    fn validate(self) -> Result<Config, SimError> {
        let mut cfg = self.cfg;
        if cfg.queue_capacity == 0 {
            return Err(SimError::config("queue_capacity", "must be at least 1"));
        }
        if !cfg.drain_per_second.is_finite() || cfg.drain_per_second < 0.0 {
            return Err(SimError::config(
                "drain_per_second",
                "must be finite and not negative",
            ));
        }
        if !cfg.api_key.starts_with("ak_") || cfg.api_key.contains(char::is_whitespace) {
            return Err(SimError::config(
                "api_key",
                "must start with `ak_` and have no whitespace",
            ));
        }
        if cfg.max_body_bytes == 0 {
            return Err(SimError::config("max_body_bytes", "must be at least 1"));
        }
        for (i, fault) in cfg.timeline.faults().iter().enumerate() {
            if let Some(problem) = fault.problem() {
                return Err(SimError::config(format!("timeline[{i}]"), problem));
            }
        }
        let seeded: Vec<String> = (0..cfg.devices).map(seeded_id).collect();
        if let Some(id) = self.offline_ids.iter().find(|id| !seeded.contains(id)) {
            return Err(SimError::config(
                "offline",
                format!("no seeded device `{id}`"),
            ));
        }
        let offline_from = cfg.devices.saturating_sub(self.offline_count);
        let full_from = offline_from.saturating_sub(self.full_queues);
        cfg.offline = self.offline_ids.into_iter().collect();
        cfg.offline.extend(seeded[offline_from..].iter().cloned());
        cfg.full = seeded[full_from..offline_from].iter().cloned().collect();
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fault;

    fn field(b: SimBuilder) -> Option<String> {
        b.validate()
            .err()
            .and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let b = Sim::builder;
        assert_eq!(
            field(b().queue_capacity(0)).as_deref(),
            Some("queue_capacity")
        );
        assert_eq!(
            field(b().drain_per_second(f64::NAN)).as_deref(),
            Some("drain_per_second")
        );
        assert_eq!(field(b().api_key("secret")).as_deref(), Some("api_key"));
        assert_eq!(
            field(b().max_body_bytes(0)).as_deref(),
            Some("max_body_bytes")
        );
        assert_eq!(field(b().offline(["nope"])).as_deref(), Some("offline"));
        let bad = TimedFault::new(Fault::Outage { status: 404 });
        assert_eq!(field(b().fault(bad)).as_deref(), Some("timeline[0]"));
        assert_eq!(field(b()), None);
    }

    #[test]
    fn offline_and_full_devices_are_taken_from_the_end() {
        let cfg = Sim::builder()
            .devices(10)
            .offline_count(2)
            .full_queues(3)
            .offline([seeded_id(0)])
            .validate()
            .unwrap();
        let offline: HashSet<String> = [0, 8, 9].map(seeded_id).into();
        let full: HashSet<String> = [5, 6, 7].map(seeded_id).into();
        assert_eq!((cfg.offline, cfg.full), (offline, full));
        let cfg = Sim::builder()
            .devices(2)
            .offline_count(5)
            .full_queues(5)
            .validate()
            .unwrap();
        assert_eq!((cfg.offline.len(), cfg.full.len()), (2, 0));
    }
}
