//! The human-readable tables: one per scenario, clients as columns, both modes.

use std::fmt::Write as _;

use super::case::{Case, Mode};
use super::clients::ClientKind;
use super::report::RunReport;
use super::run::Settings;

type Cell = fn(&RunReport) -> String;
type Number = fn(&RunReport) -> f64;

/// A table row: its label, how to print a cell, and the number ratios compare.
struct Row {
    label: &'static str,
    cell: Cell,
    number: Option<Number>,
    shown: fn(&Case, &[&RunReport]) -> bool,
}

const fn row(label: &'static str, cell: Cell, number: Option<Number>) -> Row {
    Row {
        label,
        cell,
        number,
        shown: |_, _| true,
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn rows() -> Vec<Row> {
    vec![
        row("logical requests", |r| r.logical.to_string(), None),
        row("success", |r| pct(r.success_rate), Some(|r| r.success_rate)),
        row(
            "success GET/cmd/create %",
            |r| {
                let k = |name| {
                    r.kind_rate(name)
                        .map_or("-".into(), |x| format!("{:.0}", x * 100.0))
                };
                format!("{}/{}/{}", k("list"), k("command"), k("create"))
            },
            None,
        ),
        row(
            "API requests (server)",
            |r| r.api_requests.to_string(),
            Some(|r| r.api_requests as f64),
        ),
        row(
            "server requests / logical",
            |r| format!("{:.3}", r.requests_per_logical),
            Some(|r| r.requests_per_logical),
        ),
        Row {
            shown: |c, _| !c.outage_windows().is_empty(),
            ..row(
                "requests during outage",
                |r| r.during_outage.to_string(),
                Some(|r| r.during_outage as f64),
            )
        },
        row(
            "answers 401 / 429 / 5xx",
            |r| format!("{} / {} / {}", r.unauthorized, r.throttled, r.server_errors),
            None,
        ),
        row("tokens issued", |r| r.tokens_issued.to_string(), None),
        row("duplicate executions", |r| r.duplicates.to_string(), None),
        row(
            "latency p50 ms",
            |r| format!("{:.1}", r.p50_ms),
            Some(|r| r.p50_ms),
        ),
        row(
            "latency p99 ms",
            |r| format!("{:.1}", r.p99_ms),
            Some(|r| r.p99_ms),
        ),
        Row {
            shown: |c, _| {
                c.outage_windows()
                    .iter()
                    .any(|w| w.1 != std::time::Duration::MAX)
            },
            ..row(
                "recovery after outage s",
                |r| r.recovery_s.map_or("never".into(), |s| format!("{s:.2}")),
                None,
            )
        },
        Row {
            shown: |_, rs| rs.iter().any(|r| r.gaps.checked > 0),
            ..row(
                "hinted retries: early/all",
                |r| format!("{}/{}", r.gaps.early, r.gaps.checked),
                None,
            )
        },
        row(
            "no response (top reason)",
            |r| {
                let n: u64 = r.no_response.values().sum();
                match r.no_response.iter().max_by_key(|(_, v)| **v) {
                    Some((why, _)) if n > 0 => format!("{n} {why}"),
                    _ => "0".into(),
                }
            },
            None,
        ),
        row(
            "resile: opens/holds/dev",
            |r| {
                r.layers.map_or("-".into(), |l| {
                    format!("{}/{}/{}", l.breaker_opens, l.pacing_holds, l.device_holds)
                })
            },
            None,
        ),
    ]
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a / b < 0.1 {
        format!("{:.3}x", a / b)
    } else if b > 0.0 {
        format!("{:.2}x", a / b)
    } else if a == 0.0 {
        "=".into()
    } else {
        "-".into()
    }
}

/// One table per scenario, open loop then closed loop.
pub fn render(settings: &Settings, reports: &[RunReport]) -> String {
    let heads = [
        "bare",
        "reqwest-retry",
        "resile",
        "resile/bare",
        "resile/retry",
    ];
    let widths = [26, 16, 16, 16, 12, 12];
    let mut out = String::new();
    for case in &settings.cases {
        let summary = case.scenario().map_or("", |s| s.summary());
        let _ = writeln!(
            out,
            "\n## {} (preset `{}`: {summary}; {:.1} s per run)\n",
            case.title,
            case.preset,
            case.duration.as_secs_f64()
        );
        for mode in &settings.modes {
            let of = |k: ClientKind| {
                reports
                    .iter()
                    .find(|r| r.scenario == case.preset && r.mode == *mode && r.client == k)
            };
            let (Some(b), Some(q), Some(s)) = (
                of(ClientKind::Bare),
                of(ClientKind::ReqwestRetry),
                of(ClientKind::Resile),
            ) else {
                continue;
            };
            let load = match mode {
                Mode::Open => format!("open loop, {}/s", settings.rate),
                Mode::Closed => format!(
                    "closed loop, {} workers, {} ms think",
                    settings.workers,
                    settings.think.as_millis()
                ),
            };
            let _ = writeln!(out, "{load}");
            let _ = write!(out, "{:<w$}", "", w = widths[0]);
            for (h, w) in heads.iter().zip(&widths[1..]) {
                let _ = write!(out, " {h:>w$}");
            }
            out.push('\n');
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 5));
            let all = [b, q, s];
            for row in rows() {
                if !(row.shown)(case, &all) {
                    continue;
                }
                let mut cells: Vec<String> = all.iter().map(|r| (row.cell)(r)).collect();
                match row.number {
                    Some(n) => {
                        cells.push(ratio(n(s), n(b)));
                        cells.push(ratio(n(s), n(q)));
                    }
                    None => cells.extend(["".into(), "".into()]),
                }
                let mut line = format!("{:<w$}", row.label, w = widths[0]);
                for (c, w) in cells.iter().zip(&widths[1..]) {
                    let _ = write!(line, " {c:>w$}");
                }
                let _ = writeln!(out, "{}", line.trim_end());
            }
            out.push('\n');
        }
    }
    out
}
