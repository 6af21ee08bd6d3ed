//! Micro-benchmarks of the policy crate: classification, backoff, budget, breaker,
//! token checks and one full decision on the success path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method};
use resile_benches::decision::{Host, success_path};
use resile_benches::harness::contended;
use resile_policy::auth::RefreshFailed;
use resile_policy::breaker::Feedback;
use resile_policy::classify::{Input, classify};
use resile_policy::{
    CircuitBreaker, Clock, ExponentialBackoff, ManualClock, RetryBudget, Secret, TokenPolicy,
    TokenState,
};

const JSON_503: &[u8] = br#"{"object":"error","code":503,"type":"system_unavailable","message":"System unavailable.","request_id":"0177a3b5e9f40242ac11000400000000"}"#;
const HTML_502: &[u8] = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>";

fn classify_benches(c: &mut Criterion) {
    let get = Method::GET;
    let empty = HeaderMap::new();
    let mut html = HeaderMap::new();
    html.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    let mut g = c.benchmark_group("classify");
    g.bench_function("status_only_200", |b| {
        b.iter(|| {
            classify(&Input::response(
                &get,
                black_box("/v3/devices"),
                black_box(200),
                &empty,
                b"",
            ))
            .classification()
        })
    });
    g.bench_function("status_only_503_empty_body", |b| {
        b.iter(|| {
            classify(&Input::response(
                &get,
                black_box("/v3/devices"),
                black_box(503),
                &empty,
                b"",
            ))
            .classification()
        })
    });
    g.bench_function("json_503", |b| {
        b.iter(|| {
            classify(&Input::response(
                &get,
                black_box("/v3/devices"),
                503,
                &empty,
                black_box(JSON_503),
            ))
            .classification()
        })
    });
    g.bench_function("html_502", |b| {
        b.iter(|| {
            classify(&Input::response(
                &get,
                black_box("/v3/devices"),
                502,
                &html,
                black_box(HTML_502),
            ))
            .classification()
        })
    });
    g.bench_function("token_400_device_route", |b| {
        let path = "/v2/device-requests/0161b8e8a2d10a580a01020300000000";
        b.iter(|| {
            classify(&Input::response(
                &Method::POST,
                black_box(path),
                400,
                &empty,
                black_box(b"QUEUE_IS_FULL"),
            ))
            .classification()
        })
    });
    g.finish();
}

fn backoff_and_budget(c: &mut Criterion) {
    let clock = ManualClock::new();
    let mut backoff = ExponentialBackoff::default().reseeded(1);
    c.bench_function("backoff/next_delay", |b| {
        b.iter(|| {
            if backoff.attempt() > 20 {
                backoff.reset();
            }
            black_box(backoff.next_delay())
        })
    });
    let budget = RetryBudget::default();
    c.bench_function("budget/deposit_withdraw", |b| {
        b.iter(|| {
            clock.advance(Duration::from_micros(10));
            budget.deposit(clock.now());
            black_box(budget.try_withdraw(clock.now()))
        })
    });
    let shared = RetryBudget::default();
    let now = clock.now();
    c.bench_function("budget/deposit_withdraw_2_threads", |b| {
        b.iter_custom(|iters| {
            contended(2, iters, || {
                shared.deposit(now);
                black_box(shared.try_withdraw(now));
            })
        })
    });
}

fn breaker_benches(c: &mut Criterion) {
    let clock = ManualClock::new();
    let mut g = c.benchmark_group("breaker");
    let closed = CircuitBreaker::default();
    g.bench_function("closed/acquire_record", |b| {
        b.iter(|| {
            let now = clock.now();
            let p = closed.try_acquire(now).expect("closed");
            black_box(closed.record(p, Feedback::Success, Duration::from_millis(2), now))
        })
    });
    let shared = CircuitBreaker::default();
    let now = clock.now();
    g.bench_function("closed/acquire_record_2_threads", |b| {
        b.iter_custom(|iters| {
            contended(2, iters, || {
                let p = shared.try_acquire(now).expect("closed");
                black_box(shared.record(p, Feedback::Success, Duration::from_millis(2), now));
            })
        })
    });
    g.bench_function("closed/acquire_only_2_threads", |b| {
        b.iter_custom(|iters| {
            contended(2, iters, || {
                black_box(shared.try_acquire(now).is_ok());
            })
        })
    });
    let open = CircuitBreaker::default();
    let _ = open.isolate(clock.now());
    g.bench_function("open/reject", |b| {
        b.iter(|| black_box(open.try_acquire(clock.now()).is_err()))
    });
    g.bench_function("half_open/probe_cycle", |b| {
        b.iter_batched(
            || {
                let c = ManualClock::new();
                let br = CircuitBreaker::builder()
                    .consecutive_failures(1)
                    .build()
                    .expect("valid");
                let p = br.try_acquire(c.now()).expect("closed");
                let _ = br.record(p, Feedback::Failure, Duration::ZERO, c.now());
                c.advance(Duration::from_secs(120));
                (c, br)
            },
            |(c, br)| {
                let p = br.try_acquire(c.now()).expect("half-open admits a probe");
                black_box(br.record(p, Feedback::Success, Duration::ZERO, c.now()))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let p = closed.try_acquire(now).expect("closed");
            black_box(closed.record(p, Feedback::Success, Duration::from_millis(2), now));
        }
    });
    report_allocations("breaker/closed/acquire_record", info.count_total);
}

#[allow(clippy::print_stdout)] // benches report on stdout
fn report_allocations(name: &str, count: u64) {
    println!("{name} allocations over 10000 calls: {count}");
    assert_eq!(count, 0, "{name} must not allocate");
}

fn token_benches(c: &mut Criterion) {
    let clock = ManualClock::new();
    let mut state: TokenState = TokenState::new(TokenPolicy::default());
    let now = clock.now();
    if let resile_policy::auth::RefreshDecision::Start(t) = state.begin_refresh(now) {
        let _ = state.complete(
            t,
            Ok((
                Secret::new("ak_bench"),
                Some(now + Duration::from_secs(3600)),
            )),
            now,
        );
    }
    let _ = RefreshFailed::new();
    c.bench_function("token/needs_refresh_and_current", |b| {
        b.iter(|| {
            let now = clock.now();
            black_box((state.needs_refresh(now), state.current(now)))
        })
    });
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let now = clock.now();
            black_box((state.needs_refresh(now), state.current(now)));
        }
    });
    report_allocations("token/needs_refresh_and_current", info.count_total);
}

fn full_decision(c: &mut Criterion) {
    let clock = ManualClock::new();
    let mut host = Host::default();
    let headers = HeaderMap::new();
    c.bench_function("decision/success_path", |b| {
        b.iter(|| {
            clock.advance(Duration::from_micros(50));
            black_box(success_path(&mut host, &headers, clock.now()))
        })
    });
    let info = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            clock.advance(Duration::from_micros(50));
            black_box(success_path(&mut host, &headers, clock.now()));
        }
    });
    report_allocations("decision/success_path", info.count_total);
}

criterion_group!(
    benches,
    classify_benches,
    backoff_and_budget,
    breaker_benches,
    token_benches,
    full_decision
);
criterion_main!(benches);
