//! The device gate against the scripted terminal, in paused time.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use resile_policy::{ExponentialBackoff, Jitter};
use resile_reqwest::{Attempts, Deadline, DeviceGateMiddleware, Error, RetryMiddleware};
use resile_test_support::{Reply, Scripted};
use tokio::time::Instant;

const HOST: &str = "api.example.com";

fn command(device: &str) -> String {
    format!("https://{HOST}/v2/device-requests/{device}?async-id=1")
}

fn gate() -> resile_reqwest::DeviceGateBuilder {
    DeviceGateMiddleware::builder().seed(5)
}

fn full() -> Reply {
    Reply::status(400).body("QUEUE_IS_FULL")
}

fn accepted() -> Reply {
    Reply::status(202)
}

/// The device id of a scripted request.
fn device_of(req: &Request) -> String {
    req.url().path().rsplit('/').next().unwrap_or("").to_owned()
}

fn client(script: &Scripted, layers: Vec<Arc<dyn Middleware>>) -> ClientWithMiddleware {
    script.client(layers)
}

/// Records how many requests are inside it at once.
#[derive(Debug, Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

#[async_trait::async_trait]
impl Middleware for Concurrency {
    async fn handle(
        &self,
        req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        let result = next.run(req, ext).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_holds_that_device_only() {
    let script = Scripted::from_fn(|req, n| {
        if n == 0 {
            full()
        } else if device_of(req) == "devices" {
            Reply::ok()
        } else {
            accepted()
        }
    });
    let gate = Arc::new(gate().build().unwrap());
    let c = client(&script, vec![gate.clone()]);
    let t0 = Instant::now();
    let resp = c.post(command("a")).send().await.unwrap();
    assert_eq!(resp.status(), 400, "the answer itself passes through");
    assert_eq!(gate.hold_remaining(HOST, "a"), Some(Duration::from_secs(1)));
    assert_eq!((gate.holds(), gate.held_devices()), (1, 1));

    // Another device and a host route go at once.
    assert_eq!(c.post(command("b")).send().await.unwrap().status(), 202);
    assert_eq!(
        c.get(format!("https://{HOST}/v3/devices"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(t0.elapsed(), Duration::ZERO);

    // The held device's next command waits out the hold, then goes.
    assert_eq!(c.post(command("a")).send().await.unwrap().status(), 202);
    let at: Vec<_> = script.received().iter().map(|r| r.at - t0).collect();
    assert_eq!(at[..3], [Duration::ZERO; 3]);
    assert!(at[3] >= Duration::from_secs(1), "{at:?}");
    // Its success reset the growth.
    assert_eq!(gate.held_devices(), 0);
    assert_eq!(gate.hold_remaining(HOST, "a"), None);
}

#[tokio::test(start_paused = true)]
async fn a_hold_longer_than_max_wait_fails_fast() {
    let script = Scripted::sequence(vec![full(), accepted()]);
    let gate = Arc::new(gate().max_wait(Duration::from_millis(500)).build().unwrap());
    let c = client(&script, vec![gate.clone()]);
    let t0 = Instant::now();
    let _ = c.post(command("dev-7")).send().await.unwrap();
    let err = c.post(command("dev-7")).send().await.unwrap_err();
    let e = Error::find(&err).unwrap();
    assert!(e.is_device_held(), "{e}");
    assert_eq!(e.device(), Some("dev-7"));
    assert_eq!(e.host(), Some(HOST));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert!(e.to_string().contains("device_queue_full"), "{e}");
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(script.count(), 1, "the terminal never saw it");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_and_a_deadline_bounds_the_wait() {
    let script = Scripted::sequence(vec![
        Reply::status(400)
            .body("DEVICE_NOT_CONNECTED")
            .header("retry-after", "3"),
        accepted(),
    ]);
    let gate = Arc::new(gate().build().unwrap());
    let c = client(&script, vec![gate.clone()]);
    let _ = c.post(command("d")).send().await.unwrap();
    assert_eq!(gate.hold_remaining(HOST, "d"), Some(Duration::from_secs(3)));

    // A deadline before the hold ends: refused at once, naming the reason.
    let soon = Deadline((Instant::now() + Duration::from_secs(2)).into_std());
    let err = c
        .post(command("d"))
        .with_extension(soon)
        .send()
        .await
        .unwrap_err();
    let e = Error::find(&err).unwrap();
    assert!(
        e.is_device_held() && e.to_string().contains("device_unreachable"),
        "{e}"
    );

    // Within max_wait (5 s) and no deadline: waits the 3 s, then goes.
    let t0 = Instant::now();
    assert_eq!(c.post(command("d")).send().await.unwrap().status(), 202);
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn in_flight_is_capped_per_device() {
    let script = Scripted::always(accepted().after(Duration::from_secs(1)));
    let gate: Arc<dyn Middleware> = Arc::new(gate().build().unwrap());
    let seen = Arc::new(Concurrency::default());
    let c = client(&script, vec![gate, seen.clone()]);
    let t0 = Instant::now();
    let a = (0..25).map(|_| c.post(command("a")).send());
    let b = (0..5).map(|_| c.post(command("b")).send());
    let (a, b) = futures::join!(join_all(a), join_all(b));
    assert!(
        a.iter()
            .chain(&b)
            .all(|r| r.as_ref().unwrap().status() == 202)
    );
    assert_eq!(seen.max.load(Ordering::SeqCst), 25, "20 to a + 5 to b");
    let at = |d: &str| -> Vec<Duration> {
        let r = script.received();
        r.iter()
            .filter(|r| r.url.path().ends_with(d))
            .map(|r| r.at - t0)
            .collect()
    };
    let a_at = at("/a");
    assert_eq!(a_at.iter().filter(|t| t.is_zero()).count(), 20);
    assert_eq!(
        a_at.iter()
            .filter(|t| **t == Duration::from_secs(1))
            .count(),
        5
    );
    assert!(
        at("/b").iter().all(|t| t.is_zero()),
        "b is not behind a's queue"
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn at_most_twenty_reach_the_terminal_at_once() {
    let script = Scripted::always(accepted().after(Duration::from_secs(1)));
    let gate: Arc<dyn Middleware> = Arc::new(gate().build().unwrap());
    let seen = Arc::new(Concurrency::default());
    let c = client(&script, vec![gate, seen.clone()]);
    let all = join_all((0..25).map(|_| c.post(command("a")).send())).await;
    assert!(all.iter().all(|r| r.as_ref().unwrap().status() == 202));
    assert_eq!(seen.max.load(Ordering::SeqCst), 20);
    assert_eq!(script.count(), 25);
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_slot_stops_at_the_deadline() {
    let script = Scripted::always(accepted().after(Duration::from_secs(10)));
    let gate: Arc<dyn Middleware> = Arc::new(gate().max_in_flight(2).build().unwrap());
    let c = client(&script, vec![gate]);
    let t0 = Instant::now();
    let deadline = Deadline((t0 + Duration::from_secs(2)).into_std());
    let busy = (0..2).map(|_| c.post(command("a")).send());
    let late = c.post(command("a")).with_extension(deadline).send();
    let (busy, late) = futures::join!(join_all(busy), late);
    assert!(busy.iter().all(|r| r.as_ref().unwrap().status() == 202));
    let err = late.unwrap_err();
    assert!(Error::find(&err).unwrap().is_deadline_exceeded(), "{err}");
    assert_eq!(script.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_for_a_slot_respects_a_hold_set_meanwhile() {
    let script = Scripted::sequence(vec![full().after(Duration::from_secs(1)), accepted()]);
    let gate: Arc<dyn Middleware> = Arc::new(gate().max_in_flight(1).build().unwrap());
    let c = client(&script, vec![gate]);
    let t0 = Instant::now();
    let (first, second) = futures::join!(c.post(command("a")).send(), c.post(command("a")).send());
    assert_eq!(first.unwrap().status(), 400);
    assert_eq!(second.unwrap().status(), 202);
    // The slot freed at 1 s, when the full queue set a 1 s hold: sent at 2 s, not 1 s.
    assert_eq!(script.received()[1].at - t0, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn host_routes_are_never_gated() {
    let script = Scripted::always(Reply::status(502).after(Duration::from_secs(1)));
    let gate: Arc<dyn Middleware> = Arc::new(gate().build().unwrap());
    let seen = Arc::new(Concurrency::default());
    let c = client(&script, vec![gate, seen.clone()]);
    let all = join_all((0..30).map(|_| c.get(format!("https://{HOST}/v3/devices/a")).send())).await;
    assert!(all.iter().all(|r| r.as_ref().unwrap().status() == 502));
    assert_eq!(seen.max.load(Ordering::SeqCst), 30);
    let again = c
        .get(format!("https://{HOST}/v2/endpoints/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        502,
        "the cached endpoint route is a host route"
    );
}

#[tokio::test(start_paused = true)]
async fn holds_grow_and_a_success_resets_them() {
    let script = Scripted::sequence(vec![full(), full(), full(), accepted(), full()]);
    let gate = Arc::new(gate().max_wait(Duration::from_secs(60)).build().unwrap());
    let c = client(&script, vec![gate.clone()]);
    let mut holds = Vec::new();
    for _ in 0..3 {
        let _ = c.post(command("a")).send().await.unwrap();
        holds.push(gate.hold_remaining(HOST, "a").unwrap());
    }
    assert_eq!(holds[0], Duration::from_secs(1));
    assert!(
        holds[1] >= Duration::from_secs(1) && holds[1] <= Duration::from_secs(2),
        "{holds:?}"
    );
    assert!(
        holds[2] >= Duration::from_secs(2) && holds[2] <= Duration::from_secs(4),
        "{holds:?}"
    );
    assert_eq!(gate.holds(), 3);
    assert_eq!(c.post(command("a")).send().await.unwrap().status(), 202);
    assert_eq!(gate.held_devices(), 0);
    let _ = c.post(command("a")).send().await.unwrap();
    assert_eq!(
        gate.hold_remaining(HOST, "a"),
        Some(Duration::from_secs(1)),
        "back to 1 s"
    );
}

#[tokio::test(start_paused = true)]
async fn answers_to_commands_sent_before_a_hold_do_not_grow_it() {
    let script = Scripted::always(full().after(Duration::from_millis(100)));
    let gate = Arc::new(gate().build().unwrap());
    let c = client(&script, vec![gate.clone()]);
    let all = join_all((0..20).map(|_| c.post(command("a")).send())).await;
    assert!(all.iter().all(|r| r.as_ref().unwrap().status() == 400));
    assert_eq!(gate.holds(), 1, "one hold, not twenty");
    assert_eq!(gate.hold_remaining(HOST, "a"), Some(Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_retry_during_the_hold_waits_for_it() {
    let script = Scripted::sequence(vec![full(), accepted()]);
    let hold = ExponentialBackoff::builder()
        .min(Duration::from_secs(3))
        .max(Duration::from_secs(30))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let gate = Arc::new(gate().hold_backoff(hold).build().unwrap());
    let retry = Arc::new(RetryMiddleware::builder().seed(1).build().unwrap());
    let c = client(&script, vec![retry, gate.clone()]);
    let t0 = Instant::now();
    let resp = c.post(command("a")).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(2)
    );
    let second = script.received()[1].at - t0;
    assert_eq!(
        second,
        Duration::from_secs(3),
        "the retry waited for the hold"
    );
}

#[tokio::test(start_paused = true)]
async fn device_state_stays_bounded() {
    let script = Scripted::always(accepted());
    let gate = Arc::new(
        gate()
            .max_devices(NonZeroUsize::new(1000).unwrap())
            .build()
            .unwrap(),
    );
    let c = client(&script, vec![gate.clone()]);
    for chunk in 0..100 {
        let sends = (0..1000).map(|i| c.post(command(&format!("dev-{chunk}-{i}"))).send());
        let all = join_all(sends).await;
        assert!(all.iter().all(|r| r.as_ref().unwrap().status() == 202));
        assert!(gate.tracked_devices() <= 1000, "{}", gate.tracked_devices());
    }
    assert_eq!(script.count(), 100_000);
}

#[test]
fn bad_settings_name_the_field() {
    let err = DeviceGateMiddleware::builder()
        .max_in_flight(0)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("device_gate.max_in_flight"),
        "{err}"
    );
    let err = DeviceGateMiddleware::builder()
        .body_limit(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("device_gate.body_limit"), "{err}");
}
