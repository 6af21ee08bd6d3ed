//! The per-service builder and its TOML form: layer order, shared state, errors
//! that name the key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest_middleware::ClientWithMiddleware;
use resile_policy::breaker::State;
use resile_reqwest::{
    Attempts, Error, FnSource, Resilience, ResilienceConfig, RetryMiddleware, Service, StaticToken,
    Token,
};
use resile_test_support::{FutureSize, Reply, Scripted};

const HOST: &str = "api.example.com";

/// A client with `service`'s stack in front of the scripted terminal.
fn client_for(service: &Service, script: &Scripted) -> ClientWithMiddleware {
    service
        .attach(reqwest_middleware::ClientBuilder::new(
            reqwest::Client::new(),
        ))
        .with(script.clone())
        .build()
}
const URL: &str = "https://api.example.com/v3/devices";

#[tokio::test(start_paused = true)]
async fn every_attempt_carries_a_token_and_a_storm_opens_the_breaker() {
    let script = Scripted::always(Reply::error(500, "internal_server_error"));
    let resilience = Resilience::builder()
        .service("dm", |s| {
            s.hosts([HOST])
                .auth(StaticToken::new("ak_stack_test_key"))
                .retry(RetryMiddleware::builder().max_attempts(3))
                .seed(1)
        })
        .build()
        .unwrap();
    let service = resilience.service("dm").unwrap();
    assert_eq!(service.middlewares().len(), 5);
    let client = client_for(service, &script);
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        outcomes.push(client.get(URL).send().await);
    }
    let sent = script.count();
    assert!(
        script
            .received()
            .iter()
            .all(|r| r.headers["authorization"] == "Bearer ak_stack_test_key")
    );
    // The breaker opened after 10 failed attempts; later requests never reached the host.
    assert_eq!(service.breaker().unwrap().state(HOST), Some(State::Open));
    assert!(sent <= 12, "{sent} attempts reached the host");
    let last = outcomes.pop().unwrap().unwrap_err();
    assert!(Error::find(&last).unwrap().is_circuit_open(), "{last}");
    // The first request got the server's answer back, unchanged, after 3 attempts.
    let first = outcomes.remove(0).unwrap();
    assert_eq!(first.status(), 500);
    assert_eq!(
        first.extensions().get::<Attempts>().map(|a| a.count()),
        Some(3)
    );
}

#[tokio::test(start_paused = true)]
async fn clients_of_one_service_share_the_token_and_its_refreshes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = FnSource::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Token::new(format!("rt_token_{n}")).expires_in(Duration::from_secs(3600))) }
    });
    let resilience = Resilience::builder()
        .service("dm", |s| s.hosts([HOST]).auth(source))
        .build()
        .unwrap();
    let script = Scripted::always(Reply::ok());
    let service = resilience.service("dm").unwrap();
    let a = client_for(service, &script);
    let b = client_for(service, &script);
    let sends = (0..20).map(|i| {
        if i % 2 == 0 {
            a.get(URL).send()
        } else {
            b.get(URL).send()
        }
    });
    assert!(
        join_all(sends)
            .await
            .into_iter()
            .all(|r| r.unwrap().status() == 200)
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one source call for both clients"
    );
    assert_eq!(service.auth().unwrap().refreshes(), 1);
}

#[test]
fn a_token_source_without_hosts_is_refused() {
    let err = Resilience::builder()
        .service("dm", |s| s.auth(StaticToken::new("ak_x")))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "service.dm.auth.hosts");
}

const TOML: &str = r#"
[service.device-management]
hosts = ["api.example.com"]
seed = 3

[service.device-management.retry]
max_attempts = 2
deadline = "20s"
backoff = { min = "100ms", max = "1s", jitter = "none" }
budget = { enabled = false }

[service.device-management.pacing]
per_second = 2
burst = 1

[service.billing]
hosts = ["billing.example.com"]
breaker = { enabled = false }
device_gate = { enabled = false }
retry = { max_attempts = 4, deadline = "none" }
"#;

#[tokio::test(start_paused = true)]
async fn two_services_from_one_toml_file_behave_as_configured() {
    let resilience = Resilience::from_toml(TOML).unwrap().build().unwrap();
    assert_eq!(
        resilience.names().collect::<Vec<_>>(),
        ["billing", "device-management"]
    );
    let dm = resilience.service("device-management").unwrap();
    let billing = resilience.service("billing").unwrap();
    assert!(billing.breaker().is_none() && billing.device_gate().is_none());
    assert!(dm.breaker().is_some());

    // device-management: 2 attempts, paced at 2/s.
    let script = Scripted::always(Reply::error(503, "system_unavailable"));
    let client = client_for(dm, &script);
    let resp = client.get(URL).send().await.unwrap();
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(2)
    );
    let gap = script.gaps()[0];
    assert!(gap >= Duration::from_millis(500), "paced at 2/s: {gap:?}");

    // billing: 4 attempts, no pacing quota.
    let script = Scripted::always(Reply::error(503, "system_unavailable"));
    let client = client_for(billing, &script);
    let resp = client
        .get("https://billing.example.com/v3/billing-report")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(4)
    );
}

