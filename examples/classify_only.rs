//! The policy crate alone, no HTTP: classify a few real Device Management answers
//! and print what a client should do about each.
//!
//! `cargo run -p resile-examples --example classify_only`
#![allow(clippy::print_stdout)] // an example prints what happened

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method};
use resile_policy::classify::{Input, Transport, classify};

fn main() {
    let device = "/v2/device-requests/0161b8e8a2d10a580a01020300000000";
    let mut hint = HeaderMap::new();
    hint.insert(RETRY_AFTER, HeaderValue::from_static("2"));
    let mut html = HeaderMap::new();
    html.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    let none = HeaderMap::new();
    let json503 = br#"{"object":"error","code":503,"type":"system_unavailable","message":"System unavailable.","request_id":"0177a3b5e9f40242ac11000400000000"}"#;
    let json401 =
        br#"{"object":"error","code":401,"type":"invalid_token","message":"Token expired."}"#;
    let billing = br#"{"code":400,"type":"validation_error","fields":[{"name":"month","message":"Parameter missing."}],"request_id":"example-request-id"}"#;

    let cases: [(&str, Input<'_>); 8] = [
        (
            "503 from the host, with Retry-After",
            Input::response(&Method::GET, "/v3/devices", 503, &hint, json503),
        ),
        (
            "502 load-balancer page on a host route",
            Input::response(
                &Method::GET,
                "/v3/devices",
                502,
                &html,
                b"<html>502 Bad Gateway</html>",
            ),
        ),
        (
            "502 on a device route: one device offline",
            Input::response(&Method::POST, device, 502, &html, b"<html>502</html>"),
        ),
        (
            "Connect's plain-text QUEUE_IS_FULL",
            Input::response(&Method::POST, device, 400, &none, b"QUEUE_IS_FULL"),
        ),
        (
            "expired token",
            Input::response(&Method::GET, "/v3/devices", 401, &none, json401),
        ),
        (
            "billing validation error with fields",
            Input::response(&Method::GET, "/v3/billing-report", 400, &none, billing),
        ),
        (
            "503 to a POST without Idempotency-Key",
            Input::response(&Method::POST, "/v3/devices", 503, &none, b""),
        ),
        (
            "connection refused",
            Input::transport(&Method::POST, "/v3/devices", Transport::Connect),
        ),
    ];
    for (what, input) in cases {
        let outcome = classify(&input);
        let c = outcome.classification();
        println!("{what}");
        println!(
            "  class={} scope={} reason={} retry_after={:?} type={:?} device={:?}",
            c.class(),
            c.scope(),
            c.reason().map_or("-", |r| r.as_str()),
            c.retry_after(),
            outcome.error_type(),
            outcome.device_id(),
        );
        println!(
            "  may replay without a key: {}",
            c.may_replay(input.method(), false)
        );
        for f in outcome.fields() {
            println!(
                "  field {:?}: {:?}",
                f.name.as_deref(),
                f.message.as_deref()
            );
        }
        println!("  -> {}", c.advice());
    }
}
