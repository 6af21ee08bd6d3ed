//! `resile`: classify Device Management API errors, explain the action table, run the
//! device-fleet demo and the fault simulator.

mod classify;
mod demo;
mod explain;
mod output;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Make HTTP API clients survive real failures.
#[derive(Debug, Parser)]
#[command(name = "resile", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify one response or transport failure; prints one JSON object.
    Classify(classify::Args),
    /// Print the whole action table: status and body → class, scope, reason, action.
    Explain(explain::Args),
    /// Run the device-fleet demo: bare reqwest, reqwest-retry and resile side by side
    /// against the embedded fault simulator.
    Demo(demo::Args),
    /// Run the fault-injecting Device Management simulator until Ctrl-C.
    Sim(sim::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            output::error(&err);
            ExitCode::from(2)
        }
    }
}
