//! How cost grows with the work (issue 6, part 4). Prints four tables:
//!
//! 1. **device gate**: 1k → 1M distinct device ids, POSTed once each to
//!    `/v2/device-requests/{id}` through `DeviceGateMiddleware` (defaults: 100 000
//!    devices tracked) and a stub answering 202, then 100k revisits of random ids;
//!    time per request minus the same pass without the gate, devices tracked, bytes
//!    still allocated after the pass (the registry's contents), process RSS;
//! 2. **breaker registry**: the policy's `Registry<String, CircuitBreaker>` at the
//!    adapter's capacity (1024 hosts), lookup + acquire + record per distinct host;
//! 3. **breaker middleware**: 1k → 1M distinct hosts through `BreakerMiddleware`;
//! 4. **concurrency**: 1 → 1024 concurrent requests on one host through resile's
//!    full stack and through a bare client, on a 2-worker runtime, against a stub that
//!    yields once (so requests really overlap): wall time per request.
//!
//! Quick mode (`-- --test`) runs tiny sizes.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use resile_benches::clients::resile_service;
use resile_benches::harness::{list_mode, mib, now, per_item_ns, quick_mode, rss_bytes, time};
use resile_benches::load::{Keys, concurrent, device_url, host_url, pass};
use resile_benches::stub::Stub;
use resile_policy::breaker::Feedback;
use resile_policy::{CircuitBreaker, DefaultRng, Registry, Rng};
use resile_reqwest::{BreakerMiddleware, DeviceGateMiddleware};
use tokio::runtime::Runtime;

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn plain(stub: Stub) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(stub)
        .build()
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn device_gate(rt: &Runtime, sizes: &[u64], revisits: u64) {
    println!(
        "\ndevice gate: distinct device ids, sequential POSTs, stub 202; gate cost = with gate - without"
    );
    println!(
        "{:>9} {:>14} {:>16} {:>9} {:>13} {:>9}",
        "ids", "first ns/req", "revisit ns/req", "tracked", "retained MiB", "RSS MiB"
    );
    let without = plain(Stub::new(202));
    for &n in sizes {
        let gate = Arc::new(DeviceGateMiddleware::builder().build().expect("defaults"));
        let client = ClientBuilder::new(reqwest::Client::new())
            .with_arc(gate.clone())
            .with(Stub::new(202))
            .build();
        let mut first = Duration::ZERO;
        let info = allocation_counter::measure(|| {
            first = rt.block_on(pass(&client, Keys::Each(n), device_url, true, 202));
        });
        let base_first = rt.block_on(pass(&without, Keys::Each(n), device_url, true, 202));
        let again = Keys::Random { n, count: revisits };
        let revisit = rt.block_on(pass(&client, again, device_url, true, 202));
        let base_revisit = rt.block_on(pass(&without, again, device_url, true, 202));
        let tracked = gate.tracked_devices();
        assert!(tracked <= 100_000, "the registry is bounded");
        println!(
            "{n:>9} {:>14.0} {:>16.0} {tracked:>9} {:>13.1} {:>9.1}",
            ns(first) - ns(base_first),
            ns(revisit) - ns(base_revisit),
            mib(u64::try_from(info.bytes_current).unwrap_or(0)),
            mib(rss_bytes().unwrap_or(0)),
        );
    }
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn breaker_registry(sizes: &[u64], revisits: u64) {
    let config = BreakerMiddleware::config_builder().config().expect("valid");
    let cap = NonZeroUsize::new(1024).expect("non-zero");
    println!("\nbreaker registry (capacity 1024): get_or_insert + try_acquire + record per host");
    println!(
        "{:>9} {:>14} {:>16} {:>9} {:>13}",
        "hosts", "first ns/op", "revisit ns/op", "len", "retained KiB"
    );
    let at = now();
    for &n in sizes {
        let registry: Registry<String, CircuitBreaker> = Registry::idle_first(cap);
        let mut key = String::with_capacity(32);
        let mut visit = |i: u64| {
            key.clear();
            let _ = write!(key, "h{i:07}.bench.test");
            let b = registry.get_or_insert_with(&key, || CircuitBreaker::new(config));
            if let Ok(p) = b.try_acquire(at) {
                let _ = b.record(p, Feedback::Success, Duration::from_millis(2), at);
            }
        };
        let mut first = Duration::ZERO;
        let info = allocation_counter::measure(|| first = time(|| (0..n).for_each(&mut visit)).1);
        let mut rng = DefaultRng::new(3);
        let ((), revisit) = time(|| (0..revisits).for_each(|_| visit(rng.next_u64() % n)));
        assert!(registry.len() <= 1024, "the registry is bounded");
        println!(
            "{n:>9} {:>14.0} {:>16.0} {:>9} {:>13.1}",
            per_item_ns(first, n),
            per_item_ns(revisit, revisits),
            registry.len(),
            info.bytes_current as f64 / 1024.0,
        );
    }
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn breaker_middleware(rt: &Runtime, sizes: &[u64], revisits: u64) {
    println!(
        "\nbreaker middleware: distinct hosts, sequential GETs, stub 200; cost = with breaker - without"
    );
    println!(
        "{:>9} {:>14} {:>16} {:>9}",
        "hosts", "first ns/req", "revisit ns/req", "tracked"
    );
    let without = plain(Stub::ok());
    for &n in sizes {
        let breaker = Arc::new(BreakerMiddleware::builder().build().expect("defaults"));
        let client = ClientBuilder::new(reqwest::Client::new())
            .with_arc(breaker.clone())
            .with(Stub::ok())
            .build();
        let first = rt.block_on(pass(&client, Keys::Each(n), host_url, false, 200));
        let base_first = rt.block_on(pass(&without, Keys::Each(n), host_url, false, 200));
        let again = Keys::Random { n, count: revisits };
        let revisit = rt.block_on(pass(&client, again, host_url, false, 200));
        let base_revisit = rt.block_on(pass(&without, again, host_url, false, 200));
        assert!(breaker.tracked_hosts() <= 1024, "the registry is bounded");
        println!(
            "{n:>9} {:>14.0} {:>16.0} {:>9}",
            ns(first) - ns(base_first),
            ns(revisit) - ns(base_revisit),
            breaker.tracked_hosts()
        );
    }
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn concurrency(levels: &[usize], total: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let stub = Stub::ok().yielding();
    let service = resile_service("api.bench.test", false).expect("valid");
    let resile = service
        .attach(ClientBuilder::new(reqwest::Client::new()))
        .with(stub)
        .build();
    let bare = plain(stub);
    // Memory held per request in flight: peak bytes with 256 requests parked at
    // once, on one thread (the allocation counter counts per thread).
    let one = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let in_flight = |client: &ClientWithMiddleware| {
        let info = allocation_counter::measure(|| {
            let _ = one.block_on(concurrent(client, 256, 256));
        });
        info.bytes_max as f64 / 256.0
    };
    println!(
        "\nmemory per request in flight (256 parked at once): bare {:.0} B, resile {:.0} B",
        in_flight(&bare),
        in_flight(&resile)
    );
    println!("concurrency: {total} GETs on one host per level, 2 worker threads, stub yields once");
    println!(
        "{:>11} {:>12} {:>14} {:>12} {:>14}",
        "concurrent", "bare ns/req", "resile ns/req", "vs bare", "vs resile@1"
    );
    let _ = rt.block_on(concurrent(&resile, 4, total.min(1000))); // warm up
    let mut at_one = None;
    for &c in levels {
        let b = rt.block_on(concurrent(&bare, c, total));
        let r = rt.block_on(concurrent(&resile, c, total));
        let one = *at_one.get_or_insert(ns(r));
        println!(
            "{c:>11} {:>12.0} {:>14.0} {:>12.2} {:>14.2}",
            ns(b),
            ns(r),
            ns(r) / ns(b),
            ns(r) / one
        );
    }
}

fn main() {
    if list_mode() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if quick_mode() {
        device_gate(&rt, &[100, 1_000], 100);
        breaker_registry(&[100, 2_000], 100);
        breaker_middleware(&rt, &[100, 2_000], 100);
        concurrency(&[1, 16], 64);
        return;
    }
    let sizes = [1_000, 10_000, 100_000, 1_000_000];
    device_gate(&rt, &sizes, 100_000);
    breaker_registry(&sizes, 1_000_000);
    breaker_middleware(&rt, &sizes, 100_000);
    concurrency(&[1, 4, 16, 64, 256, 1024], 65_536);
}
