//! The pacing middleware against the scripted terminal, in paused time: quota,
//! shared `Retry-After` holds, the adaptive pace, and deadlines.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use resile_reqwest::{Deadline, Error, PacingMiddleware, RetryMiddleware};
use resile_test_support::{Reply, Scripted};
use tokio::time::Instant;

const A: &str = "https://api.example.com/v3/devices";
const B: &str = "https://other.example.com/v3/devices";
const DEVICE: &str = "https://api.example.com/v2/endpoints/dev-1/3/0/1";
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn client(script: &Scripted, pacing: &Arc<PacingMiddleware>) -> ClientWithMiddleware {
    script.client(vec![Arc::clone(pacing) as Arc<dyn Middleware>])
}

/// When each request to `host` reached the terminal, relative to `t0`.
fn arrivals(script: &Scripted, host: &str, t0: Instant) -> Vec<Duration> {
    script
        .received()
        .iter()
        .filter(|r| r.url.host_str() == Some(host))
        .map(|r| r.at - t0)
        .collect()
}

/// The first request gets `first`; every later one 200.
fn first_then_ok(first: Reply) -> Scripted {
    Scripted::sequence(vec![first, Reply::ok()])
}

fn ours(err: &reqwest_middleware::Error) -> &Error {
    Error::find(err).expect("one of resile's errors")
}

#[tokio::test(start_paused = true)]
async fn a_quota_paces_sequential_requests_after_the_burst() {
    let script = Scripted::always(Reply::ok());
    let pacing = Arc::new(
        PacingMiddleware::builder()
            .per_second(nz(4))
            .burst(nz(2))
            .build()
            .unwrap(),
    );
    let c = client(&script, &pacing);
    for _ in 0..6 {
        assert_eq!(c.get(A).send().await.unwrap().status(), 200);
    }
    let gaps = script.gaps();
    assert_eq!(gaps[0], Duration::ZERO, "a burst of 2 leaves at once");
    for gap in &gaps[1..] {
        assert!(*gap >= 250 * MS && *gap < 260 * MS, "{gaps:?}");
    }
    assert!(pacing.waited() >= 4 * 250 * MS, "{:?}", pacing.waited());
}

#[tokio::test(start_paused = true)]
async fn the_quota_is_per_host() {
    let script = Scripted::always(Reply::ok());
    let pacing = Arc::new(
        PacingMiddleware::builder()
            .per_second(nz(1))
            .build()
            .unwrap(),
    );
    let c = client(&script, &pacing);
    let t0 = Instant::now();
    let calls = [A, A, A, B].map(|url| c.get(url).send());
    assert!(join_all(calls).await.iter().all(|r| r.is_ok()));
    let mut a = arrivals(&script, "api.example.com", t0);
    a.sort();
    assert_eq!(a.len(), 3);
    assert!(a[0] < MS && a[1] >= SEC && a[2] >= 2 * SEC, "{a:?}");
    assert_eq!(arrivals(&script, "other.example.com", t0), [Duration::ZERO]);
}

