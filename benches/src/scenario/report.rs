//! What one run measured: the client's side, the server's side and resile's counters.

use std::collections::BTreeMap;
use std::time::Duration;

use resile_sim::{RouteKind, Stats};
use serde::Serialize;

use super::case::{Case, Mode};
use super::clients::ClientKind;
use super::recorder::GapCheck;
use super::workload::{Done, End, Kind};

/// Successes out of logical requests, for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Succeeded (2xx, body read).
    pub ok: u64,
    /// Sent.
    pub total: u64,
}

/// resile's own counters, read from its layers after the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LayerCounts {
    /// Transitions of the breaker to Open.
    pub breaker_opens: u64,
    /// Tokens the auth layer installed (initial fetch included).
    pub auth_refreshes: u64,
    /// Host holds the pacing layer set or extended from a `Retry-After`.
    pub pacing_holds: u64,
    /// Device holds the device gate set.
    pub device_holds: u64,
}

/// One (client, scenario, mode) run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The client.
    pub client: ClientKind,
    /// The simulator preset.
    pub scenario: &'static str,
    /// Open or closed loop.
    pub mode: Mode,
    /// How long requests were offered, in seconds.
    pub duration_s: f64,
    /// From the first request to the last answer, in seconds.
    pub wall_s: f64,
    /// Logical requests (what the application asked for).
    pub logical: u64,
    /// Logical requests that succeeded.
    pub successes: u64,
    /// `successes / logical`.
    pub success_rate: f64,
    /// Successes per kind: `list`, `command`, `create`.
    pub by_kind: BTreeMap<&'static str, Count>,
    /// API requests the server received (its total minus token requests).
    pub api_requests: u64,
    /// `api_requests / logical`: the load each logical request cost the server.
    pub requests_per_logical: f64,
    /// Attempts the innermost recorder saw (client side; cross-checks the server).
    pub wire_attempts: u64,
    /// API requests that arrived during an outage window (`stats.during_outage`).
    pub during_outage: u64,
    /// Access tokens the server issued (the first included).
    pub tokens_issued: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 429 answers.
    pub throttled: u64,
    /// 500 and 503 answers.
    pub server_errors: u64,
    /// Non-idempotent requests the server executed more than once.
    pub duplicates: u64,
    /// Latency of logical requests (all outcomes), 50th percentile, in ms.
    pub p50_ms: f64,
    /// 99th percentile, in ms.
    pub p99_ms: f64,
    /// The slowest, in ms.
    pub max_ms: f64,
    /// Seconds from the end of the first outage window until requests succeed again
    /// (see [`recovery`]); `None` without a window or without a success after it.
    pub recovery_s: Option<f64>,
    /// Retries after a `Retry-After`, checked against the hint.
    pub gaps: GapCheck,
    /// Logical requests that ended without a response, by reason.
    pub no_response: BTreeMap<&'static str, u64>,
    /// resile's counters (resile only).
    pub layers: Option<LayerCounts>,
}

