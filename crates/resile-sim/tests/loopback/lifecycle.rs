//! Start, stats, reset, reproducibility and shutdown.

use std::time::Duration;

use resile_sim::{Fault, RouteKind, Scenario, Sim, Stats, TimedFault};

use crate::client::{Client, send, try_send};

#[tokio::test]
async fn port_zero_gives_the_bound_address() {
    let sim = Sim::builder().start().await.unwrap();
    assert!(sim.addr().ip().is_loopback());
    assert_ne!(sim.addr().port(), 0);
    assert_eq!(
        sim.base_url(),
        format!("http://127.0.0.1:{}", sim.addr().port())
    );
    let taken = Sim::builder().bind(sim.addr()).start().await.unwrap_err();
    assert!(taken.is_bind() && !taken.is_config());
    let bad = Sim::builder().queue_capacity(0).start().await.unwrap_err();
    assert_eq!(bad.field(), Some("queue_capacity"));
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_endpoint_reports_routes_statuses_and_extras() {
    let sim = Sim::builder().devices(2).start().await.unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    c.get("/v3/devices").await;
    c.get("/v3/devices/nope").await;
    let headers = [
        ("Authorization", c.auth.as_str()),
        ("Idempotency-Key", "k-1"),
    ];
    let target = format!("/v2/device-requests/{}?async-id=i1", sim.device_ids()[0]);
    send(sim.addr(), "POST", &target, &headers, b"{}").await;
    send(sim.addr(), "GET", "/v3/devices", &[], b"").await;

    let r = send(sim.addr(), "GET", "/__sim/stats", &[], b"").await;
    assert_eq!(r.status(), 200);
    let json = r.json();
    assert_eq!(json["requests"], 4);
    assert_eq!(json["route"]["list_devices"], 2);
    assert_eq!(json["route"]["get_device"], 1);
    assert_eq!(json["route"]["device_request"], 1);
    assert_eq!(json["status"]["200"], 1);
    assert_eq!(json["status"]["404"], 1);
    assert_eq!(json["status"]["202"], 1);
    assert_eq!(json["status"]["401"], 1);
    assert_eq!(json["unauthorized"]["invalid_auth"], 1);
    assert_eq!(json["with_idempotency_key"], 1);
    assert_eq!(json["connections"], 5);
    let stats: Stats = serde_json::from_value(json).unwrap();
    assert_eq!(stats.route_count(RouteKind::ListDevices), 2);
    // Reading the stats is not counted.
    assert_eq!(sim.stats().total(), 4);

    sim.reset_stats();
    assert_eq!(sim.stats().total(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn reset_route_restarts_time_fleet_and_counters() {
    let sim = Sim::builder()
        .devices(1)
        .drain_per_second(0.0)
        .queue_capacity(1)
        .start()
        .await
        .unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    let id = &sim.device_ids()[0];
    assert_eq!(c.command(id, "a").await.status(), 202);
    assert_eq!(c.command(id, "b").await.text(), "QUEUE_IS_FULL");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = send(sim.addr(), "POST", "/__sim/reset", &[], b"").await;
    assert_eq!(r.status(), 200);
    assert!(sim.elapsed() < Duration::from_millis(50));
    assert_eq!(sim.stats().total(), 0);
    assert_eq!(c.command(id, "a").await.status(), 202);
    sim.shutdown().await;
}

async fn run(seed: u64) -> (Vec<u16>, Vec<String>, String) {
    let sim = Sim::builder()
        .seed(seed)
        .devices(3)
        .fault(TimedFault::new(Fault::Flaky {
            p: 0.5,
            status: 503,
        }))
        .fault(TimedFault::new(Fault::Gateway { status: 502 }).probability(0.2))
        .start()
        .await
        .unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    let mut statuses = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..40 {
        let r = c.get("/v3/devices?limit=2").await;
        statuses.push(r.status());
        ids.push(r.header("x-request-id").unwrap().to_owned());
    }
    let token = sim.issue_token();
    sim.shutdown().await;
    (statuses, ids, token)
}

#[tokio::test]
async fn same_seed_same_requests_same_answers() {
    let (a, b, c) = tokio::join!(run(11), run(11), run(12));
    assert_eq!(a, b);
    assert_ne!(a.0, c.0);
    assert_ne!(a.2, c.2);
    for status in [200, 502, 503] {
        assert!(a.0.contains(&status), "{status} missing from {:?}", a.0);
    }
    let unique: std::collections::HashSet<&String> = a.1.iter().collect();
    assert_eq!(unique.len(), 40);
}

#[tokio::test]
async fn storm_counts_requests_during_the_outage() {
    let storm = resile_sim::Timeline::storm(Duration::ZERO, Duration::from_millis(400), None);
    let sim = Sim::builder()
        .devices(1)
        .timeline(storm)
        .start()
        .await
        .unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(c.get("/v3/devices").await.status());
    }
    if sim.elapsed() < Duration::from_millis(400) {
        assert!(
            statuses.iter().all(|s| *s == 500 || *s == 503),
            "{statuses:?}"
        );
        assert_eq!(sim.stats().during_outage, 10);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn scenarios_start() {
    for name in Scenario::names() {
        let scenario = Scenario::from_name(name).unwrap();
        let sim = Sim::builder()
            .devices(8)
            .scenario(scenario)
            .start()
            .await
            .unwrap();
        let c = Client::new(sim.addr(), sim.api_key());
        let r = c.get("/v3/devices").await;
        assert!(r.status.is_some(), "{name}");
        if *name == "demo" {
            assert_eq!(sim.offline_ids().len(), 2);
            assert_eq!(sim.full_queue_ids().len(), 2);
            assert_eq!(
                c.command(&sim.full_queue_ids()[0], "x").await.text(),
                "QUEUE_IS_FULL"
            );
            assert_eq!(
                c.command(&sim.offline_ids()[0], "x").await.text(),
                "DEVICE_NOT_CONNECTED"
            );
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn concurrent_clients_are_all_answered() {
    let sim = Sim::builder()
        .devices(50)
        .drain_per_second(1000.0)
        .start()
        .await
        .unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    let ids = sim.device_ids();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let c = c.clone();
        let id = ids[i % ids.len()].clone();
        tasks.spawn(async move { c.command(&id, &format!("c{i}")).await.status() });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 202);
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.total(), stats.commands_accepted, stats.connections),
        (200, 200, 200)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let sim = Sim::builder().start().await.unwrap();
    let addr = sim.addr();
    sim.shutdown().await;
    assert!(
        try_send(addr, "GET", "/__sim/stats", &[], b"")
            .await
            .is_err()
    );

    let sim = Sim::builder().start().await.unwrap();
    let addr = sim.addr();
    drop(sim);
    let mut refused = false;
    for _ in 0..100 {
        if try_send(addr, "GET", "/__sim/stats", &[], b"")
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "still listening after drop");
}

#[tokio::test]
async fn shutdown_waits_for_a_request_in_flight() {
    let slow = TimedFault::new(Fault::Slow {
        delay: Duration::from_millis(200),
    });
    let sim = Sim::builder().fault(slow).start().await.unwrap();
    let c = Client::new(sim.addr(), sim.api_key());
    let request = tokio::spawn(async move { c.get("/v3/devices?limit=2").await.status });
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.shutdown().await;
    assert_eq!(request.await.unwrap(), Some(200));
}
