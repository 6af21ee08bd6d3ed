//! The auth middleware against the scripted terminal, in paused time (token sources
//! that touch the file system run in real time).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use reqwest::Request;
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use resile_policy::TokenPolicy;
use resile_reqwest::{
    AuthBuilder, AuthMiddleware, Deadline, EnvToken, Error, FileToken, FnSource, RefreshEvent,
    RefreshFailure, RefreshTrigger, RetryMiddleware, StaticToken, Token, TokenSource,
};
use resile_test_support::{Reply, Scripted};
use tokio::time::Instant;

const URL: &str = "https://api.example.com/v3/devices";
const HOST: &str = "api.example.com";
const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// A provider issuing `tok-1`, `tok-2`, ...: counts its calls, remembers the newest.
#[derive(Debug, Clone, Default)]
struct Issuer {
    calls: Arc<AtomicUsize>,
    newest: Arc<Mutex<String>>,
}

type Plan = dyn Fn(usize) -> Result<Option<Duration>, &'static str> + Send + Sync;

impl Issuer {
    /// Call `n` (from 0) takes `delay`, then issues a token with `plan(n)`'s lifetime
    /// or fails with its message.
    fn source(
        &self,
        delay: Duration,
        plan: impl Fn(usize) -> Result<Option<Duration>, &'static str> + Send + Sync + 'static,
    ) -> impl TokenSource {
        let me = self.clone();
        let plan: Arc<Plan> = Arc::new(plan);
        FnSource::new(move || {
            let (me, plan) = (me.clone(), Arc::clone(&plan));
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let n = me.calls.fetch_add(1, Ordering::SeqCst);
                let life = plan(n)?;
                let token = format!("tok-{}", n + 1);
                token.clone_into(&mut me.newest.lock().unwrap());
                let token = Token::new(token);
                Ok(life.map_or(token.clone(), |l| token.expires_in(l)))
            }
        })
    }

    /// Never-expiring tokens, at once.
    fn keys(&self) -> impl TokenSource {
        self.source(Duration::ZERO, |_| Ok(None))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn newest(&self) -> String {
        self.newest.lock().unwrap().clone()
    }
}

fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get("authorization")?;
    Some(value.to_str().ok()?.to_owned())
}

fn sent_tokens(script: &Scripted) -> Vec<Option<String>> {
    script
        .received()
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect()
}

fn auth(source: impl TokenSource) -> AuthBuilder {
    let policy = TokenPolicy::builder()
        .refresh_jitter(0.0)
        .retry_jitter(0.0)
        .build()
        .unwrap();
    AuthMiddleware::builder(source)
        .hosts([HOST])
        .policy(policy)
        .seed(7)
}

fn client(script: &Scripted, auth: &Arc<AuthMiddleware>) -> ClientWithMiddleware {
    script.client(vec![Arc::clone(auth) as Arc<dyn Middleware>])
}

fn recorder(b: AuthBuilder) -> (AuthBuilder, Arc<Mutex<Vec<RefreshEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    (
        b.on_refresh(move |e| sink.lock().unwrap().push(e.clone())),
        events,
    )
}

fn ours(err: &reqwest_middleware::Error) -> &Error {
    Error::find(err).unwrap_or_else(|| panic!("not a resile error: {err}"))
}

/// Accepts only the newest token, and never `tok-1`.
fn newest_but_first(issuer: &Issuer) -> Scripted {
    let issuer = issuer.clone();
    Scripted::from_fn(move |req, _| match bearer(req) {
        Some(b) if b == format!("Bearer {}", issuer.newest()) && b != "Bearer tok-1" => Reply::ok(),
        _ => Reply::error(401, "invalid_token"),
    })
}