#[test]
fn toml_errors_name_the_key() {
    let cases = [
        (
            "[service.dm.retry]\nmax_atempts = 3\n",
            "service.dm.retry.max_atempts",
        ),
        (
            "[service.dm.retry]\nmax_attempts = \"x\"\n",
            "service.dm.retry.max_attempts",
        ),
        (
            "[service.dm.retry]\ndeadline = \"10 parsecs\"\n",
            "service.dm.retry.deadline",
        ),
        ("[service.dm]\nhostz = []\n", "service.dm.hostz"),
        (
            "[service.dm.pacing]\nper_second = 0\n",
            "service.dm.pacing.per_second",
        ),
        (
            "[service.dm.retry.backoff]\njitter = \"wild\"\n",
            "service.dm.retry.backoff.jitter",
        ),
    ];
    for (text, field) in cases {
        let err = ResilienceConfig::from_toml(text).unwrap_err();
        assert_eq!(err.field(), field, "{text}: {err}");
    }
    // Values that parse but cannot work are named too, on build.
    let validation = [
        (
            "[service.dm.breaker]\nfailure_ratio = 1.5\n",
            "service.dm.breaker.failure_ratio",
        ),
        (
            "[service.dm.retry]\nbudget = { ratio = -1.0 }\n",
            "service.dm.retry.budget.ratio",
        ),
        (
            "[service.dm.retry]\nbackoff = { min = \"2s\", max = \"1s\" }\n",
            "service.dm.retry.backoff.max",
        ),
        ("[service.dm.auth]\nlifetime = \"1h\"\n", "service.dm.auth"),
        (
            "[service.dm.retry]\nmax_attempts = 0\n",
            "service.dm.retry.max_attempts",
        ),
    ];
    for (text, field) in validation {
        let err = Resilience::from_toml(text)
            .and_then(|b| b.build())
            .unwrap_err();
        assert_eq!(err.field(), field, "{text}: {err}");
    }
    assert!(
        ResilienceConfig::from_toml("not toml [")
            .unwrap_err()
            .to_string()
            .contains("toml")
    );
}

#[test]
fn the_documented_example_parses() {
    let doc = "[service.device-management]\nhosts = [\"api.us-east-1.mbedcloud.com\"]\n\n[service.device-management.auth]\nenv = \"DM_API_KEY\"\n";
    let b = Resilience::from_toml(doc).unwrap().build().unwrap();
    assert!(b.service("device-management").unwrap().auth().is_some());
}

#[tokio::test(start_paused = true)]
async fn under_retry_a_401_is_replayed_once_with_a_fresh_token_without_a_second_copy() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = FnSource::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Token::new(format!("rt_gen_{n}"))) }
    });
    let resilience = Resilience::builder()
        .service("dm", |s| s.hosts([HOST]).auth(source))
        .build()
        .unwrap();
    let service = resilience.service("dm").unwrap();
    // 401 for the first token, 200 for any later one.
    let script = Scripted::from_fn(|req, _| {
        if req.headers()["authorization"] == "Bearer rt_gen_0" {
            Reply::error(401, "invalid_token")
        } else {
            Reply::ok()
        }
    });
    let client = client_for(service, &script);
    let resp = client.post(URL).body("{}").send().await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "replayed with the fresh token (safe for a POST: a 401 was not processed)"
    );
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(2)
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "initial token + one refresh"
    );
    let sent = script.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].headers["authorization"], "Bearer rt_gen_1");
    assert_eq!(sent[1].body.as_deref(), Some(&b"{}"[..]));

    // Every token refused: the second 401 goes back to the caller; no loop.
    let script = Scripted::always(Reply::error(401, "invalid_token"));
    let client = client_for(service, &script);
    let resp = client.get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(script.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn under_retry_many_concurrent_401s_share_one_refresh() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = FnSource::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(Token::new(format!("rt_gen_{n}")))
        }
    });
    let resilience = Resilience::builder()
        .service("dm", |s| s.hosts([HOST]).auth(source))
        .build()
        .unwrap();
    let service = resilience.service("dm").unwrap();
    let script = Scripted::from_fn(|req, _| {
        if req.headers()["authorization"] == "Bearer rt_gen_0" {
            Reply::error(401, "invalid_token").after(Duration::from_millis(10))
        } else {
            Reply::ok()
        }
    });
    let client = client_for(service, &script);
    let sends = (0..100).map(|_| client.get(URL).send());
    let results = join_all(sends).await;
    assert!(results.into_iter().all(|r| r.unwrap().status() == 200));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the initial token and exactly one refresh"
    );
    assert_eq!(script.count(), 200, "each request: one 401, one replay");
}

