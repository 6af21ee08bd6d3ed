//! Named presets: a timeline of faults plus the settings that go with it.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::{Fault, RouteKind, SimBuilder, Target, TimedFault, Timeline};

const NAMES: &[&str] = &[
    "ok",
    "flaky",
    "outage-503",
    "outage-500",
    "storm",
    "stale-token",
    "quota-429",
    "account-limit",
    "queue-full",
    "demo",
];

/// A named preset: a timeline of faults plus the settings that go with it.
///
/// | name | what happens |
/// |---|---|
/// | `ok` | nothing fails |
/// | `flaky` | 20 % of API requests get 503 `system_unavailable` |
/// | `outage-503` | every API request gets 503 `system_unavailable` |
/// | `outage-500` | every API request gets 500 `internal_server_error` |
/// | `storm` | from 3 s, a 3 s storm every 9 s: API requests get 503 or 500 (half each); 25 % of POSTs are executed and then answered 503 (lost responses) |
/// | `stale-token` | access tokens expire 2 s after they are issued (401 `invalid_token`); the API key still works |
/// | `quota-429` | a host-wide limit of 10 requests per second; the rest get 429 `rate_limit_exceeded` with `Retry-After: 1` |
/// | `account-limit` | every `POST /v3/devices` gets 403 `account_limit_exceeded` |
/// | `queue-full` | device queues (20 entries) drain one command per 5 s (0.2/s), so bursts fill them: 400 `QUEUE_IS_FULL` |
/// | `demo` | tokens live 4 s; a storm from 2 s to 5 s (503/500, 30 % of POSTs lost after executing); the last 2 devices offline (`DEVICE_NOT_CONNECTED`), the 2 before them start with full queues; queues drain 2 commands per second |
///
/// Times count from start (or [`SimHandle::reset`](crate::SimHandle::reset)). "API
/// requests" excludes the simulator's `/__sim/*` routes. A preset's settings apply when
/// [`SimBuilder::scenario`](crate::SimBuilder::scenario) is called, so later builder calls
/// override them.
///
/// ```
/// use resile_sim::Scenario;
///
/// assert!(Scenario::names().contains(&"storm"));
/// let storm = Scenario::from_name("storm").unwrap();
/// assert_eq!(storm.name(), "storm");
/// assert!(Scenario::from_name("nope").is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    name: &'static str,
    summary: &'static str,
    timeline: Timeline,
    settings: Settings,
}

/// Builder settings a preset overrides.
#[derive(Debug, Clone, Default, PartialEq)]
struct Settings {
    drain_per_second: Option<f64>,
    offline_count: Option<usize>,
    full_queues: Option<usize>,
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Scenario {
    /// Every preset's name, in a stable order.
    pub const fn names() -> &'static [&'static str] {
        NAMES
    }

    /// The preset called `name`, or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        let always = |fault| Timeline::new().with(TimedFault::new(fault));
        let mut settings = Settings::default();
        let (summary, timeline) = match name {
            "ok" => ("no faults", Timeline::new()),
            "flaky" => (
                "20 % of API requests get 503 system_unavailable",
                always(Fault::Flaky {
                    p: 0.2,
                    status: 503,
                }),
            ),
            "outage-503" => (
                "every API request gets 503 system_unavailable",
                always(Fault::Outage { status: 503 }),
            ),
            "outage-500" => (
                "every API request gets 500 internal_server_error",
                always(Fault::Outage { status: 500 }),
            ),
            "storm" => (
                "a 3 s storm of 503/500 every 9 s from 3 s; 25 % of POSTs executed then lost",
                Timeline::storm_with_lost_responses(secs(3), secs(3), Some(secs(9)), 0.25),
            ),
            "stale-token" => (
                "access tokens expire 2 s after issue (401 invalid_token)",
                always(Fault::TokenExpiry { ttl: secs(2) }),
            ),
            "quota-429" => (
                "10 requests per second host-wide, then 429 rate_limit_exceeded with Retry-After: 1",
                always(Fault::Throttle {
                    rps: NonZeroU32::new(10),
                    retry_after: Some(secs(1)),
                }),
            ),
            "account-limit" => (
                "every device create gets 403 account_limit_exceeded",
                Timeline::new().with(
                    TimedFault::new(Fault::AccountLimit).on(Target::Route(RouteKind::CreateDevice)),
                ),
            ),
            "queue-full" => {
                settings.drain_per_second = Some(0.2);
                (
                    "device queues drain one command per 5 s, so bursts get QUEUE_IS_FULL",
                    Timeline::new(),
                )
            }
            "demo" => {
                settings = Settings {
                    drain_per_second: Some(2.0),
                    offline_count: Some(2),
                    full_queues: Some(2),
                };
                let mut timeline = always(Fault::TokenExpiry { ttl: secs(4) });
                timeline.extend(Timeline::storm_with_lost_responses(
                    secs(2),
                    secs(3),
                    None,
                    0.3,
                ));
                (
                    "tokens live 4 s; 503/500 storm from 2 s to 5 s with lost POSTs; 2 devices offline, 2 with full queues",
                    timeline,
                )
            }
            _ => return None,
        };
        let name = NAMES.iter().find(|n| **n == name).copied()?;
        Some(Self {
            name,
            summary,
            timeline,
            settings,
        })
    }

    /// The preset's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// One line saying what the preset does.
    pub const fn summary(&self) -> &'static str {
        self.summary
    }

    /// The preset's faults.
    pub const fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub(crate) fn apply(self, mut builder: SimBuilder) -> SimBuilder {
        let s = self.settings;
        if let Some(rate) = s.drain_per_second {
            builder = builder.drain_per_second(rate);
        }
        if let Some(n) = s.offline_count {
            builder = builder.offline_count(n);
        }
        if let Some(n) = s.full_queues {
            builder = builder.full_queues(n);
        }
        builder.timeline(self.timeline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sim;

    #[test]
    fn every_name_resolves_and_validates() {
        for name in Scenario::names() {
            let s = Scenario::from_name(name).unwrap();
            assert_eq!(s.name(), *name);
            assert!(!s.summary().is_empty());
            for f in s.timeline().faults() {
                assert_eq!(f.problem(), None, "{name}");
            }
        }
        assert_eq!(
            Scenario::from_name("ok").unwrap().timeline().faults().len(),
            0
        );
        assert!(Scenario::from_name("Storm").is_none());
    }

    #[test]
    fn demo_sets_fleet_settings() {
        let b = Sim::builder()
            .devices(10)
            .scenario(Scenario::from_name("demo").unwrap());
        assert_eq!(b.cfg.drain_per_second, 2.0);
        assert_eq!(b.cfg.timeline.faults().len(), 4);
    }
}
