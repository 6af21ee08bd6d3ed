//! Middleware overhead on the success path: one GET through (a) a bare
//! `ClientWithMiddleware`, (b) reqwest-retry's `RetryTransientMiddleware`, (c) resile's
//! full stack (retry, auth with a static token, breaker, device gate, pacing), each
//! ending in the same [`Stub`] terminal that answers 200 without a network.
//!
//! Criterion measures each contender; then an interleaved side-by-side run (rounds of
//! `BATCH` requests per contender, order rotating per round) prints per-request
//! medians, the difference and ratio against bare, and allocations per request.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use reqwest::Url;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_benches::clients::{Contender, resile_service};
use resile_benches::harness::{list_mode, median, now, per_item_ns, quick_mode};
use resile_benches::probe::FutureSize;
use resile_benches::stub::Stub;
use tokio::runtime::Runtime;

const HOST: &str = "api.bench.test";
const URL: &str = "https://api.bench.test/v3/devices/0161b8e8a2d10a580a01020300000000";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn stub_client(contender: Contender) -> ClientWithMiddleware {
    contender
        .builder(reqwest::Client::new(), HOST, false)
        .expect("valid resile configuration")
        .with(Stub::ok())
        .build()
}

/// `n` sequential GETs; panics on anything but a 200 (a broken bench must not pass).
async fn run(contender: Contender, client: &ClientWithMiddleware, url: &Url, n: u64) {
    for _ in 0..n {
        let resp = contender
            .get(client, url.clone())
            .send()
            .await
            .expect("the stub answers");
        assert_eq!(resp.status(), 200);
        black_box(resp);
    }
}

fn criterion_benches(c: &mut Criterion, rt: &Runtime, url: &Url) {
    let mut g = c.benchmark_group("middleware/success_200");
    for contender in Contender::ALL {
        let client = stub_client(contender);
        g.bench_function(contender.name(), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = now();
                    run(contender, &client, url, iters).await;
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn side_by_side(rt: &Runtime, url: &Url, quick: bool) {
    const BATCH: u64 = 20_000;
    let (rounds, batch) = if quick { (1, 10) } else { (15, BATCH) };
    let clients: Vec<_> = Contender::ALL
        .iter()
        .map(|&c| (c, stub_client(c)))
        .collect();
    let mut per_round: Vec<Vec<Duration>> = vec![Vec::new(); clients.len()];
    for (c, client) in &clients {
        rt.block_on(run(*c, client, url, batch.min(1000))); // warm up
    }
    for round in 0..rounds {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let (c, client) = &clients[i];
            let start = now();
            rt.block_on(run(*c, client, url, batch));
            per_round[i].push(start.elapsed());
        }
    }
    let ns: Vec<f64> = per_round
        .iter_mut()
        .map(|xs| per_item_ns(median(xs), batch))
        .collect();
    println!(
        "\nmiddleware overhead vs a stub terminal: {rounds} rounds x {batch} sequential GETs each, median per request"
    );
    println!(
        "{:<14} {:>10} {:>12} {:>8} {:>12}",
        "client", "ns/req", "vs bare ns", "ratio", "allocs/req"
    );
    for (i, (c, client)) in clients.iter().enumerate() {
        let allocs = allocation_counter::measure(|| rt.block_on(run(*c, client, url, 100)));
        println!(
            "{:<14} {:>10.0} {:>+12.0} {:>8.3} {:>12.1}",
            c.name(),
            ns[i],
            ns[i] - ns[0],
            ns[i] / ns[0],
            allocs.count_total as f64 / 100.0
        );
    }
    println!(
        "resile vs reqwest-retry: {:+.0} ns/req ({:.3}x)",
        ns[2] - ns[1],
        ns[2] / ns[1]
    );
    per_layer(rt, url, rounds, batch, ns[0]);
}

/// Each of resile's layers alone in front of the stub, against bare.
#[allow(clippy::print_stdout)] // benches report on stdout
fn per_layer(rt: &Runtime, url: &Url, rounds: usize, batch: u64, bare_ns: f64) {
    let service = resile_service(HOST, false).expect("valid resile configuration");
    let names = ["retry", "auth", "breaker", "device gate", "pacing"];
    println!("resile's layers one at a time (same stub, {rounds} rounds x {batch}):");
    println!(
        "{:<14} {:>10} {:>12} {:>12} {:>10}",
        "layer", "ns/req", "vs bare ns", "allocs/req", "future B"
    );
    for (name, layer) in names.iter().zip(service.middlewares()) {
        let probe = FutureSize::default();
        let probed = ClientBuilder::new(reqwest::Client::new())
            .with(probe.clone())
            .with_arc(layer.clone())
            .with(Stub::ok())
            .build();
        let client = ClientBuilder::new(reqwest::Client::new())
            .with_arc(layer)
            .with(Stub::ok())
            .build();
        // The auth layer adds the token; the others get it from the request, as bare does.
        let c = if *name == "auth" {
            Contender::Resile
        } else {
            Contender::Bare
        };
        rt.block_on(run(c, &client, url, batch.min(1000)));
        let mut xs: Vec<Duration> = (0..rounds)
            .map(|_| {
                let start = now();
                rt.block_on(run(c, &client, url, batch));
                start.elapsed()
            })
            .collect();
        let ns = per_item_ns(median(&mut xs), batch);
        let allocs = allocation_counter::measure(|| rt.block_on(run(c, &client, url, 100)));
        rt.block_on(run(c, &probed, url, 1));
        println!(
            "{name:<14} {ns:>10.0} {:>+12.0} {:>12.1} {:>10}",
            ns - bare_ns,
            allocs.count_total as f64 / 100.0,
            probe.bytes()
        );
    }
    // For comparison: reqwest-retry's per-request future.
    let probe = FutureSize::default();
    let policy = ExponentialBackoff::builder().build_with_max_retries(3);
    let probed = ClientBuilder::new(reqwest::Client::new())
        .with(probe.clone())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(Stub::ok())
        .build();
    rt.block_on(run(Contender::Bare, &probed, url, 1));
    println!(
        "(reqwest-retry's RetryTransientMiddleware future: {} B)",
        probe.bytes()
    );
}

fn main() {
    let quick = quick_mode();
    let rt = runtime();
    let url = Url::parse(URL).expect("a valid URL");
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &rt, &url);
    c.final_summary();
    if !list_mode() {
        side_by_side(&rt, &url, quick);
    }
}
