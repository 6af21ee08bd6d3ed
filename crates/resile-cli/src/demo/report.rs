//! The comparison table, the JSON report and resile's guarantees.

use std::time::Duration;

use serde::Serialize;

use super::workload::Done;

/// What one client did, from its own side and from the server's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientReport {
    pub(crate) client: &'static str,
    pub(crate) logical_requests: usize,
    pub(crate) logical_successes: usize,
    pub(crate) success_rate: f64,
    pub(crate) server_requests: u64,
    pub(crate) server_requests_per_logical: f64,
    pub(crate) server_requests_during_storm: u64,
    pub(crate) duplicate_executions: u64,
    pub(crate) token_refreshes: u64,
    pub(crate) unauthorized: u64,
    pub(crate) breaker_opens: Option<u64>,
    pub(crate) device_holds: Option<u64>,
    pub(crate) host_holds: Option<u64>,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) wall_ms: f64,
}

/// What resile's own layers counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layers {
    pub(crate) breaker_opens: u64,
    pub(crate) device_holds: u64,
    pub(crate) host_holds: u64,
}

/// Server-side counts for one client's run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerSide {
    pub(crate) requests: u64,
    pub(crate) during_storm: u64,
    pub(crate) duplicates: u64,
    pub(crate) tokens_issued: u64,
    pub(crate) unauthorized: u64,
}

impl ClientReport {
    pub(crate) fn new(
        client: &'static str,
        done: &[Done],
        server: ServerSide,
        layers: Option<Layers>,
        wall: Duration,
    ) -> Self {
        let mut lat: Vec<f64> = done.iter().map(|d| d.latency.as_secs_f64() * 1e3).collect();
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if lat.is_empty() {
                0.0
            } else {
                lat[((lat.len() - 1) as f64 * p).round() as usize]
            }
        };
        let logical = done.len();
        let ok = done.iter().filter(|d| d.ok).count();
        Self {
            client,
            logical_requests: logical,
            logical_successes: ok,
            success_rate: ok as f64 / logical.max(1) as f64,
            server_requests: server.requests,
            server_requests_per_logical: server.requests as f64 / logical.max(1) as f64,
            server_requests_during_storm: server.during_storm,
            duplicate_executions: server.duplicates,
            token_refreshes: server.tokens_issued.saturating_sub(1),
            unauthorized: server.unauthorized,
            breaker_opens: layers.map(|l| l.breaker_opens),
            device_holds: layers.map(|l| l.device_holds),
            host_holds: layers.map(|l| l.host_holds),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            max_ms: lat.last().copied().unwrap_or(0.0),
            wall_ms: wall.as_secs_f64() * 1e3,
        }
    }
}

/// One promise resile makes about its own behaviour, checked after the run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Guarantee {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

/// resile's guarantees, judged from the reports (resile is the last one).
pub(crate) fn guarantees(reports: &[ClientReport], deadline: Duration) -> Vec<Guarantee> {
    let (Some(bare), Some(ours)) = (reports.first(), reports.last()) else {
        return Vec::new();
    };
    let limit_ms = (deadline + Duration::from_secs(2)).as_secs_f64() * 1e3;
    vec![
        Guarantee {
            name: "no duplicate executions of non-idempotent requests",
            ok: ours.duplicate_executions == 0,
            detail: format!("{} duplicates", ours.duplicate_executions),
        },
        Guarantee {
            name: "no more load than no retries at all during the storm",
            ok: ours.server_requests_during_storm <= bare.server_requests_during_storm,
            detail: format!(
                "{} requests vs {} for bare reqwest",
                ours.server_requests_during_storm, bare.server_requests_during_storm
            ),
        },
        Guarantee {
            name: "every logical request finished within its deadline",
            ok: ours.max_ms <= limit_ms,
            detail: format!(
                "slowest {:.0} ms, deadline {:.0} ms",
                ours.max_ms,
                deadline.as_secs_f64() * 1e3
            ),
        },
    ]
}

/// The human table: one row per measure, one column per client.
pub(crate) fn table(reports: &[ClientReport]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&ClientReport) -> String| {
        rows.push((name.to_owned(), reports.iter().map(f).collect()));
    };
    row("logical successes", &|r| {
        format!(
            "{}/{} ({:.1} %)",
            r.logical_successes,
            r.logical_requests,
            r.success_rate * 100.0
        )
    });
    row("server requests per logical request", &|r| {
        format!("{:.2}", r.server_requests_per_logical)
    });
    row("server requests during the storm", &|r| {
        r.server_requests_during_storm.to_string()
    });
    row("duplicate non-idempotent executions", &|r| {
        r.duplicate_executions.to_string()
    });
    row("token refreshes", &|r| r.token_refreshes.to_string());
    row("401 responses", &|r| r.unauthorized.to_string());
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |n| n.to_string());
    row("breaker opens", &|r| opt(r.breaker_opens));
    row("device holds", &|r| opt(r.device_holds));
    row("Retry-After holds", &|r| opt(r.host_holds));
    row("latency p50 / p99", &|r| {
        format!("{:.0} / {:.0} ms", r.p50_ms, r.p99_ms)
    });
    row("wall time", &|r| format!("{:.1} s", r.wall_ms / 1e3));

    let first = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..reports.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].len())
                .chain([reports[i].client.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, head: &str, cells: &[String]| {
        out.push_str(&format!("{head:<first$}"));
        for (cell, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {cell:>w$}"));
        }
        out.push('\n');
    };
    let names: Vec<String> = reports.iter().map(|r| r.client.to_owned()).collect();
    line(&mut out, "", &names);
    let total: usize = first + widths.iter().map(|w| w + 2).sum::<usize>();
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for (name, cells) in &rows {
        line(&mut out, name, cells);
    }
    out
}
