//! The scenario matrix: `cargo run --release -p resile-benches --bin scenarios`.
//!
//! Options: `--json` (one JSON document on stdout instead of the tables), `--quick`
//! or `--test` (a few seconds: the harness runs, targets are not judged),
//! `--sequential` (one client at a time instead of the three side by side),
//! `--only <preset>[,<preset>..]` and `--mode open|closed` (a part of the matrix),
//! and two what-if knobs that change resile's settings (never in the published run):
//! `--resile-quota N` (a pacing quota of N/s per host) and `--resile-break-ms N` (the
//! breaker's first open duration).

use std::io::Write as _;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use resile_benches::scenario::{self, Mode, Settings, TargetLimits};

#[derive(Debug, Default)]
struct Args {
    json: bool,
    quick: bool,
    sequential: bool,
    only: Option<Vec<String>>,
    mode: Option<Mode>,
    resile_quota: Option<NonZeroU32>,
    resile_break: Option<Duration>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--quick" | "--test" => args.quick = true,
            "--sequential" => args.sequential = true,
            // What `cargo bench` passes to targets: ignore.
            "--bench" | "--nocapture" => {}
            "--only" => {
                let v = it.next().ok_or("--only needs a list of presets")?;
                args.only = Some(v.split(',').map(str::to_owned).collect());
            }
            "--mode" => {
                args.mode = Some(match it.next().as_deref() {
                    Some("open") => Mode::Open,
                    Some("closed") => Mode::Closed,
                    _ => return Err("--mode needs open or closed".into()),
                });
            }
            "--resile-quota" => {
                let n = it.next().and_then(|v| v.parse::<u32>().ok());
                args.resile_quota = Some(
                    n.and_then(NonZeroU32::new)
                        .ok_or("--resile-quota needs a count > 0")?,
                );
            }
            "--resile-break-ms" => {
                let ms = it.next().and_then(|v| v.parse::<u64>().ok());
                let ms = ms
                    .filter(|ms| *ms > 0)
                    .ok_or("--resile-break-ms needs a count > 0")?;
                args.resile_break = Some(Duration::from_millis(ms));
            }
            "--help" | "-h" => {
                return Err("usage: scenarios [--json] [--quick|--test] [--sequential] [--only preset,..] [--mode open|closed] [--resile-quota N] [--resile-break-ms N]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn settings(args: &Args) -> Result<Settings, String> {
    let mut s = if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    s.concurrent = !args.sequential;
    if let Some(only) = &args.only {
        let known: Vec<&str> = scenario::FULL.iter().map(|c| c.preset).collect();
        if let Some(bad) = only.iter().find(|o| !known.contains(&o.as_str())) {
            return Err(format!(
                "unknown preset {bad:?}; one of {}",
                known.join(", ")
            ));
        }
        s.cases.retain(|c| only.iter().any(|o| o == c.preset));
        if s.cases.is_empty() {
            // --quick with --only a preset outside the quick four: take it from FULL.
            s.cases = scenario::FULL
                .iter()
                .filter(|c| only.iter().any(|o| o == c.preset))
                .copied()
                .collect();
        }
    }
    s.limits.resile_quota = args.resile_quota;
    s.limits.resile_break = args.resile_break;
    if let Some(m) = args.mode {
        s.modes = vec![m];
    }
    Ok(s)
}

#[allow(clippy::print_stdout)] // the binary's output
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = match settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reports = runtime.block_on(scenario::run_matrix(&settings, |r| {
        eprintln!(
            "{:>13} {:<6} {:<13} {:>5} logical, {:>6.1} % ok, {:>5} API requests, {:.1} s",
            r.scenario,
            r.mode.as_str(),
            r.client.as_str(),
            r.logical,
            r.success_rate * 100.0,
            r.api_requests,
            r.wall_s
        );
    }));
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the matrix failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut limits = TargetLimits::from_defaults();
    if let Some(d) = settings.limits.resile_break {
        limits.break_duration = d;
    }
    let verdicts = if settings.quick {
        Vec::new()
    } else {
        scenario::judge(&reports, &settings.cases, limits)
    };
    if args.json {
        let doc = serde_json::json!({
            "settings": settings,
            "target_limits": limits,
            "runs": reports,
            "targets": verdicts,
        });
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
    } else {
        let mut text = scenario::render(&settings, &reports);
        if settings.quick {
            text.push_str("\nquick run: targets not judged\n");
        } else {
            text.push_str("\n## resile's targets\n\n");
            for v in &verdicts {
                text.push_str(&format!(
                    "{} [{}] {}: {}\n",
                    if v.pass { "PASS" } else { "MISS" },
                    v.mode.as_str(),
                    v.target,
                    v.measured
                ));
            }
        }
        emit(&text);
    }
    ExitCode::SUCCESS
}
