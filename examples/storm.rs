//! A storm of 503s: the host's circuit breaker opens, requests fail fast instead of
//! piling onto the struggling host, and the breaker closes again once a probe
//! finds the host back.
//!
//! The stack is assembled by hand here, in the documented order (retry, auth,
//! breaker, device gate, pacing), to hook the breaker's transitions;
//! `Resilience::builder()` builds the same stack in one call.
//!
//! `cargo run -p resile-examples --example storm`
#![allow(clippy::print_stdout)] // an example prints what happened

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use reqwest_middleware::ClientBuilder;
use resile_policy::breaker::State;
use resile_reqwest::{
    AuthMiddleware, BreakerMiddleware, DeviceGateMiddleware, Error, PacingMiddleware,
    RetryMiddleware, StaticToken,
};
use resile_sim::{Fault, Sim, Target, TimedFault};
use tokio::time::Instant;

const STORM: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3));
const RUN: Duration = Duration::from_secs(6);
const EVERY: Duration = Duration::from_millis(50);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let storm = TimedFault::new(Fault::Outage { status: 503 })
        .between(STORM.0, STORM.1)
        .on(Target::PathPrefix("/v3".into()));
    let sim = Sim::builder().seed(9).fault(storm).start().await?;
    let (base, host) = (sim.base_url(), sim.addr().to_string());
    let start = Instant::now();

    // Open for 1 s after 10 failures in a row, then 2 s after a failed probe
    // (defaults: 5 s up to 60 s; shortened so the example ends quickly).
    let config = BreakerMiddleware::config_builder()
        .open_for(Duration::from_secs(1))
        .max_open_for(Duration::from_secs(2))
        .config()?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let breaker = Arc::new(
        BreakerMiddleware::builder()
            .config(config)
            .on_transition(move |host, t| {
                let open = t.open_for.map_or(String::new(), |d| {
                    format!(", open for {:.1} s", d.as_secs_f64())
                });
                let at = start.elapsed().as_secs_f64();
                println!(
                    "  {at:4.2} s  {host}: {} -> {} ({:?}{open})",
                    t.from, t.to, t.cause
                );
                log.lock().expect("not poisoned").push(t.to);
            })
            .seed(9)
            .build()?,
    );
    let retry = RetryMiddleware::builder()
        .deadline(Some(Duration::from_secs(2)))
        .seed(9)
        .build()?;
    let auth = AuthMiddleware::builder(StaticToken::new(sim.api_key()))
        .hosts([host.as_str()])
        .allow_loopback_http(true)
        .build()?;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(retry)
        .with(auth)
        .with_arc(breaker.clone())
        .with(DeviceGateMiddleware::builder().build()?)
        .with(PacingMiddleware::new())
        .build();

    println!(
        "every /v3 request gets 503 from {} s to {} s; GET /v3/devices every {} ms for {} s",
        STORM.0.as_secs(),
        STORM.1.as_secs(),
        EVERY.as_millis(),
        RUN.as_secs()
    );
    // Open loop: requests go out on schedule, whatever happened to the earlier ones.
    let mut tasks = tokio::task::JoinSet::new();
    let url = format!("{base}/v3/devices?limit=5");
    for i in 0..(RUN.as_millis() / EVERY.as_millis()) as u32 {
        let (client, url, at) = (client.clone(), url.clone(), start + EVERY * i);
        tasks.spawn(async move {
            tokio::time::sleep_until(at).await;
            let result = client.get(url).send().await;
            let fast = result
                .as_ref()
                .err()
                .and_then(Error::find)
                .is_some_and(Error::is_circuit_open);
            let ok = result.is_ok_and(|r| r.status() == 200);
            (at - start, ok, fast)
        });
    }
    let (mut ok, mut fast, mut failed, mut in_storm, mut late_failures) = (0, 0, 0, 0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (at, was_ok, was_fast) = joined?;
        match (was_ok, was_fast) {
            (true, _) => ok += 1,
            (false, true) => fast += 1,
            (false, false) => failed += 1,
        }
        in_storm += u32::from(at >= STORM.0 && at < STORM.1);
        late_failures += u32::from(!was_ok && at >= RUN - Duration::from_secs(1));
    }
    let stats = sim.stats();
    println!(
        "{} requests: {ok} answered 200, {fast} failed fast (circuit open, nothing sent), \
         {failed} failed after retries",
        ok + fast + failed
    );
    println!(
        "during the storm the client issued {in_storm} requests; the server saw {} \
         ({} in all, {} answered 503); the breaker opened {} time(s)",
        stats.during_outage,
        stats.total(),
        stats.status_count(503),
        breaker.opens(),
    );

    let transitions = seen.lock().expect("not poisoned").clone();
    ensure!(breaker.opens() >= 1, "the breaker never opened");
    ensure!(
        transitions.last() == Some(&State::Closed) && breaker.state(&host) == Some(State::Closed),
        "the breaker did not close again after the storm"
    );
    ensure!(fast > 0, "no request failed fast");
    ensure!(
        stats.during_outage * 2 < u64::from(in_storm),
        "the struggling host should see far fewer requests than were issued"
    );
    ensure!(late_failures == 0, "requests still fail after recovery");
    sim.shutdown().await;
    Ok(())
}
