//! `resile demo`: the device-fleet workload against the embedded simulator, run by
//! bare reqwest, reqwest-retry and resile side by side, then one comparison table.

mod clients;
mod report;
mod workload;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use resile_sim::{Scenario, Sim, SimHandle};
use tokio::time::Instant;

use crate::output;
use report::{ClientReport, Layers, ServerSide};
use workload::{Bearer, Plan};

/// Arguments of `resile demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Devices in the simulated fleet.
    #[arg(long, default_value_t = 60)]
    devices: usize,
    /// How long the workload sends, in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Logical requests per second (open loop: the same schedule for every client).
    #[arg(long, default_value_t = 40)]
    rate: u32,
    /// Seed of the simulator's fault decisions and of resile's jitter.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The simulator scenario (`resile sim --list`).
    #[arg(long, default_value = "demo")]
    scenario: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

const CLIENTS: [&str; 3] = ["bare reqwest", "reqwest-retry", "resile"];
const TIMEOUT: Duration = Duration::from_secs(3);
const DEADLINE: Duration = Duration::from_secs(6);

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if Scenario::from_name(&args.scenario).is_none() {
        bail!(
            "unknown --scenario {:?}; one of: {}",
            args.scenario,
            Scenario::names().join(", ")
        );
    }
    if args.devices == 0 || args.rate == 0 || args.duration == 0 {
        bail!("--devices, --rate and --duration must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(demo(args))
}

async fn start_sim(args: &Args) -> anyhow::Result<SimHandle> {
    let scenario = Scenario::from_name(&args.scenario).context("checked above")?;
    Sim::builder()
        .seed(args.seed)
        .devices(args.devices)
        .scenario(scenario)
        .start()
        .await
        .context("starting the simulator")
}

async fn token(base: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/__sim/token"))
        .send()
        .await?
        .json()
        .await?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token")
}

async fn demo(args: &Args) -> anyhow::Result<ExitCode> {
    let mut sims = Vec::new();
    for _ in CLIENTS {
        sims.push(start_sim(args).await?);
    }
    let multi = MultiProgress::with_draw_target(if args.json {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let total = args.duration * u64::from(args.rate);
    let style =
        ProgressStyle::with_template("{prefix:>14} {bar:40} {pos:>5} logical requests {msg}")
            .context("progress template")?;

    let resile_base = sims[2].base_url();
    let authority = sims[2].addr().to_string();
    let (resile_client, service) =
        clients::resile(&resile_base, &authority, TIMEOUT, DEADLINE, args.seed)?;
    let contenders = [
        (clients::bare(TIMEOUT), false),
        (clients::reqwest_retry(TIMEOUT), false),
        (resile_client, true),
    ];
    let mut runs = Vec::new();
    for ((name, (client, stack)), sim) in CLIENTS.iter().zip(contenders).zip(&sims) {
        let base = sim.base_url();
        let bearer = if stack {
            Bearer::Stack
        } else {
            Bearer::Fixed(token(&base).await?)
        };
        let plan = Arc::new(Plan {
            base,
            devices: sim.device_ids(),
            duration: Duration::from_secs(args.duration),
            rate: args.rate,
            page: 25,
            label: "demo",
        });
        let bar = multi.add(
            ProgressBar::new(total)
                .with_style(style.clone())
                .with_prefix(*name),
        );
        let tick = bar.clone();
        runs.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let done = workload::run(client, bearer, plan, move || tick.inc(1)).await;
            bar.finish_with_message("done");
            (done, t0.elapsed())
        }));
    }
    let mut reports = Vec::new();
    for ((name, run), sim) in CLIENTS.iter().zip(runs).zip(&sims) {
        let (done, wall) = run.await.context("a workload task failed")?;
        let s = sim.stats();
        let server = ServerSide {
            requests: s.total(),
            during_storm: s.during_outage,
            duplicates: s.duplicate_executions(),
            tokens_issued: s.tokens_issued,
            unauthorized: s.status_count(401),
        };
        let layers = (*name == "resile").then(|| Layers {
            breaker_opens: service.breaker().map_or(0, |b| b.opens()),
            device_holds: service.device_gate().map_or(0, |g| g.holds()),
            host_holds: service.pacing().map_or(0, |p| p.holds()),
        });
        reports.push(ClientReport::new(name, &done, server, layers, wall));
    }
    for sim in sims {
        sim.shutdown().await;
    }
    let checks = report::guarantees(&reports, DEADLINE);
    if args.json {
        let v = serde_json::json!({
            "scenario": args.scenario, "seed": args.seed, "devices": args.devices,
            "duration_s": args.duration, "rate": args.rate,
            "clients": reports, "guarantees": checks,
        });
        output::line(&serde_json::to_string_pretty(&v)?);
    } else {
        output::line("");
        output::line(&format!(
            "Device fleet: {} devices, {} logical requests/s for {} s, scenario {:?}, seed {}",
            args.devices, args.rate, args.duration, args.scenario, args.seed
        ));
        output::line("");
        output::line(&report::table(&reports));
        for g in &checks {
            output::line(&format!(
                "[{}] {} ({})",
                if g.ok { "ok" } else { "FAILED" },
                g.name,
                g.detail
            ));
        }
    }
    Ok(if checks.iter().all(|g| g.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