/// Sends `first` to api.example.com, then (1 s later) five more requests there and
/// one to other.example.com, all at once; returns the arrivals after `t0`.
async fn hold_then_burst(
    first: Reply,
    pacing: &Arc<PacingMiddleware>,
) -> (Vec<Duration>, Vec<Duration>) {
    let script = first_then_ok(first);
    let c = client(&script, pacing);
    let t0 = Instant::now();
    let _ = c.get(A).send().await.unwrap();
    tokio::time::sleep(SEC).await;
    let calls = [A, A, A, A, A, B].map(|url| c.get(url).send());
    for r in join_all(calls).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let mut a = arrivals(&script, "api.example.com", t0);
    a.sort();
    (a, arrivals(&script, "other.example.com", t0))
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_holds_every_request_to_the_host() {
    // The hold alone (the adaptive pace is shown in the next test).
    let pacing = Arc::new(PacingMiddleware::builder().no_adaptive().build().unwrap());
    let first = Reply::error(429, "rate_limit_exceeded").header("retry-after", "3");
    let (a, b) = hold_then_burst(first, &pacing).await;
    assert_eq!(a.len(), 6);
    assert_eq!(a[0], Duration::ZERO);
    assert!(
        a[1..].iter().all(|t| *t == 3 * SEC),
        "none before the hold ends: {a:?}"
    );
    assert_eq!(b, [SEC], "another host is not held");
    assert_eq!(pacing.holds(), 1);
    assert_eq!(
        pacing.waited(),
        5 * 2 * SEC,
        "five requests waited 2 s each"
    );
    assert_eq!(pacing.hold_remaining("api.example.com"), None);
}

#[tokio::test(start_paused = true)]
async fn after_a_hinted_429_the_waiters_leave_at_a_pace_not_all_at_once() {
    let pacing = Arc::new(PacingMiddleware::new());
    let first = Reply::error(429, "rate_limit_exceeded").header("retry-after", "3");
    let (a, b) = hold_then_burst(first, &pacing).await;
    assert_eq!(a.len(), 6);
    assert_eq!(a[1], 3 * SEC, "the first waiter leaves when the hold ends");
    // Nothing was accepted before the 429, so the pace starts at 4/s and rises a
    // little with each success: gaps just under 250 ms.
    for w in a[1..].windows(2) {
        let gap = w[1] - w[0];
        assert!(gap > 200 * MS && gap <= 250 * MS, "{a:?}");
    }
    assert_eq!(b, [SEC], "another host is neither held nor paced");
    assert_eq!((pacing.holds(), pacing.slowdowns()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_holds_the_host_too() {
    let pacing = Arc::new(PacingMiddleware::new());
    let first = Reply::error(503, "system_unavailable").header("retry-after", "2");
    let (a, b) = hold_then_burst(first, &pacing).await;
    assert!(a[1..].iter().all(|t| *t == 2 * SEC), "{a:?}");
    assert_eq!(b, [SEC]);
    assert_eq!(pacing.holds(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_hold_is_visible_while_it_runs() {
    let script = first_then_ok(Reply::status(429).header("retry-after", "5"));
    let pacing = Arc::new(PacingMiddleware::new());
    let _ = client(&script, &pacing).get(A).send().await.unwrap();
    tokio::time::sleep(2 * SEC).await;
    assert_eq!(pacing.hold_remaining("api.example.com"), Some(3 * SEC));
    assert_eq!(pacing.hold_remaining("other.example.com"), None);
}

#[tokio::test(start_paused = true)]
async fn device_scoped_429s_and_503s_set_no_host_hold() {
    let script = Scripted::from_fn(|req, _| {
        if req.url().path().starts_with("/v2/") {
            let status = if req.url().path().contains("endpoints") {
                429
            } else {
                503
            };
            return Reply::status(status).header("retry-after", "30");
        }
        Reply::ok()
    });
    let pacing = Arc::new(PacingMiddleware::new());
    let c = client(&script, &pacing);
    let t0 = Instant::now();
    assert_eq!(c.get(DEVICE).send().await.unwrap().status(), 429);
    let relay = "https://api.example.com/v2/device-requests/dev-1?async-id=1";
    assert_eq!(c.post(relay).send().await.unwrap().status(), 503);
    assert_eq!(c.get(A).send().await.unwrap().status(), 200);
    assert_eq!(
        arrivals(&script, "api.example.com", t0),
        [Duration::ZERO; 3]
    );
    assert_eq!(pacing.holds(), 0);
    assert_eq!(
        pacing.slowdowns(),
        0,
        "a full device queue never slows the host"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_hold_fails_fast() {
    let script = first_then_ok(Reply::status(429).header("retry-after", "10"));
    let pacing = Arc::new(PacingMiddleware::new());
    let c = client(&script, &pacing);
    let _ = c.get(A).send().await.unwrap();
    let t1 = Instant::now();
    let deadline = Deadline((t1 + 2 * SEC).into_std());
    let err = c.get(A).with_extension(deadline).send().await.unwrap_err();
    assert_eq!(t1.elapsed(), Duration::ZERO, "no wait");
    let e = ours(&err);
    assert!(e.is_host_held(), "{e}");
    assert_eq!(e.host(), Some("api.example.com"));
    assert_eq!(e.retry_after(), Some(10 * SEC));
    assert_eq!(script.count(), 1, "nothing sent");
    // A deadline after the hold's end waits it out.
    let deadline = Deadline((t1 + 11 * SEC).into_std());
    let resp = c.get(A).with_extension(deadline).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(t1.elapsed(), 10 * SEC);
}

#[tokio::test(start_paused = true)]
async fn a_hold_longer_than_the_longest_wait_fails_fast() {
    let script = first_then_ok(Reply::status(503).header("retry-after", "20"));
    let pacing = Arc::new(
        PacingMiddleware::builder()
            .max_hold_wait(5 * SEC)
            .build()
            .unwrap(),
    );
    let c = client(&script, &pacing);
    let _ = c.get(A).send().await.unwrap();
    let err = c.get(A).send().await.unwrap_err();
    assert!(ours(&err).is_host_held());
    assert_eq!(script.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_hint_is_clamped() {
    let script = first_then_ok(Reply::status(429).header("retry-after", "3600"));
    let pacing = Arc::new(
        PacingMiddleware::builder()
            .max_hold(5 * SEC)
            .build()
            .unwrap(),
    );
    let c = client(&script, &pacing);
    let t0 = Instant::now();
    let _ = c.get(A).send().await.unwrap();
    assert_eq!(c.get(A).send().await.unwrap().status(), 200);
    assert_eq!(
        arrivals(&script, "api.example.com", t0),
        [Duration::ZERO, 5 * SEC]
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_without_a_hint_lowers_the_pace_instead_of_holding() {
    let script = first_then_ok(Reply::error(429, "rate_limit_exceeded"));
    let pacing = Arc::new(PacingMiddleware::new());
    let c = client(&script, &pacing);
    let t0 = Instant::now();
    let _ = c.get(A).send().await.unwrap();
    assert_eq!(pacing.holds(), 0);
    assert_eq!(pacing.slowdowns(), 1);
    assert_eq!(pacing.pace_interval("api.example.com"), Some(250 * MS));
    // Four requests at once leave 250 ms apart; another host is not paced.
    let calls = [A, A, A, A, B].map(|url| c.get(url).send());
    assert!(join_all(calls).await.iter().all(|r| r.is_ok()));
    let a = arrivals(&script, "api.example.com", t0);
    assert_eq!(a, [0, 250, 500, 750, 1000].map(|n| n * MS));
    assert_eq!(arrivals(&script, "other.example.com", t0), [Duration::ZERO]);
    // Each success raised the rate r by 1 / (16 × 250 ms × r) = 1 / (4 r) per second.
    let mut rate: f64 = 4.0;
    for _ in 0..4 {
        rate += 1.0 / (4.0 * rate);
    }
    let want = Duration::try_from_secs_f64(1.0 / rate).unwrap();
    assert_eq!(pacing.pace_interval("api.example.com"), Some(want));
}

#[tokio::test(start_paused = true)]
async fn successes_lift_the_lowered_pace() {
    let script = first_then_ok(Reply::status(429));
    let pacing = Arc::new(PacingMiddleware::new());
    let c = client(&script, &pacing);
    let _ = c.get(A).send().await.unwrap();
    // From 4/s to 16/s (four times the floor) at r += 1 / (4 r): 480 successes.
    for _ in 0..479 {
        let _ = c.get(A).send().await.unwrap();
    }
    assert!(pacing.pace_interval("api.example.com").is_some());
    let _ = c.get(A).send().await.unwrap();
    assert_eq!(pacing.pace_interval("api.example.com"), None);
    let t = Instant::now();
    let _ = c.get(A).send().await.unwrap();
    assert_eq!(t.elapsed(), Duration::ZERO, "no pace once lifted");
}

#[tokio::test(start_paused = true)]
async fn without_the_adaptive_pace_an_unhinted_429_changes_nothing() {
    let script = first_then_ok(Reply::status(429));
    let pacing = Arc::new(PacingMiddleware::builder().no_adaptive().build().unwrap());
    let c = client(&script, &pacing);
    let t0 = Instant::now();
    let _ = c.get(A).send().await.unwrap();
    let _ = c.get(A).send().await.unwrap();
    assert_eq!(
        arrivals(&script, "api.example.com", t0),
        [Duration::ZERO; 2]
    );
    assert_eq!((pacing.holds(), pacing.slowdowns()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_quota_wait_past_the_deadline_fails_fast() {
    let script = Scripted::always(Reply::ok());
    let pacing = Arc::new(
        PacingMiddleware::builder()
            .per_second(nz(1))
            .build()
            .unwrap(),
    );
    let c = client(&script, &pacing);
    let _ = c.get(A).send().await.unwrap();
    let t1 = Instant::now();
    let deadline = Deadline((t1 + 500 * MS).into_std());
    let err = c.get(A).with_extension(deadline).send().await.unwrap_err();
    assert!(ours(&err).is_deadline_exceeded());
    assert_eq!(t1.elapsed(), Duration::ZERO);
    assert_eq!(script.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn under_the_retry_layer_other_requests_do_not_rediscover_the_limit() {
    let script = first_then_ok(Reply::error(429, "rate_limit_exceeded").header("retry-after", "2"));
    let pacing = Arc::new(PacingMiddleware::new());
    let retry = Arc::new(RetryMiddleware::builder().seed(1).build().unwrap());
    let c = script.client(vec![retry as Arc<dyn Middleware>, Arc::clone(&pacing) as _]);
    let t0 = Instant::now();
    let first = c.get(A).send();
    let others = async {
        tokio::time::sleep(500 * MS).await;
        join_all((0..5).map(|_| c.get(A).send())).await
    };
    let (first, others) = tokio::join!(first, others);
    assert_eq!(first.unwrap().status(), 200);
    assert!(others.into_iter().all(|r| r.unwrap().status() == 200));
    let a = arrivals(&script, "api.example.com", t0);
    assert_eq!(a.len(), 7, "one 429, its retry, five others: no other 429");
    assert!(a[1..].iter().all(|t| *t >= 2 * SEC), "{a:?}");
}
