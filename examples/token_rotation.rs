//! Expiring access tokens: the auth layer asks your token source for a new one ahead
//! of expiry when it knows the lifetime, and after a 401 when it does not, and no
//! request fails either way.
//!
//! `cargo run -p resile-examples --example token_rotation`
#![allow(clippy::print_stdout)] // an example prints what happened

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::ensure;
use resile_reqwest::{BoxError, FnSource, RefreshEvent, RefreshTrigger, Resilience, Token};
use resile_sim::{Scenario, Sim, SimHandle};
use tokio::time::Instant;

/// What one run saw: requests sent and answered 200, refreshes by trigger, 401s.
#[derive(Debug, Default)]
struct Run {
    sent: u64,
    ok: u64,
    proactive: u64,
    reauth: u64,
    unauthorized: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("1. the token route says tokens live 1 s (`expires_in: 1`)");
    let sim = Sim::builder()
        .seed(3)
        .token_ttl(Some(Duration::from_secs(1)))
        .start()
        .await?;
    let ahead = run(sim, Duration::from_secs(2)).await?;

    println!("2. scenario `stale-token`: tokens die after 2 s, and nobody says so");
    let stale = Scenario::from_name("stale-token").expect("a preset");
    let sim = Sim::builder().seed(3).scenario(stale).start().await?;
    let reauth = run(sim, Duration::from_millis(2500)).await?;

    ensure!(
        ahead.ok == ahead.sent && reauth.ok == reauth.sent,
        "a request failed"
    );
    ensure!(
        ahead.proactive >= 2,
        "tokens should be refreshed ahead of expiry"
    );
    ensure!(reauth.reauth >= 1, "a refused token should be refreshed");
    ensure!(
        reauth.unauthorized >= 1,
        "the stale token was never refused"
    );
    Ok(())
}

/// Sends `GET /v3/devices` from 4 workers for `length`, with tokens from the
/// simulator's token route, and reports.
async fn run(sim: SimHandle, length: Duration) -> anyhow::Result<Run> {
    let token_url = format!("{}/__sim/token", sim.base_url());
    let http = reqwest::Client::new();
    // The token source: any async closure. Here, the simulator's login route.
    let source = FnSource::new(move || {
        let (http, url) = (http.clone(), token_url.clone());
        async move {
            let body: serde_json::Value = http.post(url).send().await?.json().await?;
            let token = Token::new(body["access_token"].as_str().ok_or("no access_token")?);
            Ok::<_, BoxError>(match body["expires_in"].as_u64() {
                Some(secs) => token.expires_in(Duration::from_secs(secs)),
                None => token,
            })
        }
    });
    let start = Instant::now();
    let triggers = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let seen = Arc::clone(&triggers);
    let resilience = Resilience::builder()
        .service("device-management", |s| {
            s.hosts([sim.addr().to_string()])
                .allow_loopback_http(true)
                .auth(source)
                .on_refresh(move |event| on_refresh(event, start, &seen))
                .seed(5)
        })
        .build()?;
    let client = resilience
        .client("device-management", reqwest::Client::new())
        .expect("configured");

    let url = format!("{}/v3/devices?limit=5", sim.base_url());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), url.clone());
        workers.spawn(async move {
            let (mut sent, mut ok) = (0, 0);
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while start.elapsed() < length {
                tick.tick().await;
                sent += 1;
                let resp = client.get(&url).send().await;
                ok += u64::from(resp.is_ok_and(|r| r.status() == 200));
            }
            (sent, ok)
        });
    }
    let mut out = Run::default();
    while let Some(joined) = workers.join_next().await {
        let (sent, ok) = joined?;
        out.sent += sent;
        out.ok += ok;
    }
    let stats = sim.stats();
    out.proactive = triggers[1].load(Ordering::Relaxed);
    out.reauth = triggers[2].load(Ordering::Relaxed);
    out.unauthorized = stats.status_count(401);
    println!(
        "   {} of {} requests answered 200; {} tokens issued ({} ahead of expiry, {} after a 401); \
         the server refused {} requests with 401 invalid_token",
        out.ok, out.sent, stats.tokens_issued, out.proactive, out.reauth, out.unauthorized,
    );
    sim.shutdown().await;
    Ok(out)
}

/// The refresh hook: prints each new token's generation and why it came, never the
/// token itself.
fn on_refresh(event: &RefreshEvent, start: Instant, triggers: &[AtomicU64; 3]) {
    let at = start.elapsed().as_secs_f64();
    match event {
        RefreshEvent::Refreshed {
            generation,
            trigger,
            expires_at,
            ..
        } => {
            let slot = match trigger {
                RefreshTrigger::Initial => 0,
                RefreshTrigger::Proactive => 1,
                _ => 2,
            };
            triggers[slot].fetch_add(1, Ordering::Relaxed);
            let life = expires_at.map_or("unknown lifetime".to_owned(), |e| {
                let left = e.saturating_duration_since(Instant::now().into_std());
                format!("expires in {:.1} s", left.as_secs_f64())
            });
            println!(
                "   {at:4.2} s  token #{generation} ({}), {life}",
                trigger.as_str()
            );
        }
        RefreshEvent::Failed { error, .. } => println!("   {at:4.2} s  refresh failed: {error}"),
        _ => {}
    }
}