#[tokio::test(start_paused = true)]
async fn the_token_goes_only_to_configured_hosts_and_never_over_http() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let mw = Arc::new(auth(issuer.keys()).build().unwrap());
    let c = client(&script, &mw);

    c.get(URL)
        .header("authorization", "Basic caller")
        .send()
        .await
        .unwrap();
    c.get("https://other.example.com/v3/devices")
        .header("authorization", "Basic caller")
        .send()
        .await
        .unwrap();
    for elsewhere in [
        "https://other.example.com/",
        "https://api.example.com.evil.org/",
        "https://api.example.com:8443/",
    ] {
        c.get(elsewhere).send().await.unwrap();
    }
    assert_eq!(
        sent_tokens(&script),
        [
            Some("Bearer tok-1".to_owned()),
            Some("Basic caller".to_owned()),
            None,
            None,
            None
        ]
    );
    assert!(script.received()[0].headers["authorization"].is_sensitive());

    let err = c
        .get("http://api.example.com/v3/devices")
        .send()
        .await
        .unwrap_err();
    let e = ours(&err);
    assert!(e.is_insecure_transport(), "{e}");
    assert_eq!(e.host(), Some(HOST));
    assert_eq!(script.count(), 5, "nothing sent over plain http");
    assert_eq!(issuer.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn loopback_gets_plain_http_only_when_allowed() {
    let local = "http://127.0.0.1:8080/v3/devices";
    for allow in [false, true] {
        let script = Scripted::always(Reply::ok());
        let mw = AuthMiddleware::builder(StaticToken::new("ak_local"))
            .hosts(["127.0.0.1:8080"])
            .allow_loopback_http(allow)
            .build()
            .unwrap();
        let c = client(&script, &Arc::new(mw));
        let result = c.get(local).send().await;
        if allow {
            assert_eq!(result.unwrap().status(), 200);
            assert_eq!(sent_tokens(&script), [Some("Bearer ak_local".to_owned())]);
        } else {
            assert!(ours(&result.unwrap_err()).is_insecure_transport());
            assert_eq!(script.count(), 0);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_known_expiry_is_refreshed_before_sending() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let (b, events) = recorder(auth(issuer.source(Duration::ZERO, |_| Ok(Some(60 * S)))));
    let mw = Arc::new(b.build().unwrap());
    let c = client(&script, &mw);

    c.get(URL).send().await.unwrap();
    tokio::time::advance(29 * S).await;
    c.get(URL).send().await.unwrap();
    assert_eq!(issuer.calls(), 1, "half its 60 s life not yet over");
    // A 60 s token is refreshed after half its life (shorter than twice the 60 s lead).
    tokio::time::advance(2 * S).await;
    c.get(URL).send().await.unwrap();
    assert_eq!(issuer.calls(), 2);
    assert_eq!(
        sent_tokens(&script),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"].map(|t| Some(t.to_owned()))
    );
    let triggers: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            RefreshEvent::Refreshed {
                trigger,
                generation,
                expires_at,
                ..
            } => {
                assert!(expires_at.is_some());
                (*trigger, *generation)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        triggers,
        [(RefreshTrigger::Initial, 1), (RefreshTrigger::Proactive, 2)]
    );
    assert_eq!(mw.refreshes(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_refresh_ahead_keeps_the_old_token_until_it_expires() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let plan = |n| {
        if n == 0 {
            Ok(Some(60 * S))
        } else {
            Err("signer down")
        }
    };
    let (b, events) = recorder(auth(issuer.source(Duration::ZERO, plan)));
    let c = client(&script, &Arc::new(b.build().unwrap()));

    c.get(URL).send().await.unwrap();
    tokio::time::advance(31 * S).await;
    let resp = c.get(URL).send().await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the refresh-ahead failure is not the request's"
    );
    assert_eq!(issuer.calls(), 2);
    assert_eq!(sent_tokens(&script)[1].as_deref(), Some("Bearer tok-1"));
    assert!(matches!(
        events.lock().unwrap()[1],
        RefreshEvent::Failed {
            attempt: 1,
            will_retry: true,
            trigger: RefreshTrigger::Proactive,
            ..
        }
    ));

    // Once it has expired, requests need a new one: two more attempts, then the error.
    tokio::time::advance(30 * S).await;
    let err = c.get(URL).send().await.unwrap_err();
    assert!(ours(&err).is_refresh_failed(), "{err}");
    assert_eq!(issuer.calls(), 4);
    assert_eq!(script.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hundred_concurrent_401s_share_one_refresh_and_all_succeed() {
    let issuer = Issuer::default();
    let revoked = Arc::new(Mutex::new(Vec::<String>::new()));
    let script = {
        let (issuer, revoked) = (issuer.clone(), Arc::clone(&revoked));
        Scripted::from_fn(move |req, _| {
            let token = bearer(req).unwrap_or_default();
            let newest = format!("Bearer {}", issuer.newest());
            if token == newest && !revoked.lock().unwrap().contains(&token) {
                Reply::ok()
            } else {
                // Late enough that all hundred are in flight with the old token.
                Reply::error(401, "invalid_token").after(10 * MS)
            }
        })
    };
    let (b, events) = recorder(auth(issuer.source(50 * MS, |_| Ok(None))));
    let mw = Arc::new(b.build().unwrap());
    let c = client(&script, &mw);

    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    revoked.lock().unwrap().push("Bearer tok-1".to_owned());

    let all = join_all((0..100).map(|_| c.get(URL).send()));
    // A missed wake-up would leave requests waiting for ever: fail instead.
    let all = tokio::time::timeout(60 * S, all)
        .await
        .expect("no request hangs");
    for resp in all {
        assert_eq!(resp.unwrap().status(), 200);
    }
    assert_eq!(
        issuer.calls(),
        2,
        "one initial call, one for all hundred 401s"
    );
    assert_eq!(mw.refreshes(), 2);
    assert_eq!(script.count(), 1 + 100 + 100);
    let tokens = sent_tokens(&script);
    assert!(
        tokens[1..=100]
            .iter()
            .all(|t| t.as_deref() == Some("Bearer tok-1"))
    );
    assert!(
        tokens[101..]
            .iter()
            .all(|t| t.as_deref() == Some("Bearer tok-2"))
    );
    let events = events.lock().unwrap();
    assert!(matches!(
        events[1],
        RefreshEvent::Refreshed {
            generation: 2,
            trigger: RefreshTrigger::Reauth,
            unchanged: false,
            ..
        }
    ));
    assert_eq!(events.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_late_401_for_an_older_token_replays_without_a_refresh() {
    let issuer = Issuer::default();
    // The first request's 401 arrives only after the second has refreshed.
    let script = Scripted::from_fn(|req, n| {
        if n == 0 {
            Reply::error(401, "invalid_token").after(100 * MS)
        } else if bearer(req).as_deref() == Some("Bearer tok-2") {
            Reply::ok()
        } else {
            Reply::error(401, "invalid_token")
        }
    });
    let mw = Arc::new(auth(issuer.keys()).build().unwrap());
    let c = client(&script, &mw);
    let (late, early) = tokio::join!(c.get(URL).send(), c.get(URL).send());
    assert_eq!(early.unwrap().status(), 200);
    assert_eq!(late.unwrap().status(), 200);
    assert_eq!(issuer.calls(), 2, "the late 401 reused tok-2");
    assert_eq!(
        sent_tokens(&script),
        [
            "Bearer tok-1",
            "Bearer tok-1",
            "Bearer tok-2",
            "Bearer tok-2"
        ]
        .map(|t| Some(t.to_owned()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_401_is_returned_without_looping() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::error(401, "invalid_token"));
    let mw = Arc::new(auth(issuer.keys()).build().unwrap());
    let resp = client(&script, &mw).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.extensions().get::<RefreshFailure>().is_none());
    assert_eq!(script.count(), 2);
    assert_eq!(issuer.calls(), 2);
    assert_eq!(
        sent_tokens(&script),
        ["Bearer tok-1", "Bearer tok-2"].map(|t| Some(t.to_owned()))
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("invalid_token"), "{body}");
}

#[tokio::test(start_paused = true)]
async fn other_refusals_never_refresh() {
    for reply in [
        Reply::error(403, "access_denied"),
        Reply::error(401, "auth_mismatch"),
    ] {
        let issuer = Issuer::default();
        let script = Scripted::always(reply);
        let mw = Arc::new(auth(issuer.keys()).build().unwrap());
        let resp = client(&script, &mw).get(URL).send().await.unwrap();
        assert!(resp.status().is_client_error());
        assert_eq!((script.count(), issuer.calls()), (1, 1));
    }
}

#[tokio::test(start_paused = true)]
async fn no_token_before_sending_is_a_typed_error_after_the_backoff() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let (b, events) = recorder(auth(
        issuer.source(Duration::ZERO, |_| Err("signer unavailable")),
    ));
    let c = client(&script, &Arc::new(b.build().unwrap()));
    let t0 = Instant::now();
    let err = c.get(URL).send().await.unwrap_err();
    let waited = t0.elapsed();
    let e = ours(&err);
    assert!(e.is_refresh_failed());
    assert_eq!(e.host(), Some(HOST));
    let text = e.to_string();
    assert!(
        text.contains("after 3 attempt(s)") && text.contains("signer unavailable"),
        "{text}"
    );
    assert_eq!(issuer.calls(), 3);
    assert_eq!(script.count(), 0);
    // 200 ms, then 400 ms of backoff between the three attempts.
    assert!(waited >= 600 * MS && waited < 610 * MS, "{waited:?}");
    let retries: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            RefreshEvent::Failed {
                attempt,
                will_retry,
                error,
                trigger,
                ..
            } => {
                assert_eq!(
                    (error.as_str(), *trigger),
                    ("signer unavailable", RefreshTrigger::Initial)
                );
                (*attempt, *will_retry)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(retries, [(1, true), (2, true), (3, false)]);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_cuts_the_refresh_backoff_short() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let c = client(
        &script,
        &Arc::new(
            auth(issuer.source(Duration::ZERO, |_| Err("down")))
                .build()
                .unwrap(),
        ),
    );
    let t0 = Instant::now();
    let deadline = Deadline((t0 + 300 * MS).into_std());
    let err = c
        .get(URL)
        .with_extension(deadline)
        .send()
        .await
        .unwrap_err();
    assert!(ours(&err).is_deadline_exceeded(), "{err}");
    // Attempt at 0, attempt at 200 ms; the next (at 600 ms) is past the deadline.
    assert_eq!(issuer.calls(), 2);
    assert!(t0.elapsed() >= 200 * MS && t0.elapsed() < 201 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_failing_refresh_after_a_401_returns_the_401_with_the_reason() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::error(401, "invalid_token"));
    let plan = |n| {
        if n == 0 {
            Ok(None)
        } else {
            Err("login flow down")
        }
    };
    let mw = Arc::new(auth(issuer.source(Duration::ZERO, plan)).build().unwrap());
    let t0 = Instant::now();
    let resp = client(&script, &mw).get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let failure = resp.extensions().get::<RefreshFailure>().unwrap().clone();
    assert_eq!(failure.attempts(), 3);
    assert_eq!(failure.to_string(), "login flow down");
    assert_eq!(script.count(), 1, "no replay without a new token");
    assert_eq!(issuer.calls(), 4);
    assert!(t0.elapsed() >= 600 * MS && t0.elapsed() < 610 * MS);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("invalid_token"),
        "the 401 is returned unchanged: {body}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_body_that_cannot_be_cloned_gets_its_401_back() {
    let issuer = Issuer::default();
    let script = newest_but_first(&issuer);
    let mw = Arc::new(auth(issuer.keys()).build().unwrap());
    let c = client(&script, &mw);
    let body = reqwest::Body::wrap(http_body_util::Full::new(Bytes::from_static(b"{}")));
    let resp = c.post(URL).body(body).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!((script.count(), issuer.calls()), (1, 1));
    // The refused token is not used again: the next request refreshes first.
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(sent_tokens(&script)[1].as_deref(), Some("Bearer tok-2"));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_refresh_hands_over_at_once() {
    let issuer = Issuer::default();
    let script = Scripted::always(Reply::ok());
    let mw = Arc::new(auth(issuer.source(10 * S, |_| Ok(None))).build().unwrap());
    let c = client(&script, &mw);
    let t0 = Instant::now();
    let (cancelled, waiter) = tokio::join!(
        tokio::time::timeout(S, c.get(URL).send()),
        c.get(URL).send()
    );
    assert!(cancelled.is_err());
    assert_eq!(waiter.unwrap().status(), 200);
    // The waiter took over when the first was dropped at 1 s, not after `refresh_timeout`.
    assert!(t0.elapsed() >= 11 * S && t0.elapsed() < 11 * S + 10 * MS);
    assert_eq!(mw.refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn inside_retry_every_attempt_carries_the_token() {
    let issuer = Issuer::default();
    let script = Scripted::sequence(vec![
        Reply::error(503, "system_unavailable").header("retry-after", "1"),
        Reply::error(401, "invalid_token"),
        Reply::ok(),
    ]);
    let retry = Arc::new(RetryMiddleware::builder().seed(1).build().unwrap());
    let mw = Arc::new(auth(issuer.keys()).build().unwrap());
    let c = script.client(vec![
        retry as Arc<dyn Middleware>,
        mw as Arc<dyn Middleware>,
    ]);
    let resp = c.get(URL).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        sent_tokens(&script),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"].map(|t| Some(t.to_owned()))
    );
}

#[tokio::test(start_paused = true)]
async fn debug_output_never_shows_the_token() {
    const KEY: &str = "ak_Zq8Wv3Nx7Ty2Lp5Rk9Hm4Bd6Fs1Gj0Cx";
    let script = Scripted::always(Reply::ok());
    let builder = AuthMiddleware::builder(StaticToken::new(KEY)).hosts([HOST]);
    let builder_debug = format!("{builder:?}");
    let mw = Arc::new(builder.build().unwrap());
    client(&script, &mw).get(URL).send().await.unwrap();
    assert_eq!(
        sent_tokens(&script)[0].as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let outputs = [
        builder_debug,
        format!("{mw:?}"),
        format!("{mw:#?}"),
        format!("{:?}", StaticToken::new(KEY)),
        format!("{:?}", Token::new(KEY)),
        format!("{:?}", Token::new(KEY).expires_in(S)),
    ];
    for out in &outputs {
        assert!(!out.contains("Zq8W") && !out.contains("Gj0C"), "{out}");
    }
    assert!(outputs[1].contains("ak_…"), "{}", outputs[1]);
}

#[tokio::test]
async fn env_token_reads_the_variable_and_names_a_missing_one() {
    let missing = format!("RESILE_TEST_UNSET_{}", std::process::id());
    let err = EnvToken::new(&missing).token().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("environment variable `{missing}` is not set")
    );
    // Through the middleware: a typed error naming the variable, nothing sent.
    let script = Scripted::always(Reply::ok());
    let policy = TokenPolicy::builder()
        .max_refresh_attempts(1)
        .build()
        .unwrap();
    let mw = AuthMiddleware::builder(EnvToken::new(&missing))
        .hosts([HOST])
        .policy(policy)
        .build()
        .unwrap();
    let err = client(&script, &Arc::new(mw))
        .get(URL)
        .send()
        .await
        .unwrap_err();
    assert!(ours(&err).is_refresh_failed());
    assert!(ours(&err).to_string().contains(&missing), "{err}");
    assert_eq!(script.count(), 0);

    // Any variable the test process has, with a value that makes a token.
    let (name, value) = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .find(|(k, v)| !k.is_empty() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
        .expect("some environment variable is set");
    let token = EnvToken::new(&name).token().await.unwrap();
    assert_eq!(token.secret().expose(), value);
}

/// A file under the temp dir, unique to this process and test, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        let name = format!("resile-auth-{}-{tag}.token", std::process::id());
        Self(std::env::temp_dir().join(name))
    }
    fn write(&self, contents: impl AsRef<[u8]>) {
        std::fs::write(&self.0, contents).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn file_token_reads_the_file_afresh_on_every_refresh() {
    let file = TempFile::new("fresh");
    let source = FileToken::new(&file.0).lifetime(60 * S);
    file.write("ak_first\n");
    let token = source.token().await.unwrap();
    assert_eq!(token.secret().expose(), "ak_first");
    assert_eq!(token.lifetime(), Some(60 * S));
    file.write("  ak_second \r\n");
    assert_eq!(source.token().await.unwrap().secret().expose(), "ak_second");

    let path = file.0.display().to_string();
    file.write(" \n");
    assert_eq!(
        source.token().await.unwrap_err().to_string(),
        format!("token file `{path}` is empty")
    );
    file.write([0xff, 0xfe, b'a']);
    assert!(
        source
            .token()
            .await
            .unwrap_err()
            .to_string()
            .contains("not valid UTF-8")
    );
    file.write("a".repeat(64 * 1024));
    assert!(source.token().await.is_ok(), "64 KiB is still a token file");
    file.write("a".repeat(64 * 1024 + 1));
    assert_eq!(
        source.token().await.unwrap_err().to_string(),
        format!("token file `{path}` is larger than 65536 bytes")
    );
    std::fs::remove_file(&file.0).unwrap();
    let err = source.token().await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("cannot read token file `{path}`: ")),
        "{err}"
    );
}

#[tokio::test]
async fn a_401_makes_the_middleware_reread_a_rotated_file() {
    let file = TempFile::new("rotated");
    file.write("ak_old\n");
    let script = Scripted::from_fn(|req, _| match bearer(req).as_deref() {
        Some("Bearer ak_new") => Reply::ok(),
        _ => Reply::error(401, "invalid_apikey"),
    });
    let mw = Arc::new(auth(FileToken::new(&file.0)).build().unwrap());
    let c = client(&script, &mw);
    assert_eq!(c.get(URL).send().await.unwrap().status(), 401);
    file.write("ak_new\n");
    assert_eq!(c.get(URL).send().await.unwrap().status(), 200);
    assert_eq!(
        sent_tokens(&script),
        [
            "Bearer ak_old",
            "Bearer ak_old",
            "Bearer ak_old",
            "Bearer ak_new"
        ]
        .map(|t| Some(t.to_owned()))
    );
    assert_eq!(mw.refreshes(), 3);
}

#[test]
fn configuration_errors_name_the_field() {
    let err = AuthMiddleware::builder(StaticToken::new("ak_x"))
        .hosts([HOST])
        .body_limit(0)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "auth.body_limit");
    let err = AuthMiddleware::builder(StaticToken::new("ak_x"))
        .hosts(Vec::<String>::new())
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "auth.hosts");
}

#[test]
fn the_middleware_crosses_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<AuthMiddleware>();
    send_sync::<RefreshFailure>();
    send_sync::<RefreshEvent>();
    let _: Arc<dyn TokenSource> = Arc::new(StaticToken::new("ak_x"));
}
