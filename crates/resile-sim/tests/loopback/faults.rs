//! Each fault kind, observed on the wire.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use resile_sim::{Fault, FaultKind, Lost, RouteKind, Sim, SimHandle, Target, TimedFault};

use crate::client::Client;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn with(fault: TimedFault) -> (SimHandle, Client) {
    let sim = Sim::builder()
        .devices(2)
        .drain_per_second(0.0)
        .fault(fault)
        .start()
        .await
        .unwrap();
    let client = Client::new(sim.addr(), sim.api_key());
    (sim, client)
}

/// Waits until the simulator's clock passes `t`.
async fn until(sim: &SimHandle, t: Duration) {
    while sim.elapsed() < t {
        tokio::time::sleep(ms(10)).await;
    }
}

#[tokio::test]
async fn outage_window_answers_json_503_then_recovers() {
    let (sim, c) = with(TimedFault::new(Fault::Outage { status: 503 }).until(ms(300))).await;
    let r = c.get("/v3/devices").await;
    if sim.elapsed() < ms(300) {
        assert_eq!(
            (r.status(), r.error_type()),
            (503, "system_unavailable".into())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["request_id"].as_str(), r.header("x-request-id"));
        assert_eq!(sim.stats().during_outage, 1);
        assert_eq!(sim.stats().fault_count(FaultKind::Outage), 1);
    }
    until(&sim, ms(300)).await;
    assert_eq!(c.get("/v3/devices").await.status(), 200);
    // Control routes are never faulted.
    sim.shutdown().await;
}

