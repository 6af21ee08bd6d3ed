//! resile's targets from the benchmark issue, judged on one run of the matrix.

use std::time::Duration;

use serde::Serialize;

use super::case::{Case, Mode};
use super::clients::ClientKind;
use super::report::RunReport;

/// One target, judged.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What is promised.
    pub target: String,
    /// The mode it was judged in.
    pub mode: Mode,
    /// Whether the run met it.
    pub pass: bool,
    /// What was measured.
    pub measured: String,
}

/// The numbers the targets are judged against.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    /// The breaker's open duration (`BreakerMiddleware::config_builder()`).
    pub break_duration: Duration,
    /// The breaker's jitter on that duration (a fraction).
    pub break_jitter: f64,
}

impl Limits {
    /// Read from resile's defaults.
    pub fn from_defaults() -> Self {
        let config = resile_reqwest::BreakerMiddleware::config_builder()
            .config()
            .unwrap_or_default();
        Self {
            break_duration: config.open_for(),
            break_jitter: config.jitter(),
        }
    }
}

fn find<'a>(
    reports: &'a [RunReport],
    preset: &str,
    mode: Mode,
    client: ClientKind,
) -> Option<&'a RunReport> {
    reports
        .iter()
        .find(|r| r.scenario == preset && r.mode == mode && r.client == client)
}

/// Judges every target whose runs are in `reports`.
pub fn judge(reports: &[RunReport], cases: &[Case], limits: Limits) -> Vec<Verdict> {
    let mut out = Vec::new();
    for mode in Mode::ALL {
        let ours = |preset: &str| find(reports, preset, mode, ClientKind::Resile);
        let mut push = |target: String, pass: bool, measured: String| {
            out.push(Verdict {
                target,
                mode,
                pass,
                measured,
            });
        };
        for preset in ["outage-503", "outage-500"] {
            let bare = find(reports, preset, mode, ClientKind::Bare);
            if let (Mode::Open, Some(r), Some(b)) = (mode, ours(preset), bare) {
                let x = r.api_requests as f64 / b.api_requests.max(1) as f64;
                push(
                    format!("{preset}: server load <= 0.1x bare"),
                    x <= 0.1,
                    format!(
                        "{} vs {} requests = {x:.3}x",
                        r.api_requests, b.api_requests
                    ),
                );
            }
        }
        if let Some(r) = ours("flaky") {
            let get = r.kind_rate("list").unwrap_or(0.0);
            push(
                "flaky: success of replay-safe requests (GET) >= 0.999".into(),
                get >= 0.999,
                format!(
                    "GET {get:.4}; all requests {:.4} (a POST's 503 is not replayed: spec 6)",
                    r.success_rate
                ),
            );
            push(
                "flaky: server requests per logical <= 1.25".into(),
                r.requests_per_logical <= 1.25,
                format!("{:.3}", r.requests_per_logical),
            );
        }
        let stale = cases.iter().find(|c| c.preset == "stale-token");
        if let (Some(r), Some(ttl)) = (ours("stale-token"), stale.and_then(Case::token_ttl)) {
            let duration = stale.map_or(Duration::ZERO, |c| c.duration);
            push(
                "stale-token: success >= 0.999".into(),
                r.success_rate >= 0.999,
                format!("{:.4}", r.success_rate),
            );
            let expiries = (duration.as_secs_f64() / ttl.as_secs_f64()).floor() as u64;
            let refreshes = r.tokens_issued.saturating_sub(1);
            push(
                "stale-token: exactly 1 refresh per expiry".into(),
                refreshes == expiries,
                format!(
                    "{refreshes} refreshes ({} tokens issued, the first is no refresh), {expiries} expiries ({:.0} s / {:.0} s)",
                    r.tokens_issued,
                    duration.as_secs_f64(),
                    ttl.as_secs_f64()
                ),
            );
        }
        if let Some(r) = ours("quota-429") {
            push(
                "quota-429: server requests per logical <= 1.05".into(),
                r.requests_per_logical <= 1.05,
                format!(
                    "{:.3} ({} requests, {} answered 429, for {} logical)",
                    r.requests_per_logical, r.api_requests, r.throttled, r.logical
                ),
            );
        }
        if let Some(r) = ours("storm") {
            let limit = limits.break_duration + Duration::from_millis(200);
            let pass = r.recovery_s.is_some_and(|s| s <= limit.as_secs_f64());
            push(
                format!(
                    "storm: recovery <= break ({:.1} s, jitter +-{:.0} %) + 0.2 s",
                    limits.break_duration.as_secs_f64(),
                    limits.break_jitter * 100.0
                ),
                pass,
                r.recovery_s
                    .map_or("never recovered".into(), |s| format!("{s:.2} s")),
            );
        }
        let ours_all: Vec<&RunReport> = reports
            .iter()
            .filter(|r| r.mode == mode && r.client == ClientKind::Resile)
            .collect();
        if !ours_all.is_empty() {
            let checked: u64 = ours_all.iter().map(|r| r.gaps.checked).sum();
            let early: u64 = ours_all.iter().map(|r| r.gaps.early).sum();
            let margin = ours_all
                .iter()
                .filter_map(|r| r.gaps.min_margin_ms)
                .reduce(f64::min);
            push(
                "every retry gap >= the server's Retry-After".into(),
                checked > 0 && early == 0,
                format!(
                    "{early} early of {checked} hinted retries; smallest gap - hint {}",
                    margin.map_or("-".into(), |m| format!("{m:+.1} ms"))
                ),
            );
        }
    }
    out
}
