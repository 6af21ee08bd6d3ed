//! Credentials: missing, malformed, unknown, expired; the token route.

use std::time::Duration;

use resile_sim::{Fault, FaultKind, Sim, TimedFault};

use crate::client::{Client, send};

#[tokio::test]
async fn header_problems_are_invalid_auth_and_bad_tokens_invalid_token() {
    let sim = Sim::builder().devices(1).start().await.unwrap();
    let addr = sim.addr();
    let r = send(addr, "GET", "/v3/devices", &[], b"").await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_auth".into()));
    assert_eq!(r.json()["code"], 401);
    let r = send(
        addr,
        "GET",
        "/v3/devices",
        &[("Authorization", "Basic dXNlcjpwdw==")],
        b"",
    )
    .await;
    assert_eq!(r.error_type(), "invalid_auth");
    let r = Client::new(addr, "rt_not_issued").get("/v3/devices").await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_token".into()));
    let r = Client::new(addr, "ak_wrong").get("/v3/devices").await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_apikey".into()));
    let r = Client::new(addr, sim.api_key()).get("/v3/devices").await;
    assert_eq!(r.status(), 200);
    let stats = sim.stats();
    assert_eq!(stats.unauthorized_count("invalid_auth"), 2);
    assert_eq!(stats.unauthorized_count("invalid_token"), 1);
    assert_eq!(stats.unauthorized_count("invalid_apikey"), 1);
    assert_eq!(stats.status_count(401), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_route_issues_tokens_that_expire_after_their_ttl() {
    let ttl = Duration::from_millis(300);
    let sim = Sim::builder()
        .devices(1)
        .token_ttl(Some(ttl))
        .start()
        .await
        .unwrap();
    let r = send(sim.addr(), "POST", "/__sim/token", &[], b"").await;
    assert_eq!(r.status(), 200);
    let body = r.json();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rt_"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1); // seconds, rounded up
    let c = Client::new(sim.addr(), &token);
    let issued = sim.elapsed();
    let r = c.get("/v3/devices").await;
    if sim.elapsed() < issued + ttl {
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let r = c.get("/v3/devices").await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_token".into()));
    // A fresh token works again; the API key never expires.
    let fresh = Client::new(sim.addr(), &sim.issue_token());
    assert_eq!(fresh.get("/v3/devices").await.status(), 200);
    assert_eq!(sim.stats().tokens_issued, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn client_secret_is_checked_when_configured() {
    let sim = Sim::builder()
        .client_secret("s3cret")
        .start()
        .await
        .unwrap();
    let r = send(
        sim.addr(),
        "POST",
        "/__sim/token",
        &[],
        br#"{"client_secret":"nope"}"#,
    )
    .await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_auth".into()));
    let r = send(
        sim.addr(),
        "POST",
        "/__sim/token",
        &[],
        br#"{"client_secret":"s3cret"}"#,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.json()["expires_in"].is_null());
    sim.shutdown().await;
}

#[tokio::test]
async fn token_expiry_fault_refuses_old_tokens_but_not_the_api_key() {
    let fault = TimedFault::new(Fault::TokenExpiry {
        ttl: Duration::from_millis(100),
    });
    let sim = Sim::builder()
        .devices(1)
        .fault(fault)
        .start()
        .await
        .unwrap();
    let token = sim.issue_token();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = Client::new(sim.addr(), &token).get("/v3/devices").await;
    assert_eq!((r.status(), r.error_type()), (401, "invalid_token".into()));
    assert_eq!(
        Client::new(sim.addr(), sim.api_key())
            .get("/v3/devices")
            .await
            .status(),
        200
    );
    assert_eq!(sim.stats().fault_count(FaultKind::TokenExpiry), 1);
    sim.shutdown().await;
}
