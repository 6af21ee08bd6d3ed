//! Middleware overhead on the success path: one GET through (a) a bare
//! `ClientWithMiddleware`, (b) reqwest-retry's `RetryTransientMiddleware`, (c) resile's
//! full stack (retry, auth with a static token, breaker, device gate, pacing), each
//! ending in the same [`Stub`] terminal that answers 200 without a network.
//!
//! Criterion measures each contender; then an interleaved side-by-side run (15 rounds
//! of 20 000 requests per client, order rotating per round, with each of resile's
//! layers alone as extra clients) prints per-request medians, the difference and
//! ratio against bare, allocations per request, and the bytes of per-request future
//! state the client's layers keep (see `FutureSize`); then resile ÷ reqwest-retry,
//! as a ratio of medians and as the median of the per-round ratios, with resile's
//! defaults and without the per-attempt timeout and deadline (which reqwest-retry
//! does not have).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use reqwest::Url;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_benches::clients::{
    Contender, layers_alone, resile_service, resile_service_without_timeouts,
};
use resile_benches::harness::{list_mode, median, median_f64, now, per_item_ns, quick_mode};
use resile_benches::stub::{self, HOST, Stub, URL};
use resile_reqwest::RetryMiddleware;
use resile_test_support::FutureSize;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
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
        let client = stub::client(contender).expect("valid resile configuration");
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

/// One client in the side-by-side rotation.
struct Entrant {
    name: String,
    /// How its requests carry the token (resile's auth layer adds it itself).
    token: Contender,
    layers: Vec<Arc<dyn Middleware>>,
    /// reqwest's own timeout on the client beneath (resile's, built the way
    /// `Service::client_builder` does: the per-attempt timeout).
    http_timeout: Option<Duration>,
}

impl Entrant {
    fn http(&self) -> reqwest::Client {
        let b = reqwest::Client::builder();
        match self.http_timeout {
            Some(t) => b.timeout(t),
            None => b,
        }
        .build()
        .expect("a reqwest client")
    }

    fn client(&self) -> ClientWithMiddleware {
        let mut b = ClientBuilder::new(self.http());
        for l in &self.layers {
            b = b.with_arc(Arc::clone(l));
        }
        b.with(Stub::ok()).build()
    }

    /// Bytes of per-request future state over all its layers.
    fn future_bytes(&self, rt: &Runtime, url: &Url) -> usize {
        let probes: Vec<FutureSize> = self.layers.iter().map(|_| FutureSize::default()).collect();
        let mut b = ClientBuilder::new(self.http());
        for (l, p) in self.layers.iter().zip(&probes) {
            b = b.with(p.clone()).with_arc(Arc::clone(l));
        }
        rt.block_on(run(self.token, &b.with(Stub::ok()).build(), url, 1));
        probes.iter().map(FutureSize::bytes).sum()
    }
}

/// The three contenders, then each of resile's layers alone.
fn entrants() -> Vec<Entrant> {
    let policy = ExponentialBackoff::builder().build_with_max_retries(3);
    let service = resile_service(HOST, false).expect("valid resile configuration");
    let attempt_timeout = service.retry().and_then(RetryMiddleware::attempt_timeout);
    let mut out = vec![
        Entrant {
            name: "bare".into(),
            token: Contender::Bare,
            layers: Vec::new(),
            http_timeout: None,
        },
        Entrant {
            name: "reqwest-retry".into(),
            token: Contender::ReqwestRetry,
            layers: vec![Arc::new(RetryTransientMiddleware::new_with_policy(policy))],
            http_timeout: None,
        },
        Entrant {
            name: "resile".into(),
            token: Contender::Resile,
            layers: vec![Arc::new(
                service.middleware().with_client_timeout(attempt_timeout),
            )],
            http_timeout: attempt_timeout,
        },
        Entrant {
            name: "  no attempt timeout/deadline".into(),
            token: Contender::Resile,
            layers: vec![Arc::new(
                resile_service_without_timeouts(HOST)
                    .expect("valid resile configuration")
                    .middleware(),
            )],
            http_timeout: None,
        },
        Entrant {
            // `Service::client(prebuilt)` or `attach`: reqwest's client has no
            // timeout of its own, so each attempt carries one (a map per request).
            name: "  over a client built apart".into(),
            token: Contender::Resile,
            layers: vec![Arc::new(service.middleware())],
            http_timeout: None,
        },
        Entrant {
            name: "  as 5 separate layers".into(),
            token: Contender::Resile,
            layers: service.middlewares(),
            http_timeout: None,
        },
    ];
    for (name, token, layer) in layers_alone(&service) {
        out.push(Entrant {
            name,
            token,
            layers: vec![layer],
            http_timeout: None,
        });
    }
    out
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn side_by_side(rt: &Runtime, url: &Url, quick: bool) {
    let (rounds, batch) = if quick { (1, 10) } else { (15, 20_000) };
    let entrants = entrants();
    let clients: Vec<_> = entrants.iter().map(Entrant::client).collect();
    let mut per_round: Vec<Vec<Duration>> = vec![Vec::new(); clients.len()];
    for (e, client) in entrants.iter().zip(&clients) {
        rt.block_on(run(e.token, client, url, batch.min(1000))); // warm up
    }
    for round in 0..rounds {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let start = now();
            rt.block_on(run(entrants[i].token, &clients[i], url, batch));
            per_round[i].push(start.elapsed());
        }
    }
    // resile ÷ reqwest-retry within each round (run next to each other), so that
    // the machine's drift between rounds cancels out: resile's rows 2..=4.
    let paired: Vec<f64> = (2..=4)
        .map(|i| {
            let mut ratios: Vec<f64> = per_round[i]
                .iter()
                .zip(&per_round[1])
                .map(|(r, rr)| r.as_secs_f64() / rr.as_secs_f64())
                .collect();
            median_f64(&mut ratios)
        })
        .collect();
    let ns: Vec<f64> = per_round
        .iter_mut()
        .map(|xs| per_item_ns(median(xs), batch))
        .collect();
    println!(
        "\nmiddleware overhead vs a stub terminal: {rounds} rounds x {batch} sequential GETs per client, order rotated per round; median per request"
    );
    println!(
        "{:<30} {:>8} {:>11} {:>8} {:>11} {:>10}",
        "client", "ns/req", "vs bare ns", "ratio", "allocs/req", "future B"
    );
    for (i, (e, client)) in entrants.iter().zip(&clients).enumerate() {
        let allocs = allocation_counter::measure(|| rt.block_on(run(e.token, client, url, 100)));
        println!(
            "{:<30} {:>8.0} {:>+11.0} {:>8.3} {:>11.1} {:>10}",
            e.name,
            ns[i],
            ns[i] - ns[0],
            ns[i] / ns[0],
            allocs.count_total as f64 / 100.0,
            e.future_bytes(rt, url)
        );
    }
    for (i, what) in [
        (2, "resile"),
        (3, "resile without attempt timeout/deadline"),
        (4, "resile over a client built apart"),
    ] {
        println!(
            "{what} vs reqwest-retry: {:+.0} ns/req ({:.3}x); per round, median {:.3}x",
            ns[i] - ns[1],
            ns[i] / ns[1],
            paired[i - 2]
        );
    }
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