#[tokio::test]
async fn outage_500_flaky_and_account_limit_use_the_envelope() {
    let (sim, c) = with(TimedFault::new(Fault::Outage { status: 500 })).await;
    let r = c.get("/v3/devices").await;
    assert_eq!(
        (r.status(), r.error_type()),
        (500, "internal_server_error".into())
    );
    sim.shutdown().await;

    let (sim, c) = with(TimedFault::new(Fault::Flaky {
        p: 1.0,
        status: 503,
    }))
    .await;
    let r = c.get("/v3/devices").await;
    assert_eq!(
        (r.status(), r.error_type()),
        (503, "system_unavailable".into())
    );
    assert_eq!(sim.stats().during_outage, 0);
    sim.shutdown().await;

    let fault = TimedFault::new(Fault::AccountLimit).on(Target::Route(RouteKind::CreateDevice));
    let (sim, c) = with(fault).await;
    let r = c.post("/v3/devices", r#"{"name":"x"}"#).await;
    assert_eq!(
        (r.status(), r.error_type()),
        (403, "account_limit_exceeded".into())
    );
    assert_eq!(c.get("/v3/devices").await.status(), 200);
    assert_eq!(sim.stats().devices_created, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn throttle_limits_requests_per_second_with_retry_after() {
    let fault = TimedFault::new(Fault::Throttle {
        rps: NonZeroU32::new(2),
        retry_after: Some(ms(1000)),
    });
    let (sim, c) = with(fault).await;
    let mut statuses = Vec::new();
    let mut throttled = None;
    for _ in 0..5 {
        let r = c.get("/v3/devices").await;
        statuses.push(r.status());
        if r.status() == 429 && throttled.is_none() {
            throttled = Some(r);
        }
    }
    // Five requests within a second span at most two one-second windows of 2 each.
    let r = throttled.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(r.error_type(), "rate_limit_exceeded");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(statuses.contains(&200));
    sim.shutdown().await;

    let fault = TimedFault::new(Fault::Throttle {
        rps: None,
        retry_after: None,
    });
    let (sim, c) = with(fault).await;
    let r = c.get("/v3/devices").await;
    assert_eq!((r.status(), r.header("retry-after")), (429, None));
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_pages_are_html_and_empty_bodies_are_empty() {
    for status in [502, 504] {
        let (sim, c) = with(TimedFault::new(Fault::Gateway { status })).await;
        let r = c.get("/v3/devices").await;
        assert_eq!(r.status(), status);
        assert_eq!(r.header("content-type"), Some("text/html"));
        assert!(r.text().starts_with("<html>"), "{}", r.text());
        let title = if status == 502 {
            "502 Bad Gateway"
        } else {
            "504 Gateway Time-out"
        };
        assert!(r.text().contains(title));
        assert!(r.header("x-request-id").is_some());
        sim.shutdown().await;
    }
    let (sim, c) = with(TimedFault::new(Fault::EmptyBody { status: 503 })).await;
    let r = c.get("/v3/devices").await;
    assert_eq!(
        (r.status(), r.body.len(), r.promised_len()),
        (503, 0, Some(0))
    );
    assert_eq!(r.header("content-type"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_delays_the_answer() {
    let (sim, c) = with(TimedFault::new(Fault::Slow { delay: ms(200) })).await;
    #[allow(clippy::disallowed_methods)] // a lower bound on a real delay
    let started = Instant::now();
    assert_eq!(c.get("/v3/devices").await.status(), 200);
    assert!(started.elapsed() >= ms(200));
    assert_eq!(sim.stats().fault_count(FaultKind::Slow), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn reset_closes_without_a_response_and_executes_nothing() {
    let (sim, c) = with(TimedFault::new(Fault::Reset)).await;
    let r = c.command(&sim.device_ids()[0], "r1").await;
    assert_eq!(r.status, None, "{r:?}");
    assert!(r.body.is_empty());
    assert!(r.reset, "closed with a FIN, not a reset");
    let stats = sim.stats();
    assert_eq!((stats.no_response, stats.commands_accepted), (1, 0));
    assert_eq!(stats.fault_count(FaultKind::Reset), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_promises_more_than_it_sends() {
    let (sim, c) = with(TimedFault::new(Fault::Truncated)).await;
    let r = c.get("/v3/devices?limit=2").await;
    assert_eq!(r.status(), 200);
    let promised = r.promised_len().expect("content-length");
    assert!(r.body.len() < promised, "{} of {promised}", r.body.len());
    // An empty answer is cut too: it promises bytes it never sends.
    let r = c.command(&sim.device_ids()[0], "t1").await;
    assert_eq!(r.status(), 202);
    assert!(r.body.len() < r.promised_len().unwrap());
    let stats = sim.stats();
    assert_eq!(
        (
            stats.fault_count(FaultKind::Truncated),
            stats.commands_accepted
        ),
        (2, 1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_command_response_executes_and_a_blind_retry_duplicates() {
    let fault = TimedFault::new(Fault::LostResponse {
        then: Lost::Status(502),
    })
    .until(ms(300))
    .on(Target::NonIdempotent);
    let (sim, c) = with(fault).await;
    let device = &sim.device_ids()[0];
    let r = c.command(device, "cmd-1").await;
    assert!(
        sim.elapsed() < ms(300),
        "the test machine stalled for 300 ms"
    );
    assert_eq!(r.status(), 502);
    assert_eq!(r.header("content-type"), Some("text/html"));
    let stats = sim.stats();
    assert_eq!(
        (
            stats.commands_accepted,
            stats.lost_responses,
            stats.duplicate_executions()
        ),
        (1, 1, 0)
    );
    until(&sim, ms(300)).await;
    assert_eq!(c.command(device, "cmd-1").await.status(), 202);
    assert_eq!(c.command(device, "cmd-2").await.status(), 202);
    let stats = sim.stats();
    assert_eq!((stats.commands_accepted, stats.duplicate_commands), (3, 1));
    assert_eq!(stats.max_queue_depth, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_create_with_reset_then_retries_duplicate_or_conflict() {
    let fault = TimedFault::new(Fault::LostResponse { then: Lost::Reset })
        .until(ms(300))
        .on(Target::Route(RouteKind::CreateDevice));
    let (sim, c) = with(fault).await;
    let r = c.post("/v3/devices", r#"{"name":"no-id"}"#).await;
    let r2 = c
        .post("/v3/devices", r#"{"id":"with-id","name":"x"}"#)
        .await;
    assert!(
        sim.elapsed() < ms(300),
        "the test machine stalled for 300 ms"
    );
    assert_eq!((r.status, r2.status), (None, None));
    assert!(r.reset && r2.reset);
    until(&sim, ms(300)).await;
    // Retrying the id-less create makes a second device; the one with an id conflicts.
    assert_eq!(
        c.post("/v3/devices", r#"{"name":"no-id"}"#).await.status(),
        201
    );
    let r = c
        .post("/v3/devices", r#"{"id":"with-id","name":"x"}"#)
        .await;
    assert_eq!((r.status(), r.error_type()), (409, "duplicate".into()));
    let stats = sim.stats();
    assert_eq!(
        (
            stats.devices_created,
            stats.duplicate_creates,
            stats.lost_responses
        ),
        (3, 1, 2)
    );
    assert_eq!(stats.no_response, 2);
    assert_eq!(c.get("/v3/devices").await.json()["total_count"], 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_response_leaves_error_answers_alone() {
    let (sim, c) = with(TimedFault::new(Fault::LostResponse {
        then: Lost::Status(503),
    }))
    .await;
    let r = c.command("unknown", "x").await;
    assert_eq!((r.status(), r.text()), (404, "DEVICE_NOT_FOUND".to_owned()));
    let r = c.get("/v3/devices").await;
    assert_eq!(
        (r.status(), r.error_type()),
        (503, "system_unavailable".into())
    );
    assert_eq!(sim.stats().lost_responses, 1);
    sim.shutdown().await;
}
