//! Each route's happy path and error bodies.

use std::time::Duration;

use resile_sim::{Offline, Sim, SimHandle};

use crate::client::{Client, send};

async fn start(builder: resile_sim::SimBuilder) -> (SimHandle, Client) {
    let sim = builder.start().await.expect("start");
    let client = Client::new(sim.addr(), sim.api_key());
    (sim, client)
}

#[tokio::test]
async fn lists_devices_in_pages() {
    let (sim, c) = start(Sim::builder().devices(120)).await;
    let r = c.get("/v3/devices").await;
    assert_eq!(r.status(), 200);
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 32));
    let page = r.json();
    assert_eq!(page["object"], "list");
    assert_eq!(page["limit"], 50);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["total_count"], 120);
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 50);
    assert_eq!(data[0]["id"], "0161b8e8a2d10a580000000000000000");
    assert_eq!(data[0]["state"], "registered");
    let last = data[49]["id"].as_str().unwrap();

    let page = c
        .get(&format!("/v3/devices/?limit=1000&after={last}"))
        .await
        .json();
    assert_eq!(page["after"], last);
    assert_eq!(page["has_more"], false);
    assert_eq!(page["data"].as_array().unwrap().len(), 70);
    assert_eq!(page["data"][0]["id"], "0161b8e8a2d10a580000000000000032");

    for bad in ["1", "1001", "abc", "-3", ""] {
        let r = c.get(&format!("/v3/devices?limit={bad}")).await;
        assert_eq!(
            (r.status(), r.error_type()),
            (400, "validation_error".into()),
            "limit={bad}"
        );
        let body = r.json();
        assert_eq!(body["fields"][0]["name"], "limit");
        assert_eq!(body["code"], 400);
        assert_eq!(body["object"], "error");
        assert_eq!(body["request_id"].as_str(), r.header("x-request-id"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn gets_one_device_or_not_found() {
    let (sim, c) = start(Sim::builder().devices(3)).await;
    let id = &sim.device_ids()[2];
    let r = c.get(&format!("/v3/devices/{id}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json()["id"], id.as_str());
    let r = c.get("/v3/devices/0161b8e8a2d10a58ffffffffffffffff").await;
    assert_eq!((r.status(), r.error_type()), (404, "not_found".into()));
    sim.shutdown().await;
}

#[tokio::test]
async fn creates_devices_with_conflicts_caps_and_validation() {
    let (sim, c) = start(Sim::builder().devices(2).device_cap(4)).await;
    let r = c.post("/v3/devices", r#"{"id":"dev-a","name":"A"}"#).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json()["id"], "dev-a");
    let r = c.post("/v3/devices", r#"{"id":"dev-a","name":"A"}"#).await;
    assert_eq!((r.status(), r.error_type()), (409, "duplicate".into()));
    let r = c.post("/v3/devices", r#"{"name":"B"}"#).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json()["id"].as_str().map(str::len), Some(32));
    let r = c.post("/v3/devices", r#"{"name":"C"}"#).await;
    assert_eq!(
        (r.status(), r.error_type()),
        (403, "account_limit_exceeded".into())
    );
    for (body, field) in [
        ("{not json", "body"),
        ("{}", "name"),
        (r#"{"name":"x","id":"a b"}"#, "id"),
    ] {
        let r = c.post("/v3/devices", body).await;
        assert_eq!(
            (r.status(), r.error_type()),
            (400, "validation_error".into()),
            "{body}"
        );
        assert_eq!(r.json()["fields"][0]["name"], field);
    }
    let stats = sim.stats();
    assert_eq!((stats.devices_created, stats.duplicate_creates), (2, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn commands_answer_in_plain_text_tokens() {
    let (sim, c) = start(Sim::builder().devices(3).offline_count(1)).await;
    let ids = sim.device_ids();
    let r = c.command(&ids[0], "a1").await;
    assert_eq!(r.status(), 202);
    assert!(r.body.is_empty());

    let cases = [
        (
            format!("/v2/device-requests/{}", ids[0]),
            "{}",
            400,
            "MALFORMED_ASYNC_ID",
        ),
        (
            format!("/v2/device-requests/{}?async-id=", ids[0]),
            "{}",
            400,
            "MALFORMED_ASYNC_ID",
        ),
        (
            format!("/v2/device-requests/{}?async-id=x", ids[0]),
            "{oops",
            400,
            "MALFORMED_JSON_CONTENT",
        ),
        (
            "/v2/device-requests/nope?async-id=x".to_owned(),
            "{}",
            404,
            "DEVICE_NOT_FOUND",
        ),
        (
            format!("/v2/device-requests/{}?async-id=x", ids[2]),
            "{}",
            400,
            "DEVICE_NOT_CONNECTED",
        ),
    ];
    for (target, body, status, token) in cases {
        let r = c.post(&target, body).await;
        assert_eq!(
            (r.status(), r.text()),
            (status, token.to_owned()),
            "{target}"
        );
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    assert_eq!(sim.offline_ids(), vec![ids[2].clone()]);
    assert!(sim.set_online(&ids[2], true));
    assert_eq!(c.command(&ids[2], "back").await.status(), 202);
    sim.shutdown().await;

    let (sim, c) = start(
        Sim::builder()
            .devices(1)
            .offline_count(1)
            .offline_mode(Offline::Gateway),
    )
    .await;
    let r = c.command(&sim.device_ids()[0], "a").await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text().contains("502 Bad Gateway"));
    sim.shutdown().await;
}

#[tokio::test]
async fn queue_fills_after_capacity() {
    let (sim, c) = start(Sim::builder().devices(1).drain_per_second(0.0)).await;
    let id = &sim.device_ids()[0];
    for i in 0..20 {
        assert_eq!(
            c.command(id, &format!("q{i}")).await.status(),
            202,
            "command {i}"
        );
    }
    let r = c.command(id, "q20").await;
    assert_eq!((r.status(), r.text()), (400, "QUEUE_IS_FULL".to_owned()));
    let stats = sim.stats();
    assert_eq!(
        (
            stats.commands_accepted,
            stats.queue_full,
            stats.max_queue_depth
        ),
        (20, 1, 20)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn full_queues_drain_over_time() {
    let builder = Sim::builder()
        .devices(2)
        .full_queues(1)
        .queue_capacity(3)
        .drain_per_second(4.0);
    let (sim, c) = start(builder).await;
    let full = &sim.full_queue_ids()[0];
    assert_eq!(full, &sim.device_ids()[1]);
    // Full from the start; one slot frees every 250 ms.
    let first = c.command(full, "a").await;
    if sim.elapsed() < Duration::from_millis(250) {
        assert_eq!(first.text(), "QUEUE_IS_FULL");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(c.command(full, "b").await.status(), 202);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_methods_and_big_bodies() {
    let (sim, c) = start(Sim::builder().devices(1).max_body_bytes(1024)).await;
    let r = c.get("/v3/device").await;
    assert_eq!(
        (r.status(), r.error_type()),
        (404, "unrecognized_request".into())
    );
    let r = send(
        sim.addr(),
        "DELETE",
        "/v3/devices",
        &[("Authorization", &c.auth)],
        b"",
    )
    .await;
    assert_eq!(
        (r.status(), r.error_type()),
        (405, "method_not_supported".into())
    );
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(2000));
    let r = c.post("/v3/devices", &big).await;
    assert_eq!(
        (r.status(), r.error_type()),
        (413, "payload_too_large".into())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn odd_input_never_breaks_the_server() {
    let (sim, c) = start(Sim::builder().devices(1)).await;
    let long_query = format!("/v3/devices?limit=5&{}", "a=b&".repeat(5000));
    let targets = [
        "/v3/devices/%",
        "/v3/devices/%zz%00%ff",
        "/v2/device-requests/%2F%2F?async-id=%ZZ",
        "/v3/devices?limit=%31%30",
        "/v3/devices?after=%ff%fe&limit=2",
        "//v3//devices",
        "/v3/devices/..%2F..%2Fetc",
        long_query.as_str(),
        "*",
    ];
    for target in targets {
        let r = c.get(target).await;
        assert!(r.status.is_some(), "{target}: {r:?}");
    }
    assert_eq!(c.get("/v3/devices?limit=%31%30").await.json()["limit"], 10);
    // Garbage that is not HTTP at all.
    let r = send(sim.addr(), "NOT HTTP", "\u{1}", &[], b"").await;
    assert!(r.status.is_none_or(|s| s >= 400));
    assert_eq!(c.get("/v3/devices").await.status(), 200);
    sim.shutdown().await;
}