/// The default classifier, counting its calls.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl resile_policy::Classify for Counting {
    fn classify<'a>(
        &self,
        input: &resile_policy::classify::Input<'a>,
    ) -> resile_policy::Outcome<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        resile_policy::DefaultClassifier::new().classify(input)
    }
}

#[tokio::test(start_paused = true)]
async fn the_stack_classifies_each_attempt_once_for_all_its_layers() {
    let counting = Arc::new(Counting::default());
    let resilience = Resilience::builder()
        .service("dm", |s| {
            s.hosts([HOST])
                .auth(StaticToken::new("ak_stack_test_key"))
                .classifier(counting.clone())
                .seed(3)
        })
        .build()
        .unwrap();
    let service = resilience.service("dm").unwrap();
    // Two 503s, then a success: three attempts through five layers.
    let script = Scripted::from_fn(|_, n| {
        if n < 2 {
            Reply::error(503, "system_unavailable")
        } else {
            Reply::ok()
        }
    });
    let resp = client_for(service, &script).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.extensions().get::<Attempts>().map(|a| a.count()),
        Some(3)
    );
    assert_eq!(
        counting.0.load(Ordering::SeqCst),
        3,
        "one verdict per attempt"
    );

    // The same layers added one by one: each judges every attempt it sees.
    counting.0.store(0, Ordering::SeqCst);
    let script = Scripted::always(Reply::ok());
    let client = service
        .middlewares()
        .into_iter()
        .fold(
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new()),
            reqwest_middleware::ClientBuilder::with_arc,
        )
        .with(script.clone())
        .build();
    assert_eq!(client.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(counting.0.load(Ordering::SeqCst), 5);
}

/// glibc serves allocations of up to 1032 bytes from a per-thread cache; a bigger
/// request future would take the slow path of `malloc` and `free` every time.
#[tokio::test(start_paused = true)]
async fn the_request_future_fits_the_allocators_fast_path() {
    let resilience = Resilience::builder()
        .service("dm", |s| {
            s.hosts([HOST]).auth(StaticToken::new("ak_stack_test_key"))
        })
        .build()
        .unwrap();
    let service = resilience.service("dm").unwrap();
    let size = FutureSize::default();
    let client = service
        .attach(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(size.clone()))
        .with(Scripted::always(Reply::ok()))
        .build();
    assert_eq!(client.get(URL).send().await.unwrap().status(), 200);
    let bytes = size.bytes();
    assert!(
        (1..=1024).contains(&bytes),
        "the request future takes {bytes} bytes"
    );
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_waited_out_a_hold_keeps_to_the_deadline() {
    // A 429 with a 10 s hint holds the host; the next request (15 s deadline,
    // 10 s per attempt) waits the hold out and is then sent with the 5 s left,
    // not a full attempt's 10 s that would run past its deadline.
    let script = Scripted::sequence(vec![
        Reply::error(429, "rate_limit_exceeded").header("retry-after", "10"),
        Reply::ok(),
    ]);
    let resilience = Resilience::builder()
        .service("dm", |s| {
            s.hosts([HOST]).retry(
                RetryMiddleware::builder()
                    .attempt_timeout(Some(Duration::from_secs(10)))
                    .deadline(Some(Duration::from_secs(15))),
            )
        })
        .build()
        .unwrap();
    let client = client_for(resilience.service("dm").unwrap(), &script);
    let t0 = tokio::time::Instant::now();
    let soon = resile_reqwest::Deadline((t0 + Duration::from_secs(1)).into_std());
    let first = client.get(URL).with_extension(soon).send().await.unwrap();
    assert_eq!(
        first.status(),
        429,
        "the hint is past its deadline: returned"
    );
    let second = client.get(URL).send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(t0.elapsed(), Duration::from_secs(10), "waited the hold out");
    let sent = script.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].timeout,
        Some(Duration::from_secs(1)),
        "its deadline"
    );
    assert_eq!(
        sent[1].timeout,
        Some(Duration::from_secs(5)),
        "what was left"
    );
}
