//! Middleware overhead against the loopback simulator (scenario `ok`, real sockets):
//! bare `ClientWithMiddleware`, reqwest-retry and resile's full stack, each with its
//! own `reqwest::Client` (own connection pool).
//!
//! Sequential GETs of `/v3/devices/{id}`. Clients are interleaved round by round: in
//! each round every client sends `N` requests, in an order rotated per round, so
//! drift in the machine's load hits every client alike. Prints each client's median
//! latency, the median of the per-round median ratios against bare, and the spread.
//! Each of resile's layers alone runs in the same rotation, to show where a
//! difference comes from, and the CPU time the client's thread spent per request
//! (the thread that runs the middleware; the connection tasks and the simulator run
//! on the runtime's 2 workers). Quick mode (`-- --test`): 2 rounds of 5 requests.

use std::time::Duration;

use reqwest::Url;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use resile_benches::clients::{BENCH_TOKEN, Contender, layers_alone, resile_service};
use resile_benches::harness::{list_mode, median, median_f64, now, quick_mode, thread_cpu_ns};
use resile_sim::{Scenario, Sim, SimHandle};

/// One client in the rotation.
struct Entrant {
    name: String,
    /// How its requests carry the token (resile's auth layer adds it itself).
    token: Contender,
    client: ClientWithMiddleware,
}

struct Run {
    /// Per client, every request's latency.
    all: Vec<Vec<Duration>>,
    /// Per client, each round's median.
    rounds: Vec<Vec<Duration>>,
    /// Per client, each round's CPU time per request on the client's thread.
    cpu: Vec<Vec<Duration>>,
}

async fn start_sim() -> SimHandle {
    Sim::builder()
        .seed(7)
        .devices(100)
        .api_key(BENCH_TOKEN)
        .scenario(Scenario::from_name("ok").expect("the ok scenario"))
        .start()
        .await
        .expect("the simulator starts")
}

/// Every contender's client times out at 10 s (resile's per-attempt default).
fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(Duration::from_secs(10))
}

fn http() -> reqwest::Client {
    http_builder().build().expect("a reqwest client")
}

/// The three contenders, then each of resile's layers alone.
fn entrants(authority: &str) -> Vec<Entrant> {
    let mut out: Vec<Entrant> = Contender::ALL
        .iter()
        .map(|&c| Entrant {
            name: c.name().to_owned(),
            token: c,
            client: c
                .builder(http_builder(), authority, true)
                .expect("valid resile configuration")
                .build(),
        })
        .collect();
    let service = resile_service(authority, true).expect("valid resile configuration");
    for (name, token, layer) in layers_alone(&service) {
        out.push(Entrant {
            name,
            token,
            client: ClientBuilder::new(http()).with_arc(layer).build(),
        });
    }
    out
}

async fn get(e: &Entrant, url: &Url) -> Duration {
    let start = now();
    let resp = e
        .token
        .get(&e.client, url.clone())
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(resp.status(), 200, "scenario ok answers 200");
    let _ = resp.bytes().await.expect("the body arrives");
    start.elapsed()
}

async fn measure(clients: &[Entrant], urls: &[Url], rounds: usize, n: usize) -> Run {
    let mut all = vec![Vec::with_capacity(rounds * n); clients.len()];
    let mut medians = vec![Vec::with_capacity(rounds); clients.len()];
    let mut cpu = vec![Vec::with_capacity(rounds); clients.len()];
    let mut u = 0;
    for round in 0..rounds {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let mut xs = Vec::with_capacity(n);
            let cpu_start = thread_cpu_ns().unwrap_or(0);
            for _ in 0..n {
                xs.push(get(&clients[i], &urls[u % urls.len()]).await);
                u += 1;
            }
            let spent = thread_cpu_ns().unwrap_or(0).saturating_sub(cpu_start);
            cpu[i].push(Duration::from_nanos(spent / n.max(1) as u64));
            all[i].extend_from_slice(&xs);
            medians[i].push(median(&mut xs));
        }
    }
    Run {
        all,
        rounds: medians,
        cpu,
    }
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn report(clients: &[Entrant], mut run: Run, rounds: usize, n: usize) {
    println!(
        "\nloopback simulator (scenario ok): {rounds} rounds x {n} sequential GETs per client, order rotated per round"
    );
    println!(
        "{:<18} {:>8} {:>8} {:>11} {:>11} {:>31} {:>12}",
        "client",
        "p50 us",
        "p90 us",
        "vs bare us",
        "ratio p50",
        "per-round ratio p50 [min..max]",
        "cpu us/req"
    );
    let p = |xs: &mut Vec<Duration>, q: f64| {
        xs.sort_unstable();
        let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
        xs.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let bare50 = p(&mut run.all[0], 0.5);
    for (i, e) in clients.iter().enumerate() {
        let p50 = p(&mut run.all[i], 0.5);
        let p90 = p(&mut run.all[i], 0.9);
        let mut ratios: Vec<f64> = run.rounds[i]
            .iter()
            .zip(&run.rounds[0])
            .map(|(x, b)| x.as_secs_f64() / b.as_secs_f64())
            .collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mid = median_f64(&mut ratios);
        let cpu = median(&mut run.cpu[i]).as_secs_f64() * 1e6;
        let spread = format!("{mid:.3} [{lo:.3}..{hi:.3}]");
        println!(
            "{:<18} {p50:>8.1} {p90:>8.1} {:>+11.2} {:>11.3} {spread:>31} {cpu:>12.1}",
            e.name,
            p50 - bare50,
            p50 / bare50,
        );
    }
}

fn main() {
    if list_mode() {
        return;
    }
    let (rounds, n) = if quick_mode() { (2, 5) } else { (31, 300) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let sim = start_sim().await;
        let base = sim.base_url();
        let authority = Url::parse(&base)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port()?)))
            .expect("the simulator listens on host:port");
        let urls: Vec<Url> = sim
            .device_ids()
            .iter()
            .map(|id| Url::parse(&format!("{base}/v3/devices/{id}")).expect("a valid URL"))
            .collect();
        let clients = entrants(&authority);
        let _ = measure(&clients, &urls, 1, n.min(50)).await; // warm up pools and caches
        sim.reset_stats();
        let run = measure(&clients, &urls, rounds, n).await;
        let served = sim.stats().total();
        let sent = (rounds * n * clients.len()) as u64;
        assert_eq!(served, sent, "every request reached the simulator once");
        report(&clients, run, rounds, n);
        sim.shutdown().await;
    });
}
