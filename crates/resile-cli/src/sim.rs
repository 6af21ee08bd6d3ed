//! `resile sim`: the fault simulator, standalone, until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, bail};
use resile_sim::{Scenario, Sim};

use crate::output;

/// Arguments of `resile sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The fault scenario (`resile sim --list` shows them).
    #[arg(long, default_value = "ok")]
    scenario: String,
    /// The port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Devices in the fleet.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.list {
        for name in Scenario::names() {
            let s = Scenario::from_name(name).context("listed scenario")?;
            output::line(&format!("{name:<14} {}", s.summary()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(scenario) = Scenario::from_name(&args.scenario) else {
        bail!(
            "unknown --scenario {:?}; one of: {}",
            args.scenario,
            Scenario::names().join(", ")
        );
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        let summary = scenario.summary();
        let sim = Sim::builder()
            .seed(args.seed)
            .devices(args.devices)
            .scenario(scenario)
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .start()
            .await
            .context("starting the simulator")?;
        output::line(&format!("resile sim: {} ({summary})", args.scenario));
        output::line(&format!("  base URL : {}", sim.base_url()));
        output::line(&format!("  API key  : {}", sim.api_key()));
        output::line(&format!("  token    : POST {}/__sim/token", sim.base_url()));
        output::line(&format!("  stats    : GET  {}/__sim/stats", sim.base_url()));
        output::line("Ctrl-C stops it.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        let stats = sim.stats();
        sim.shutdown().await;
        output::line(&serde_json::to_string_pretty(&stats)?);
        Ok(ExitCode::SUCCESS)
    })
}
