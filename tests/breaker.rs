//! The host circuit breaker middleware against the scripted terminal, in paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use resile_policy::breaker::{Cause, State, Transition};
use resile_policy::{BreakerConfig, DefaultRng, Rng};
use resile_reqwest::{BreakerMiddleware, DeviceGateMiddleware, Error};
use resile_test_support::{Reply, Scripted};

const HOST: &str = "api.example.com";
const URL: &str = "https://api.example.com/v3/devices";

type Seen = Arc<Mutex<Vec<(String, Transition)>>>;

/// A breaker with the adapter defaults, a fixed seed and a hook recording transitions.
fn breaker() -> (BreakerMiddleware, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let mw = BreakerMiddleware::builder()
        .seed(11)
        .on_transition(move |host, t| log.lock().unwrap().push((host.to_owned(), *t)))
        .build()
        .unwrap();
    (mw, seen)
}

fn client(script: &Scripted, layers: Vec<Arc<dyn Middleware>>) -> ClientWithMiddleware {
    script.client(layers)
}

fn ours(err: &reqwest_middleware::Error) -> &Error {
    Error::find(err).expect("a resile error")
}

#[tokio::test(start_paused = true)]
async fn a_storm_opens_it_then_a_probe_closes_it() {
    let script = Scripted::from_fn(|_, n| match n {
        0..10 if n % 2 == 0 => Reply::error(500, "internal_server_error"),
        0..10 => Reply::error(503, "system_unavailable"),
        _ => Reply::ok(),
    });
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    for i in 0..10 {
        let resp = c.get(URL).send().await.unwrap();
        assert!(
            resp.status().is_server_error(),
            "attempt {i}: the answer passes through"
        );
    }
    assert_eq!(mw.state(HOST), Some(State::Open));
    assert_eq!(mw.opens(), 1);

    // Open: fail fast, the terminal sees nothing.
    for _ in 0..5 {
        let err = c.get(URL).send().await.unwrap_err();
        let e = ours(&err);
        assert!(e.is_circuit_open());
        assert_eq!(e.host(), Some(HOST));
        let wait = e.retry_after().unwrap();
        assert!(
            wait > Duration::from_millis(800) && wait <= Duration::from_millis(1100),
            "{wait:?}"
        );
    }
    assert_eq!(script.count(), 10);

    // After the open period one probe goes through, succeeds, and closes it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(script.count(), 11);
    assert_eq!(mw.state(HOST), Some(State::Closed));
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);

    let seen = seen.lock().unwrap();
    let steps: Vec<_> = seen
        .iter()
        .map(|(h, t)| (h.as_str(), t.from, t.to, t.cause))
        .collect();
    assert_eq!(
        steps,
        [
            (HOST, State::Closed, State::Open, Cause::ConsecutiveFailures),
            (HOST, State::Open, State::HalfOpen, Cause::OpenElapsed),
            (HOST, State::HalfOpen, State::Closed, Cause::ProbesSucceeded),
        ],
        "each transition reported once"
    );
    assert!(seen[0].1.open_for.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_again_for_longer() {
    let script = Scripted::always(Reply::status(502).body("<html>bad gateway</html>"));
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    for _ in 0..10 {
        let _ = c.get(URL).send().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(c.get(URL).send().await.unwrap().status(), 502, "the probe");
    assert_eq!(mw.state(HOST), Some(State::Open));
    assert_eq!(mw.opens(), 2);
    let seen = seen.lock().unwrap();
    let last = seen.last().unwrap().1;
    assert_eq!(last.cause, Cause::ProbeFailed);
    assert!(
        last.open_for.unwrap() >= Duration::from_millis(1800),
        "{:?}",
        last.open_for
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_request_errors_and_device_outcomes_never_open_it() {
    let replies = [
        ("/v3/devices", Reply::error(429, "rate_limit_exceeded")),
        ("/v3/devices", Reply::error(400, "validation_error")),
        ("/v3/devices/x", Reply::error(404, "not_found")),
        ("/v3/devices", Reply::error(401, "invalid_token")),
        ("/v2/device-requests/dev1", Reply::status(502)),
        (
            "/v2/device-requests/dev1",
            Reply::error(503, "system_unavailable"),
        ),
        (
            "/v2/device-requests/dev1",
            Reply::status(400).body("QUEUE_IS_FULL"),
        ),
        (
            "/v2/device-requests/dev1",
            Reply::status(400).body("DEVICE_NOT_CONNECTED"),
        ),
        ("/v2/endpoints/dev2/3/0/1", Reply::status(504)),
        ("/v2/endpoints/dev2/3/0/1", Reply::status(429)),
    ];
    let script = Scripted::from_fn(move |req, _| {
        let path = req.url().path();
        replies
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, r)| r.clone())
            .unwrap()
    });
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    let paths = [
        "/v3/devices",
        "/v3/devices/x",
        "/v2/device-requests/dev1",
        "/v2/endpoints/dev2/3/0/1",
    ];
    // 50 rounds: far more than 10 in a row, and 40 in a window, of each kind.
    for round in 0..50 {
        for (i, path) in paths.iter().enumerate() {
            let url = format!("https://{HOST}{path}");
            let resp = c.post(&url).body("{}").send().await.unwrap();
            assert!(resp.status().is_client_error() || resp.status().is_server_error());
            if i == 0 && round % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    assert_eq!(script.count(), 200, "every request reached the terminal");
    assert_eq!(mw.state(HOST), Some(State::Closed));
    assert_eq!(mw.opens(), 0);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn each_status_alone_never_opens_it() {
    // Runs of one outcome only: 429s, 4xx, device-route 502s and full queues.
    let runs: [(&str, Reply); 4] = [
        ("/v3/devices", Reply::error(429, "rate_limit_exceeded")),
        ("/v3/devices", Reply::error(403, "access_denied")),
        ("/v2/device-requests/d", Reply::status(502)),
        (
            "/v2/device-requests/d",
            Reply::status(400).body("QUEUE_IS_FULL"),
        ),
    ];
    for (path, reply) in runs {
        let script = Scripted::always(reply);
        let (mw, _) = breaker();
        let mw = Arc::new(mw);
        let c = client(&script, vec![mw.clone()]);
        for _ in 0..100 {
            let _ = c.get(format!("https://{HOST}{path}")).send().await.unwrap();
        }
        assert_eq!(mw.opens(), 0, "{path}");
        assert_eq!(script.count(), 100, "{path}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_frees_its_slot_at_once() {
    let script = Scripted::from_fn(|_, n| match n {
        0..10 => Reply::error(503, "system_unavailable"),
        10 => Reply::ok().after(Duration::from_secs(30)),
        _ => Reply::ok(),
    });
    let (mw, _) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    for _ in 0..10 {
        let _ = c.get(URL).send().await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let probe = tokio::time::timeout(Duration::from_secs(1), c.get(URL).send()).await;
    assert!(probe.is_err(), "the caller gave up on the probe");
    // Without a verdict the slot is free again: the next call probes, well before the
    // 10 s probe timeout, and closes the breaker.
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(script.count(), 12);
    assert_eq!(mw.state(HOST), Some(State::Closed));
}

/// A middleware that always fails with its own error.
#[derive(Debug)]
struct Broken;

#[async_trait::async_trait]
impl Middleware for Broken {
    async fn handle(
        &self,
        _req: Request,
        _ext: &mut Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        Err(reqwest_middleware::Error::middleware(
            std::io::Error::other("broken"),
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn an_unclassified_middleware_error_does_not_count() {
    let script = Scripted::always(Reply::ok());
    let (mw, _) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone(), Arc::new(Broken)]);
    for _ in 0..100 {
        let err = c.get(URL).send().await.unwrap_err();
        assert!(
            Error::find(&err).is_none(),
            "the inner error, unchanged: {err}"
        );
    }
    assert_eq!(mw.state(HOST), Some(State::Closed));
    assert_eq!(mw.opens(), 0);
    assert_eq!(script.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn device_holds_from_the_gate_do_not_count() {
    let script = Scripted::always(Reply::status(400).body("QUEUE_IS_FULL"));
    let (mw, _) = breaker();
    let mw = Arc::new(mw);
    let gate = DeviceGateMiddleware::builder()
        .max_wait(Duration::ZERO)
        .seed(1)
        .build()
        .unwrap();
    let c = client(&script, vec![mw.clone(), Arc::new(gate)]);
    let url = format!("https://{HOST}/v2/device-requests/d1");
    let mut held = 0;
    for _ in 0..50 {
        match c.post(&url).send().await {
            Ok(resp) => assert_eq!(resp.status(), 400),
            Err(e) => {
                assert!(ours(&e).is_device_held());
                held += 1;
            }
        }
    }
    assert_eq!(held, 49);
    assert_eq!(mw.opens(), 0);
}

#[tokio::test(start_paused = true)]
async fn distinct_hosts_have_distinct_breakers() {
    let script = Scripted::from_fn(|req, _| match req.url().host_str() {
        Some("down.example.com") => Reply::error(503, "system_unavailable"),
        _ => Reply::ok(),
    });
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    for _ in 0..10 {
        let _ = c
            .get("https://down.example.com/v3/devices")
            .send()
            .await
            .unwrap();
        let up = c
            .get("https://up.example.com/v3/devices")
            .send()
            .await
            .unwrap();
        assert_eq!(up.status(), 200);
    }
    let err = c
        .get("https://down.example.com/v3/devices")
        .send()
        .await
        .unwrap_err();
    assert_eq!(ours(&err).host(), Some("down.example.com"));
    assert_eq!(
        c.get("https://up.example.com/x")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The port is part of the key.
    assert_eq!(
        c.get("https://down.example.com:8443/v3/devices")
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(mw.state("down.example.com"), Some(State::Open));
    assert_eq!(mw.state("up.example.com"), Some(State::Closed));
    assert_eq!(mw.state("down.example.com:8443"), Some(State::Closed));
    assert_eq!(mw.state("never.example.com"), None);
    assert_eq!(mw.tracked_hosts(), 3);
    let hosts: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h.clone())
        .collect();
    assert_eq!(hosts, ["down.example.com"]);
}

#[tokio::test(start_paused = true)]
async fn hosts_that_trip_together_reopen_at_different_times() {
    let script = Scripted::always(Reply::error(503, "system_unavailable"));
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    for h in ["a", "b", "c", "d"] {
        for _ in 0..10 {
            let _ = c
                .get(format!("https://{h}.example.com/v3"))
                .send()
                .await
                .unwrap();
        }
    }
    let opens: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.open_for.unwrap())
        .collect();
    assert_eq!(opens.len(), 4);
    let mut distinct = opens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "per-host jitter: {opens:?}");
}

#[tokio::test(start_paused = true)]
async fn isolate_and_reset_by_hand() {
    let script = Scripted::always(Reply::ok());
    let (mw, seen) = breaker();
    let mw = Arc::new(mw);
    let c = client(&script, vec![mw.clone()]);
    assert!(mw.reset(HOST).is_none(), "not tracked yet");
    assert_eq!(mw.isolate(HOST).map(|t| t.cause), Some(Cause::Isolated));
    assert!(mw.isolate(HOST).is_none(), "already isolated");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let err = c.get(URL).send().await.unwrap_err();
    assert!(ours(&err).is_circuit_open());
    assert_eq!(script.count(), 0);
    assert_eq!(mw.reset(HOST).map(|t| t.to), Some(State::Closed));
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(mw.opens(), 1);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// Sends `n` requests 250 ms apart (≈ 4 calls/s, the rate at which a 40-call window
/// is most easily tripped by chance) to a host failing 20 % of them at random;
/// returns how often the breaker opened.
async fn flaky_opens(config: Option<BreakerConfig>, n: usize) -> u64 {
    let rng = Mutex::new(DefaultRng::new(2024));
    let script = Scripted::from_fn(move |_, _| {
        if rng.lock().unwrap().next_f64() < 0.2 {
            Reply::error(503, "system_unavailable")
        } else {
            Reply::ok()
        }
    });
    let mut b = BreakerMiddleware::builder().seed(3);
    if let Some(config) = config {
        b = b.config(config);
    }
    let mw = Arc::new(b.build().unwrap());
    let c = client(&script, vec![mw.clone()]);
    for _ in 0..n {
        let _ = c.get(URL).send().await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    mw.opens()
}

#[tokio::test(start_paused = true)]
async fn twenty_percent_flakiness_does_not_open_it() {
    assert_eq!(flaky_opens(None, 20_000).await, 0, "adapter defaults");
    // The policy's generic default (5 in a row, 20 calls) would have cut the host off.
    let policy_default = flaky_opens(Some(BreakerConfig::default()), 20_000).await;
    assert!(policy_default >= 2, "{policy_default}");
}

/// Slow successes count as failures only if the end of each attempt is timed: a
/// success otherwise ends without a second clock read.
#[tokio::test(start_paused = true)]
async fn slow_successes_open_it_when_a_threshold_is_set() {
    let slow = |threshold: Option<Duration>| async move {
        let config = BreakerMiddleware::config_builder()
            .slow_call(threshold)
            .config()
            .unwrap();
        let mw = Arc::new(
            BreakerMiddleware::builder()
                .config(config)
                .seed(5)
                .build()
                .unwrap(),
        );
        let script = Scripted::always(Reply::ok().after(Duration::from_secs(3)));
        let c = client(&script, vec![mw.clone()]);
        for _ in 0..40 {
            match c.get(URL).send().await {
                Ok(resp) => assert_eq!(resp.status(), 200),
                Err(e) => assert!(ours(&e).is_circuit_open(), "{e}"),
            }
        }
        mw.opens()
    };
    assert_eq!(slow(None).await, 0, "no threshold: latency is not judged");
    assert!(
        slow(Some(Duration::from_secs(1))).await >= 1,
        "3 s successes over a 1 s threshold"
    );
}

#[test]
fn bad_settings_name_the_field() {
    let err = BreakerMiddleware::builder()
        .body_limit(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("breaker.body_limit"), "{err}");
}
