//! The retry middleware against the scripted terminal, in paused time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use http::Extensions;
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use resile_policy::{Class, Reason};
use resile_reqwest::{Attempts, RetryMiddleware};
use resile_test_support::{Reply, Scripted};

const URL: &str = "https://api.example.com/v3/devices";

fn client(script: &Scripted, retry: RetryMiddleware) -> ClientWithMiddleware {
    script.client(vec![Arc::new(retry) as Arc<dyn Middleware>])
}

fn retry() -> resile_reqwest::RetryBuilder {
    RetryMiddleware::builder().seed(7)
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let script = Scripted::sequence(vec![
        Reply::error(503, "system_unavailable").header("retry-after", "2"),
        Reply::ok(),
    ]);
    let resp = client(&script, retry().build().unwrap())
        .get(URL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(2)
    );
    assert_eq!(script.count(), 2);
    assert!(
        script.gaps()[0] >= Duration::from_secs(2),
        "{:?}",
        script.gaps()
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_clamped_to_the_maximum() {
    let script = Scripted::sequence(vec![
        Reply::error(429, "rate_limit_exceeded").header("retry-after", "3600"),
        Reply::ok(),
    ]);
    let mw = retry()
        .max_retry_after(Duration::from_secs(5))
        .deadline(None)
        .build()
        .unwrap();
    let resp = client(&script, mw).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let gap = script.gaps()[0];
    assert!(
        gap >= Duration::from_secs(5) && gap < Duration::from_secs(6),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_returns_the_response_at_once() {
    let script =
        Scripted::always(Reply::error(503, "system_unavailable").header("retry-after", "10"));
    let mw = retry()
        .deadline(Some(Duration::from_secs(5)))
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let resp = client(&script, mw).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(script.count(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    let c = resp
        .extensions()
        .get::<Attempts>()
        .unwrap()
        .classification()
        .unwrap();
    assert_eq!(c.reason(), Some(Reason::Unavailable));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_request() {
    let script = Scripted::always(Reply::error(503, "system_unavailable"));
    let mw = retry()
        .max_attempts(50)
        .deadline(Some(Duration::from_secs(3)))
        .no_budget()
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let resp = client(&script, mw).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 503, "the last response, unchanged");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(script.count() >= 3, "it did retry: {}", script.count());
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_retries_in_a_full_outage() {
    let outage = |budget: bool| async move {
        let script = Scripted::always(Reply::error(503, "system_unavailable"));
        let b = retry().deadline(None);
        let mw = if budget {
            b.build()
        } else {
            b.no_budget().build()
        }
        .unwrap();
        let c = client(&script, mw);
        let calls = (0..200).map(|_| c.get(URL).send());
        let results = join_all(calls).await;
        assert!(results.iter().all(|r| r.as_ref().unwrap().status() == 503));
        script.count()
    };
    let with_budget = outage(true).await;
    let without = outage(false).await;
    assert_eq!(without, 200 * 5, "5 attempts each without a budget");
    // The floor: 1 retry/s over a 10 s window, spent at once.
    assert!(
        with_budget <= 200 + 12,
        "{with_budget} requests reached the server"
    );
    assert!(with_budget > 200, "the floor still allows a few retries");
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_on_503_but_is_with_an_idempotency_key() {
    let script = Scripted::sequence(vec![
        Reply::error(503, "system_unavailable"),
        Reply::status(201),
    ]);
    let c = client(&script, retry().build().unwrap());
    let resp = c.post(URL).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(script.count(), 1);

    let script = Scripted::sequence(vec![
        Reply::error(503, "system_unavailable"),
        Reply::status(201),
    ]);
    let c = client(&script, retry().build().unwrap());
    let resp = c
        .post(URL)
        .header("Idempotency-Key", "k-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(script.count(), 2);
    let sent = script.received();
    assert_eq!(
        sent[1].headers["idempotency-key"], "k-1",
        "passed through untouched"
    );
    assert_eq!(sent[1].body.as_deref(), Some(&b"{}"[..]));
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_when_the_outcome_proves_it_was_not_processed() {
    let cmd = "https://api.example.com/v2/device-requests/dev-1?async-id=a1";
    let script = Scripted::sequence(vec![
        Reply::status(400).body("QUEUE_IS_FULL"),
        Reply::status(202),
    ]);
    let resp = client(&script, retry().build().unwrap())
        .post(cmd)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert!(
        script.gaps()[0] >= Duration::from_secs(1),
        "per-device wait"
    );

    let script = Scripted::sequence(vec![
        Reply::status(400).body("DEVICE_NOT_CONNECTED"),
        Reply::status(202),
    ]);
    let resp = client(&script, retry().build().unwrap())
        .post(cmd)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "an offline device may have queued it: back to the caller"
    );
    assert_eq!(resp.text().await.unwrap(), "DEVICE_NOT_CONNECTED");

    let script = Scripted::sequence(vec![Reply::connect_refused(), Reply::status(201)]);
    let resp = client(&script, retry().build().unwrap())
        .post(URL)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "nothing left on a refused connect");
}

#[tokio::test(start_paused = true)]
async fn a_streaming_body_is_sent_once_and_passed_through() {
    let script = Scripted::always(Reply::error(503, "system_unavailable"));
    let body = reqwest::Body::wrap(http_body_util::Full::new(Bytes::from_static(b"stream")));
    let resp = client(&script, retry().build().unwrap())
        .post(URL)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(script.count(), 1);
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_error_is_returned_unchanged_with_the_attempt_count() {
    let script = Scripted::always(Reply::connect_refused());
    let c = client(&script, retry().max_attempts(3).build().unwrap());
    let req = c.get(URL).build().unwrap();
    let mut ext = Extensions::new();
    let err = c.execute_with_extensions(req, &mut ext).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(ext.get::<Attempts>().map(|a| a.count()), Some(3));
    let c = ext.get::<Attempts>().unwrap().classification().unwrap();
    assert_eq!(
        (c.class(), c.reason()),
        (Class::Retryable, Some(Reason::TransportConnect))
    );
}

#[tokio::test(start_paused = true)]
async fn error_bodies_reach_the_caller_intact_even_past_the_read_limit() {
    let big = "x".repeat(200_000);
    let json = r#"{"object":"error","code":400,"type":"validation_error","fields":[{"name":"n","message":"m"}]}"#;
    for body in [json.to_owned(), big] {
        let script = Scripted::always(Reply::status(400).body(body.clone()));
        let mw = retry().body_limit(1024).build().unwrap();
        let resp = client(&script, mw).get(URL).send().await.unwrap();
        assert_eq!(resp.url().as_str(), URL, "the URL survives the rebuild");
        assert_eq!(resp.text().await.unwrap(), body);
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_without_a_hint_waits_at_least_a_second() {
    let script = Scripted::sequence(vec![Reply::status(429), Reply::ok()]);
    let resp = client(&script, retry().build().unwrap())
        .get(URL)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(script.gaps()[0] >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn non_retryable_outcomes_are_returned_after_one_attempt() {
    for (status, ty) in [
        (400, "validation_error"),
        (401, "invalid_token"),
        (403, "account_limit_exceeded"),
        (404, "not_found"),
    ] {
        let script = Scripted::always(Reply::error(status, ty));
        let resp = client(&script, retry().build().unwrap())
            .get(URL)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
        assert_eq!(script.count(), 1, "{status} {ty}");
    }
}

#[test]
fn bad_settings_name_the_field() {
    let err = RetryMiddleware::builder()
        .max_attempts(0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "retry.max_attempts");
    let err = RetryMiddleware::builder()
        .attempt_timeout(Some(Duration::ZERO))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "retry.attempt_timeout");
}
