//! The matrix's rows: which simulator preset, for how long, under which load.

use std::time::Duration;

use resile_sim::{Fault, Scenario};
use serde::Serialize;

/// How the workload offers requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Fixed arrival rate: request `n` starts at `n / rate` whatever the client does,
    /// so a client that sleeps cannot lower the work it is given.
    Open,
    /// `workers` loops, each sending its next request `think` after the previous
    /// one finished: a slow client is offered less work.
    Closed,
}

impl Mode {
    /// Both modes, open first.
    pub const ALL: [Self; 2] = [Self::Open, Self::Closed];

    /// `open` or `closed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// One scenario of the matrix: a simulator preset run for `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Case {
    /// The simulator preset ([`Scenario::from_name`]).
    pub preset: &'static str,
    /// What the table calls it.
    pub title: &'static str,
    /// How long requests are offered.
    pub duration: Duration,
    /// Commands go only to the first `n` devices (a burst on a few devices), or to
    /// the whole fleet round robin when `None`.
    pub hot_devices: Option<usize>,
}

const fn case(preset: &'static str, title: &'static str, secs: u64) -> Case {
    Case {
        preset,
        title,
        duration: Duration::from_secs(secs),
        hot_devices: None,
    }
}

/// The full matrix. Durations follow the presets: the storm's first window is
/// 3 s to 6 s (next at 12 s), so 10 s leaves 4 s to recover, more than the
/// breaker needs; a full outage runs 10 s, since the breaker's fixed trip cost
/// (about 10 requests) would dominate a shorter one, and the 429 quota 10 s, since
/// discovering the limit costs a few 429s once; tokens live 2 s, so 9 s
/// holds 4 expiries with half a lifetime to spare on either side; device queues
/// drain one command per 5 s, so commands go to 2 devices, whose queues (20) fill
/// after about 2 s at the default load.
pub const FULL: [Case; 9] = [
    case("ok", "ok", 3),
    case("flaky", "flaky 20 %", 5),
    case("outage-503", "full outage 503", 10),
    case("outage-500", "full outage 500", 10),
    case("storm", "storm (3 s outage in 9 s)", 10),
    case("stale-token", "stale token (2 s lifetime)", 9),
    case("quota-429", "429 quota (10/s, Retry-After: 1)", 10),
    case("account-limit", "403 account limit", 3),
    Case {
        hot_devices: Some(2),
        ..case("queue-full", "per-device queue full", 5)
    },
];

/// The quick (CI) matrix: four presets, 300 ms each; only proves the harness runs.
pub fn quick() -> Vec<Case> {
    ["ok", "flaky", "outage-503", "quota-429"]
        .iter()
        .filter_map(|name| FULL.iter().find(|c| c.preset == *name))
        .map(|c| Case {
            duration: Duration::from_millis(300),
            ..*c
        })
        .collect()
}

impl Case {
    /// The preset (every name in [`FULL`] is one).
    pub fn scenario(&self) -> Option<Scenario> {
        Scenario::from_name(self.preset)
    }

    /// The outage windows `[start, end)` that open within the run, found by sampling
    /// the preset's [`Fault::Outage`] faults every millisecond.
    pub fn outage_windows(&self) -> Vec<(Duration, Duration)> {
        let Some(scenario) = self.scenario() else {
            return Vec::new();
        };
        let outages: Vec<_> = scenario
            .timeline()
            .faults()
            .iter()
            .filter(|f| matches!(f.fault(), Fault::Outage { .. }))
            .collect();
        let mut windows = Vec::new();
        let mut open: Option<Duration> = None;
        let end = self.duration.as_millis() as u64 + 1;
        for ms in 0..=end {
            let at = Duration::from_millis(ms);
            let active = outages.iter().any(|f| f.is_active(at));
            match (active, open) {
                (true, None) => open = Some(at),
                (false, Some(start)) => {
                    windows.push((start, at));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            windows.push((start, Duration::MAX));
        }
        windows
    }

    /// The access-token lifetime a [`Fault::TokenExpiry`] imposes, if any.
    pub fn token_ttl(&self) -> Option<Duration> {
        self.scenario()?
            .timeline()
            .faults()
            .iter()
            .find_map(|f| match f.fault() {
                Fault::TokenExpiry { ttl } => Some(*ttl),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_names_a_preset() {
        for c in FULL {
            assert!(c.scenario().is_some(), "{}", c.preset);
        }
        assert_eq!(quick().len(), 4);
    }

    #[test]
    fn storm_window_and_token_ttl_come_from_the_presets() {
        let storm = FULL.iter().find(|c| c.preset == "storm").copied().unwrap();
        let w = storm.outage_windows();
        assert_eq!(w, vec![(Duration::from_secs(3), Duration::from_secs(6))]);
        let outage = FULL[2].outage_windows();
        assert_eq!(outage, vec![(Duration::ZERO, Duration::MAX)]);
        assert_eq!(FULL[5].token_ttl(), Some(Duration::from_secs(2)));
        assert_eq!(FULL[0].token_ttl(), None);
        assert!(FULL[0].outage_windows().is_empty());
    }
}
