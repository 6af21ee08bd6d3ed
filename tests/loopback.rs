//! Socket-level behaviour against the real loopback simulator, in real time:
//! resets, lost responses, truncated bodies, slow answers, refused connections.

use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use resile_policy::Reason;
use resile_reqwest::{Attempts, Resilience, RetryMiddleware, StaticToken};
use resile_sim::{Fault, Lost, Sim, SimHandle, Target, TimedFault};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// resile's full stack for the simulator, with short waits for a quick test.
fn client(sim: &SimHandle, attempt_timeout: Duration) -> ClientWithMiddleware {
    service(sim, attempt_timeout, 5).client(reqwest::Client::new())
}

fn service(sim: &SimHandle, attempt_timeout: Duration, attempts: u32) -> resile_reqwest::Service {
    let retry = RetryMiddleware::builder()
        .max_attempts(attempts)
        .attempt_timeout(Some(attempt_timeout))
        .deadline(Some(Duration::from_secs(10)))
        .backoff(
            resile_policy::ExponentialBackoff::builder()
                .min(ms(20))
                .max(ms(100))
                .build()
                .unwrap(),
        )
        .no_budget();
    Resilience::builder()
        .service("dm", |s| {
            s.hosts([sim.addr().to_string()])
                .allow_loopback_http(true)
                .auth(StaticToken::new(sim.api_key()))
                .retry(retry)
                .seed(5)
        })
        .build()
        .unwrap()
        .service("dm")
        .unwrap()
        .clone()
}

async fn sim(fault: TimedFault) -> SimHandle {
    Sim::builder()
        .seed(11)
        .devices(4)
        .fault(fault)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reset_get_is_retried_and_succeeds() {
    let sim = sim(TimedFault::new(Fault::Reset).probability(0.3)).await;
    let c = client(&sim, Duration::from_secs(2));
    let mut retried = 0;
    for _ in 0..20 {
        let resp = c
            .get(format!("{}/v3/devices?limit=2", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        if resp.extensions().get::<Attempts>().unwrap().count() > 1 {
            retried += 1;
        }
    }
    let stats = sim.stats();
    assert!(
        stats.no_response > 0 && retried > 0,
        "resets {} retried {retried}",
        stats.no_response
    );
    assert_eq!(stats.total(), 20 + stats.no_response);
}

#[tokio::test]
async fn a_post_whose_response_was_lost_is_not_replayed_without_a_key() {
    let lost = Fault::LostResponse { then: Lost::Reset };
    let sim = sim(TimedFault::new(lost).on(Target::NonIdempotent)).await;
    let c = client(&sim, Duration::from_secs(2));
    let device = &sim.device_ids()[0];
    let url = format!("{}/v2/device-requests/{device}?async-id=a1", sim.base_url());
    let err = c
        .post(&url)
        .body(r#"{"method":"GET","uri":"/3/0/1"}"#)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err}"
    );
    let stats = sim.stats();
    assert_eq!(stats.commands_accepted, 1, "executed once");
    assert_eq!(stats.duplicate_executions(), 0);
    assert_eq!(stats.total(), 1, "not replayed: the outcome is unknown");

    // With an Idempotency-Key the caller vouches for replays: resile retries.
    let url = format!("{}/v2/device-requests/{device}?async-id=a2", sim.base_url());
    let _ = c
        .post(&url)
        .header("Idempotency-Key", "k-2")
        .body(r#"{"method":"GET","uri":"/3/0/1"}"#)
        .send()
        .await;
    assert_eq!(sim.stats().total(), 1 + 5, "replayed up to max_attempts");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_retry_succeeds() {
    let slow = TimedFault::new(Fault::Slow {
        delay: Duration::from_secs(2),
    })
    .between(Duration::ZERO, ms(300));
    let sim = sim(slow).await;
    let c = client(&sim, ms(200));
    let resp = c
        .get(format!("{}/v3/devices?limit=2", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.extensions().get::<Attempts>().unwrap().count() >= 2);
}

#[tokio::test]
async fn a_client_built_with_the_attempt_timeout_times_attempts_out_itself() {
    // `build_client` leaves the per-attempt timeout to reqwest's client (no
    // timeout of the request's own): a hung attempt still ends at 200 ms, and the
    // caller gets reqwest's own timeout error.
    let sim = sim(TimedFault::new(Fault::Slow {
        delay: Duration::from_secs(5),
    }))
    .await;
    let c = service(&sim, ms(200), 2)
        .build_client(reqwest::Client::builder())
        .unwrap();
    let clock = resile_reqwest::TokioClock; // real time: these tests are not paused
    let started = resile_policy::Clock::now(&clock);
    let err = c
        .get(format!("{}/v3/devices?limit=2", sim.base_url()))
        .send()
        .await
        .unwrap_err();
    let took = resile_policy::Clock::now(&clock) - started;
    assert!(err.is_timeout(), "{err:?}");
    assert!(took >= ms(400) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(sim.stats().total(), 2, "both attempts were sent");
}

#[tokio::test]
async fn a_truncated_success_reaches_the_caller_as_a_body_error() {
    let sim = sim(TimedFault::new(Fault::Truncated).on(Target::Method(http::Method::GET))).await;
    let c = client(&sim, Duration::from_secs(2));
    let resp = c
        .get(format!("{}/v3/devices?limit=2", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "success bodies are not read by resile");
    assert!(
        resp.bytes().await.is_err(),
        "the caller sees the broken body"
    );
}

#[tokio::test]
async fn a_truncated_error_body_is_classified_by_its_status() {
    let sim = Sim::builder()
        .seed(3)
        .fault(TimedFault::new(Fault::Outage { status: 503 }))
        .fault(TimedFault::new(Fault::Truncated))
        .start()
        .await
        .unwrap();
    let c = client(&sim, Duration::from_secs(2));
    let resp = c
        .get(format!("{}/v3/devices", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let class = resp
        .extensions()
        .get::<Attempts>()
        .unwrap()
        .classification()
        .unwrap();
    assert_eq!(class.reason(), Some(Reason::Unavailable));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_returned_unchanged() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = sim(TimedFault::new(Fault::Reset).probability(0.0)).await;
    let c = client(&sim, Duration::from_secs(1));
    let err = c
        .get(format!("http://127.0.0.1:{port}/v3/devices"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
}
