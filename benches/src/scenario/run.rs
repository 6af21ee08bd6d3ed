//! Running the matrix: a fresh simulator per (client, scenario, mode).

use std::sync::Arc;
use std::time::Duration;

use resile_sim::Sim;
use serde::Serialize;
use tokio::time::Instant;

use super::BoxError;
use super::case::{self, Case, Mode};
use super::clients::{self, ClientKind, Limits};
use super::report::{LayerCounts, RunReport};
use super::workload::{Plan, closed_loop, open_loop};

/// How the matrix is run.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The scenarios, in order.
    pub cases: Vec<Case>,
    /// The modes, in order.
    pub modes: Vec<Mode>,
    /// Open loop: logical requests started per second.
    pub rate: u32,
    /// Closed loop: concurrent workers.
    pub workers: usize,
    /// Closed loop: pause between a worker's requests.
    pub think: Duration,
    /// Timeouts and deadline, the same for every client.
    pub limits: Limits,
    /// Devices in the simulated fleet.
    pub devices: usize,
    /// The simulator's seed (resile's jitter seed too).
    pub seed: u64,
    /// Run the three clients of one (scenario, mode) at once, each against its own
    /// simulator, instead of one after the other.
    pub concurrent: bool,
    /// A CI-sized run: the harness is exercised, the targets are not judged.
    pub quick: bool,
}

impl Settings {
    /// The full matrix: 40 requests/s open loop; 4 workers with 100 ms think time
    /// closed loop (at most 40/s, as much as the open loop offers when the API is
    /// fast); 3 s per attempt and a 6 s deadline per logical request; 100 devices;
    /// seed 7; clients run concurrently.
    pub fn full() -> Self {
        Self {
            cases: case::FULL.to_vec(),
            modes: Mode::ALL.to_vec(),
            rate: 40,
            workers: 4,
            think: Duration::from_millis(100),
            limits: Limits {
                attempt_timeout: Duration::from_secs(3),
                deadline: Duration::from_secs(6),
                seed: 7,
                resile_quota: None,
                resile_break: None,
            },
            devices: 100,
            seed: 7,
            concurrent: true,
            quick: false,
        }
    }

    /// A few seconds in all: four presets for 300 ms each, a 500 ms deadline.
    pub fn quick() -> Self {
        let full = Self::full();
        Self {
            cases: case::quick(),
            limits: Limits {
                attempt_timeout: Duration::from_millis(400),
                deadline: Duration::from_millis(500),
                ..full.limits
            },
            quick: true,
            ..full
        }
    }
}

/// Runs one client through one scenario in one mode, against a fresh simulator.
pub async fn run_one(
    kind: ClientKind,
    case: &Case,
    mode: Mode,
    settings: &Settings,
) -> Result<RunReport, BoxError> {
    let scenario = case
        .scenario()
        .ok_or_else(|| format!("unknown preset {}", case.preset))?;
    let sim = Sim::builder()
        .seed(settings.seed)
        .devices(settings.devices)
        .scenario(scenario)
        // Every request has ended when the run stops: do not wait for idle connections.
        .shutdown_grace(Duration::from_millis(100))
        .start()
        .await?;
    let epoch = Instant::now()
        .checked_sub(sim.elapsed())
        .unwrap_or_else(Instant::now);
    let base = sim.base_url();
    let contender = clients::build(kind, &base, settings.limits).await?;
    let mut devices = sim.device_ids();
    if let Some(n) = case.hot_devices {
        devices.truncate(n.max(1));
    }
    let plan = Arc::new(Plan {
        base,
        devices,
        bearer: contender.bearer.clone(),
        deadline: settings.limits.deadline,
        epoch,
    });
    let started = Instant::now();
    let client = contender.client.clone();
    let done = match mode {
        Mode::Open => open_loop(client, plan, settings.rate, case.duration).await,
        Mode::Closed => {
            closed_loop(
                client,
                plan,
                settings.workers,
                settings.think,
                case.duration,
            )
            .await
        }
    };
    let wall = started.elapsed();
    let stats = sim.stats();
    let layers = contender.service.as_ref().map(|s| LayerCounts {
        breaker_opens: s.breaker().map_or(0, |b| b.opens()),
        auth_refreshes: s.auth().map_or(0, |a| a.refreshes()),
        pacing_holds: s.pacing().map_or(0, |p| p.holds()),
        device_holds: s.device_gate().map_or(0, |g| g.holds()),
    });
    drop(contender);
    sim.shutdown().await;
    Ok(RunReport::new(
        kind, case, mode, &done, &stats, layers, wall,
    ))
}

/// Runs every (scenario, mode) for the three clients; `progress` is told about
/// each run as it ends.
pub async fn run_matrix(
    settings: &Settings,
    mut progress: impl FnMut(&RunReport),
) -> Result<Vec<RunReport>, BoxError> {
    let shared = Arc::new(settings.clone());
    let mut out = Vec::new();
    for &mode in &settings.modes {
        for &case in &settings.cases {
            let reports = if settings.concurrent {
                let tasks: Vec<_> = ClientKind::ALL
                    .map(|kind| {
                        let s = Arc::clone(&shared);
                        tokio::spawn(async move {
                            run_one(kind, &case, mode, &s)
                                .await
                                .map_err(|e| e.to_string())
                        })
                    })
                    .into();
                let mut v = Vec::new();
                for task in tasks {
                    v.push(task.await??);
                }
                v
            } else {
                let mut v = Vec::new();
                for kind in ClientKind::ALL {
                    v.push(run_one(kind, &case, mode, settings).await?);
                }
                v
            };
            for r in reports {
                progress(&r);
                out.push(r);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(preset: &str) -> Case {
        let c = case::FULL.iter().find(|c| c.preset == preset).copied();
        Case {
            duration: Duration::from_millis(200),
            ..c.unwrap_or(case::FULL[0])
        }
    }

    /// Counts only: the open loop's schedule fixes how many requests start, and
    /// every number below is a count the simulator or the recorder kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_client_runs_and_the_counts_agree() {
        let settings = Settings::full();
        for kind in ClientKind::ALL {
            let r = run_one(kind, &short("ok"), Mode::Open, &settings)
                .await
                .unwrap();
            assert_eq!(r.logical, 8, "{kind:?}: 40/s for 200 ms");
            assert_eq!((r.successes, r.api_requests), (8, 8), "{kind:?}");
            assert_eq!((r.wire_attempts, r.tokens_issued), (8, 1), "{kind:?}");
        }
        let bare = run_one(
            ClientKind::Bare,
            &short("outage-503"),
            Mode::Open,
            &settings,
        )
        .await
        .unwrap();
        assert_eq!((bare.successes, bare.api_requests), (0, 8));
        assert_eq!((bare.during_outage, bare.server_errors), (8, 8));
    }
}
