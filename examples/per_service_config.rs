//! Two services configured from one TOML file (`examples/services.toml`): the
//! device-management service is paced at 5 requests/s and retries patiently; billing
//! has no pacing, gives up after 2 attempts and opens its breaker after 3 failures.
//! A typo in the file is an error naming the key.
//!
//! `cargo run -p resile-examples --example per_service_config`
#![allow(clippy::print_stdout)] // an example prints what happened

use std::time::Duration;

use anyhow::{bail, ensure};
use reqwest_middleware::ClientWithMiddleware;
use resile_reqwest::{Attempts, Error, Resilience, StaticToken};
use resile_sim::{Fault, RouteKind, Sim, SimHandle, Target, TimedFault};
use tokio::time::Instant;

const CONFIG: &str = include_str!("services.toml");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // One simulator per service; on both, `GET /v3/devices/{id}` is down (503).
    let down = TimedFault::new(Fault::Outage { status: 503 })
        .on(Target::PathPrefix("/v3/devices/".into()));
    let dm = Sim::builder()
        .seed(1)
        .devices(5)
        .fault(down.clone())
        .start()
        .await?;
    let billing = Sim::builder()
        .seed(2)
        .devices(5)
        .fault(down)
        .start()
        .await?;
    let services = [("device-management", &dm), ("billing", &billing)];

    // The file holds the policies; hosts and credentials come from code.
    let mut builder = Resilience::from_toml(CONFIG)?;
    for (name, sim) in services {
        let (host, key) = (sim.addr().to_string(), sim.api_key().to_owned());
        builder = builder.service(name, |s| {
            s.hosts([host])
                .allow_loopback_http(true)
                .auth(StaticToken::new(key))
        });
    }
    let resilience = builder.build()?;
    let client = |name| {
        resilience
            .client(name, reqwest::Client::new())
            .expect("in the file")
    };

    println!("1. 15 requests at once to each service");
    let mut took = Vec::new();
    for (name, sim) in services {
        let (ok, elapsed) = burst(&client(name), sim, 15).await?;
        let pacing = resilience.service(name).and_then(|s| s.pacing());
        let how = pacing.map_or("no pacing layer".to_owned(), |p| {
            format!(
                "requests waited {:.1} s in all for the quota",
                p.waited().as_secs_f64()
            )
        });
        println!(
            "   {name:<17} {ok} of 15 answered 200 in {:.2} s ({how})",
            elapsed.as_secs_f64()
        );
        ensure!(ok == 15, "{name}: a request failed");
        took.push(elapsed);
    }
    // 5 per second with a burst of 1: 15 requests need at least 2.8 s.
    ensure!(
        took[0] >= Duration::from_secs(2),
        "device-management was not paced"
    );
    ensure!(took[1] < took[0], "billing should not be paced");

    println!("2. three GET /v3/devices/{{id}} in a row while that route answers 503");
    let mut first_attempts = Vec::new();
    for (name, sim) in services {
        let url = format!("{}/v3/devices/{}", sim.base_url(), sim.device_ids()[0]);
        let mut outcomes = Vec::new();
        for i in 0..3 {
            match client(name).get(&url).send().await {
                Ok(resp) => {
                    let n = resp.extensions().get::<Attempts>().map_or(0, |a| a.count());
                    outcomes.push(format!("{} after {n} attempt(s)", resp.status().as_u16()));
                    if i == 0 {
                        first_attempts.push(n);
                    }
                }
                Err(e) if Error::find(&e).is_some_and(Error::is_circuit_open) => {
                    outcomes.push("circuit open, not sent".to_owned());
                }
                Err(e) => outcomes.push(format!("error: {e}")),
            }
        }
        let breaker = resilience.service(name).and_then(|s| s.breaker());
        println!(
            "   {name:<17} {}; the server got {} requests; breaker opened {} time(s)",
            outcomes.join(" / "),
            sim.stats().route_count(RouteKind::GetDevice),
            breaker.map_or(0, |b| b.opens()),
        );
    }
    let billing_breaker = resilience.service("billing").and_then(|s| s.breaker());
    ensure!(
        billing_breaker.is_some_and(|b| b.opens() >= 1),
        "billing's breaker should open after 3 failures"
    );
    ensure!(
        first_attempts.len() == 2 && first_attempts[0] > first_attempts[1],
        "device-management should try more often than billing"
    );
    ensure!(
        dm.stats().route_count(RouteKind::GetDevice)
            > billing.stats().route_count(RouteKind::GetDevice),
        "device-management should retry more than billing"
    );

    println!("3. mistakes in the file are errors naming the key");
    let typo = CONFIG.replace("max_attempts = 2", "max_atempts = 2");
    let zero = CONFIG.replace("per_second = 5", "per_second = 0");
    for (bad, key) in [(typo, "max_atempts"), (zero, "per_second")] {
        match Resilience::from_toml(&bad) {
            Ok(_) => bail!("a config with a bad `{key}` was accepted"),
            Err(e) => {
                println!("   {}: {}", e.field(), e.problem());
                ensure!(e.field().contains(key), "the error should name `{key}`");
            }
        }
    }
    dm.shutdown().await;
    billing.shutdown().await;
    Ok(())
}

/// Sends `n` list requests at once; returns how many got 200 and how long all took.
async fn burst(
    client: &ClientWithMiddleware,
    sim: &SimHandle,
    n: usize,
) -> anyhow::Result<(usize, Duration)> {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url) = (
            client.clone(),
            format!("{}/v3/devices?limit=5", sim.base_url()),
        );
        tasks.spawn(async move {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        });
    }
    let mut ok = 0;
    while let Some(joined) = tasks.join_next().await {
        ok += usize::from(joined?);
    }
    Ok((ok, start.elapsed()))
}
