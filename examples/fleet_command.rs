//! Command every device of a fleet at once, respecting each device's queue: the
//! device gate holds a device whose queue is full or that is offline, and every
//! other device goes on undisturbed.
//!
//! `cargo run -p resile-examples --example fleet_command`
#![allow(clippy::print_stdout)] // an example prints what happened

use std::time::Duration;

use anyhow::ensure;
use reqwest_middleware::ClientWithMiddleware;
use resile_reqwest::{Error, Resilience, RetryMiddleware, StaticToken};
use resile_sim::{RouteKind, Sim};
use tokio::time::Instant;

const DEVICES: usize = 20;
const FULL: usize = 3;
const OFFLINE: usize = 2;
const COMMANDS: usize = 8;

/// How one command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Accepted,
    QueueFull,
    Offline,
    HeldLocally,
    Other,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // 20 devices; the last 2 are offline, the 3 before them start with a full queue
    // (20 commands), and queues drain slowly: one command per second.
    let sim = Sim::builder()
        .seed(1)
        .devices(DEVICES)
        .full_queues(FULL)
        .offline_count(OFFLINE)
        .drain_per_second(1.0)
        .start()
        .await?;
    let (base, host) = (sim.base_url(), sim.addr().to_string());
    let resilience = Resilience::builder()
        .service("device-management", |s| {
            s.hosts([host.as_str()])
                .allow_loopback_http(true)
                .auth(StaticToken::new(sim.api_key()))
                .retry(RetryMiddleware::builder().deadline(Some(Duration::from_secs(4))))
                .seed(7)
        })
        .build()?;
    let service = resilience.service("device-management").expect("configured");
    let client = service.build_client(reqwest::Client::builder())?;

    println!(
        "{DEVICES} devices: {} healthy, {FULL} with a full queue, {OFFLINE} offline; queues drain 1 command/s",
        DEVICES - FULL - OFFLINE
    );
    println!("sending {COMMANDS} commands to every device at once (POST, no Idempotency-Key)");
    let (full, offline) = (sim.full_queue_ids(), sim.offline_ids());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for device in sim.device_ids() {
        let group =
            usize::from(full.contains(&device)) + 2 * usize::from(offline.contains(&device));
        for n in 0..COMMANDS {
            let url = format!("{base}/v2/device-requests/{device}?async-id=cmd-{n}");
            let client = client.clone();
            tasks.spawn(async move { (group, send(&client, url).await, start.elapsed()) });
        }
    }
    // ends[group][end]: groups are healthy, full queue, offline.
    let mut ends = [[0usize; 5]; 3];
    let mut done = [Duration::ZERO; 3];
    while let Some(joined) = tasks.join_next().await {
        let (group, end, at) = joined?;
        ends[group][end as usize] += 1;
        done[group] = done[group].max(at);
    }
    let gate = service.device_gate().expect("on by default");
    let stats = sim.stats();
    println!("all answered in {:.1} s", start.elapsed().as_secs_f64());
    println!("                 accepted  queue full  offline  held locally  other  last answer");
    for (name, row, at) in [
        ("healthy", ends[0], done[0]),
        ("full queue", ends[1], done[1]),
        ("offline", ends[2], done[2]),
    ] {
        let [a, q, o, h, x] = row;
        println!(
            "  {name:<12} {a:>9} {q:>11} {o:>8} {h:>13} {x:>6} {:>10.2} s",
            at.as_secs_f64()
        );
    }
    println!(
        "device gate: {} holds set, {} devices still held",
        gate.holds(),
        gate.held_devices()
    );
    println!(
        "server: {} command requests for {} commands, {} refused QUEUE_IS_FULL, deepest queue {}, {} duplicate executions",
        stats.route_count(RouteKind::DeviceRequest),
        DEVICES * COMMANDS,
        stats.queue_full,
        stats.max_queue_depth,
        stats.duplicate_executions(),
    );

    let healthy = (DEVICES - FULL - OFFLINE) * COMMANDS;
    ensure!(
        ends.iter().all(|row| row[End::Other as usize] == 0),
        "a command ended unexpectedly"
    );
    ensure!(
        ends[0][End::Accepted as usize] == healthy,
        "a healthy device was held up"
    );
    ensure!(
        done[0] < done[1],
        "healthy devices should be done before the full queues"
    );
    ensure!(
        ends[2][End::Accepted as usize] == 0 && ends[2][End::Offline as usize] > 0,
        "offline devices should answer DEVICE_NOT_CONNECTED"
    );
    ensure!(
        ends[1][End::QueueFull as usize] + ends[1][End::HeldLocally as usize] > 0,
        "the full queues should refuse some commands"
    );
    ensure!(
        gate.holds() >= (FULL + OFFLINE) as u64,
        "every troubled device should have been held"
    );
    ensure!(
        stats.duplicate_executions() == 0,
        "a command was executed twice"
    );
    sim.shutdown().await;
    Ok(())
}

/// Sends one command and says how it ended.
async fn send(client: &ClientWithMiddleware, url: String) -> End {
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .body(r#"{"method":"GET","uri":"/3/0/1"}"#)
        .send()
        .await;
    match sent {
        Ok(resp) if resp.status() == 202 => End::Accepted,
        Ok(resp) => match resp.text().await.as_deref() {
            Ok("QUEUE_IS_FULL") => End::QueueFull,
            Ok("DEVICE_NOT_CONNECTED") => End::Offline,
            _ => End::Other,
        },
        Err(e) => match Error::find(&e) {
            Some(ours) if ours.is_device_held() || ours.is_deadline_exceeded() => End::HeldLocally,
            _ => End::Other,
        },
    }
}