impl RunReport {
    /// Summarises one run.
    pub fn new(
        client: ClientKind,
        case: &Case,
        mode: Mode,
        done: &[Done],
        stats: &Stats,
        layers: Option<LayerCounts>,
        wall: Duration,
    ) -> Self {
        let logical = done.len() as u64;
        let successes = done.iter().filter(|d| d.ok).count() as u64;
        let mut by_kind = BTreeMap::new();
        for (name, kind) in [
            ("list", Kind::List),
            ("command", Kind::Command),
            ("create", Kind::Create),
        ] {
            let of_kind = done.iter().filter(|d| d.kind == kind);
            let count = Count {
                ok: of_kind.clone().filter(|d| d.ok).count() as u64,
                total: of_kind.count() as u64,
            };
            by_kind.insert(name, count);
        }
        let api_requests = stats.total() - stats.route_count(RouteKind::Token);
        let mut gaps = GapCheck::default();
        let mut no_response = BTreeMap::new();
        for d in done {
            gaps.add(&d.attempts);
            let why = match d.outcome {
                End::Status(_) => continue,
                End::Local(why) | End::Transport(why) => why,
                End::Deadline => "deadline",
            };
            *no_response.entry(why).or_default() += 1;
        }
        let mut lat: Vec<f64> = done
            .iter()
            .map(|d| (d.end - d.start).as_secs_f64() * 1e3)
            .collect();
        lat.sort_by(f64::total_cmp);
        Self {
            client,
            scenario: case.preset,
            mode,
            duration_s: case.duration.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            logical,
            successes,
            success_rate: ratio(successes, logical),
            by_kind,
            api_requests,
            requests_per_logical: ratio(api_requests, logical),
            wire_attempts: done.iter().map(|d| d.attempts.len() as u64).sum(),
            during_outage: stats.during_outage,
            tokens_issued: stats.tokens_issued,
            unauthorized: stats.status_count(401),
            throttled: stats.status_count(429),
            server_errors: stats.status_count(500) + stats.status_count(503),
            duplicates: stats.duplicate_executions(),
            p50_ms: percentile(&lat, 0.50),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(0.0),
            recovery_s: recovery(done, &case.outage_windows()).map(|d| d.as_secs_f64()),
            gaps,
            no_response,
            layers,
        }
    }

    /// Successes of one kind over requests of that kind.
    pub fn kind_rate(&self, kind: &str) -> Option<f64> {
        self.by_kind
            .get(kind)
            .filter(|c| c.total > 0)
            .map(|c| ratio(c.ok, c.total))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Time from the end `E` of the first outage window that closes during the run until
/// the client's requests succeed again.
///
/// Among the logical requests *started* after `E` (and before the next window), find
/// the last one that failed; the first success started after it marks recovery, at
/// its **completion**. So a client that fails fast after the outage (an open
/// breaker) recovers when it lets requests through again, one that holds requests
/// back recovers when they complete, and a straggler failure that started before
/// `E` does not count. `None` if no window closes, or nothing succeeds after it.
pub fn recovery(done: &[Done], windows: &[(Duration, Duration)]) -> Option<Duration> {
    let (i, &(_, end)) = windows
        .iter()
        .enumerate()
        .find(|(_, w)| w.1 != Duration::MAX)?;
    let next = windows.get(i + 1).map_or(Duration::MAX, |w| w.0);
    let after: Vec<&Done> = done
        .iter()
        .filter(|d| d.start >= end && d.start < next)
        .collect();
    let last_failure = after.iter().filter(|d| !d.ok).map(|d| d.start).max();
    after
        .iter()
        .filter(|d| d.ok && last_failure.is_none_or(|f| d.start > f))
        .map(|d| d.end)
        .min()
        .map(|t| t.saturating_sub(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(start_ms: u64, end_ms: u64, ok: bool) -> Done {
        Done {
            kind: Kind::List,
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            ok,
            outcome: if ok {
                End::Status(200)
            } else {
                End::Local("circuit_open")
            },
            attempts: Vec::new(),
        }
    }

    #[test]
    fn recovery_waits_for_the_last_failure_after_the_window() {
        let w = [(Duration::from_secs(3), Duration::from_secs(6))];
        // Fails fast until 8 s, succeeds from 8.1 s; a failure started before 6 s
        // and a success started before 6 s are ignored.
        let runs = [
            done(5_900, 6_500, false),
            done(5_950, 6_010, true),
            done(6_000, 6_001, false),
            done(8_000, 8_001, false),
            done(8_100, 8_150, true),
            done(8_200, 8_210, true),
        ];
        assert_eq!(recovery(&runs, &w), Some(Duration::from_millis(2_150)));
        // Healthy at once.
        let healthy = [done(6_000, 6_002, true)];
        assert_eq!(recovery(&healthy, &w), Some(Duration::from_millis(2)));
        // Never recovers; no closing window.
        assert_eq!(recovery(&[done(7_000, 7_001, false)], &w), None);
        let forever = [(Duration::ZERO, Duration::MAX)];
        assert_eq!(recovery(&healthy, &forever), None);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
