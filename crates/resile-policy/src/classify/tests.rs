//! The table test (one case per spec row), the spec's fixtures, and robustness.

use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use proptest::prelude::*;
use serde_json::Value;

use super::*;

const D: &str = "0161b8e8a2d10a580a01020300000000";

/// Replaces the spec's placeholder segment `D` with the real device id.
fn expand(path: &str) -> String {
    path.split('/')
        .map(|s| match s.split_once('?') {
            Some(("D", q)) => format!("{D}?{q}"),
            None if s == "D" => D.to_owned(),
            _ => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_row_of_the_action_table() {
    let mut cases = 0;
    for row in ACTION_TABLE {
        for ex in row.examples {
            let method: Method = ex.method.parse().unwrap();
            let path = expand(ex.path);
            let mut headers = HeaderMap::new();
            if ex.body.starts_with('<') {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            }
            let input = match ex.status {
                Ok(s) => Input::response(&method, &path, s, &headers, ex.body.as_bytes()),
                Err(t) => Input::transport(&method, &path, t),
            };
            let got = classify(&input);
            let want = (row.class, row.scope, row.reason);
            assert_eq!(
                (got.class(), got.scope(), got.reason()),
                want,
                "row {} {:?}, example {ex:?}",
                row.status,
                row.body
            );
            if row.scope == Scope::Device && path.contains(D) {
                assert_eq!(got.device_id(), Some(D), "{ex:?}");
            }
            cases += 1;
        }
    }
    assert_eq!(ACTION_TABLE.len(), 51, "one entry per spec row");
    assert!(cases >= 80, "{cases}");
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

#[test]
fn every_spec_fixture() {
    let fixtures: Vec<Value> = serde_json::from_str(include_str!("fixtures.json")).unwrap();
    assert_eq!(fixtures.len(), 42);
    let date = httpdate::parse_http_date("Wed, 21 Oct 2026 07:00:00 GMT").unwrap();
    for f in &fixtures {
        let id = text(f, "id").unwrap();
        let (method, target) = text(f, "request").unwrap().split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let target = expand(target);
        let path = target.split('?').next().unwrap();
        let mut headers = HeaderMap::new();
        if let Some(h) = f.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                headers.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
                );
            }
        }
        let body = match (f.get("json"), text(f, "text")) {
            (Some(j), _) => serde_json::to_vec(j).unwrap(),
            (None, Some(t)) => t.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        };
        let input = match (
            f.get("status").and_then(Value::as_u64),
            text(f, "transport"),
        ) {
            (Some(s), _) => Input::response(&method, path, s as u16, &headers, &body).at(date),
            (None, Some(t)) => {
                let t = match t {
                    "connection_refused" => Transport::Connect,
                    "reset_after_send" => Transport::Reset,
                    "timeout_after_send" => Transport::Timeout,
                    other => panic!("{id}: unknown transport {other}"),
                };
                Input::transport(&method, path, t)
            }
            _ => panic!("{id}: no status"),
        };
        let got = classify(&input);
        let e = &f["expect"];
        assert_eq!(
            got.class().as_str(),
            text(e, "class").unwrap(),
            "{id} class"
        );
        assert_eq!(
            got.scope().as_str(),
            text(e, "scope").unwrap(),
            "{id} scope"
        );
        assert_eq!(
            got.reason().map(Reason::as_str),
            text(e, "reason"),
            "{id} reason"
        );
        if let Some(ra) = e.get("retry_after") {
            let want = ra.as_u64().map(Duration::from_secs);
            assert_eq!(got.retry_after(), want, "{id} retry_after");
        }
        let body_field = |k: &str| f.get("json").and_then(|j| text(j, k));
        let want_type = text(e, "type").or(body_field("type"));
        assert_eq!(got.error_type(), want_type, "{id} type");
        let want_rid = text(e, "request_id").or(body_field("request_id"));
        assert_eq!(got.request_id(), want_rid, "{id} request_id");
        let want_dev = text(e, "device_id").map(|d| if d == "D" { D } else { d });
        assert_eq!(got.device_id(), want_dev, "{id} device_id");
        if let Some(m) = e.get("may_replay").and_then(Value::as_bool) {
            assert_eq!(
                got.classification().may_replay(&method, false),
                m,
                "{id} may_replay"
            );
        }
    }
}

#[test]
fn fixtures_match_the_spec_when_it_is_beside_the_repo() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/error-model.md"
    );
    let Ok(spec) = std::fs::read_to_string(spec) else {
        return; // published crate: the spec is not there
    };
    let block = spec
        .split("```json")
        .nth(2)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let ours: Value = serde_json::from_str(include_str!("fixtures.json")).unwrap();
    let theirs: Value = serde_json::from_str(block).unwrap();
    assert_eq!(
        ours, theirs,
        "src/classify/fixtures.json is out of date with the spec"
    );

    // The action table: same rows, same order, same verdicts.
    let section = spec.split("## 5. The action table").nth(1).unwrap();
    let section = section.split("## 6.").next().unwrap();
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| status"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), ACTION_TABLE.len());
    for (spec_row, ours) in rows.iter().zip(ACTION_TABLE) {
        let verdict = format!("{} / {}", ours.class, ours.scope);
        let reason = ours.reason.map_or("none", Reason::as_str);
        let got = [
            ours.status,
            ours.body,
            &verdict,
            reason,
            ours.action,
            ours.source,
        ];
        assert_eq!(spec_row.as_slice(), got.as_slice());
    }
}

#[test]
fn incomplete_bodies() {
    let h = HeaderMap::new();
    let get = Method::GET;
    let ok = Input::response(&get, "/v3/devices", 200, &h, b"{\"da").body_incomplete();
    let c = classify(&ok).classification();
    assert_eq!(
        (c.class(), c.reason()),
        (Class::Retryable, Some(Reason::TransportReset))
    );
    assert_eq!(c.host_signal(), HostSignal::Failure);
    let cut = br#"{"object":"error","type":"validation_error","mess"#;
    let bad = Input::response(&get, "/v3/devices", 400, &h, cut).body_incomplete();
    let o = classify(&bad);
    assert_eq!(o.reason(), Some(Reason::BadRequest));
    assert_eq!(o.classification().dialect(), Some(Dialect::Text));
}

#[test]
fn host_signals_follow_the_spec() {
    let h = HeaderMap::new();
    let sig = |m: &Method, p: &str, s: u16, b: &[u8]| {
        classify(&Input::response(m, p, s, &h, b))
            .classification()
            .host_signal()
    };
    let (get, post) = (Method::GET, Method::POST);
    let cmd = format!("/v2/device-requests/{D}");
    assert_eq!(sig(&get, "/v3/devices", 503, b""), HostSignal::Failure);
    assert_eq!(sig(&get, "/v3/devices", 500, b""), HostSignal::Failure);
    assert_eq!(
        sig(&get, "/v3/devices", 502, b"<html>"),
        HostSignal::Failure
    );
    assert_eq!(sig(&get, "/v3/devices", 429, b""), HostSignal::Throttled);
    assert_eq!(sig(&get, "/v3/devices", 408, b""), HostSignal::Neutral);
    assert_eq!(
        sig(&get, "/v3/certificate-issuers", 424, b""),
        HostSignal::Neutral
    );
    assert_eq!(sig(&post, &cmd, 502, b""), HostSignal::Device);
    assert_eq!(sig(&post, &cmd, 400, b"QUEUE_IS_FULL"), HostSignal::Device);
    assert_eq!(
        sig(&post, &cmd, 404, b"DEVICE_NOT_FOUND"),
        HostSignal::Device
    );
    assert_eq!(sig(&post, &cmd, 500, b""), HostSignal::Failure);
    assert_eq!(sig(&get, "/v3/devices", 200, b""), HostSignal::Success);
    assert_eq!(sig(&get, "/v3/devices", 404, b""), HostSignal::Success);
    assert_eq!(sig(&get, "/v3/devices", 401, b""), HostSignal::Success);
    assert_eq!(sig(&get, "/v3/devices", 403, b""), HostSignal::Success);
    let t = classify(&Input::transport(&get, "/x", Transport::Timeout));
    assert_eq!(t.classification().host_signal(), HostSignal::Failure);
}

#[test]
fn replay_safety() {
    let h = HeaderMap::new();
    let c = |m: &Method, s: u16| {
        classify(&Input::response(m, "/v3/devices", s, &h, b"")).classification()
    };
    let post = Method::POST;
    assert!(!c(&post, 503).may_replay(&post, false));
    assert!(c(&post, 503).may_replay(&post, true));
    assert!(c(&post, 429).may_replay(&post, false));
    assert!(c(&Method::GET, 503).may_replay(&Method::GET, false));
    assert!(c(&Method::DELETE, 502).may_replay(&Method::DELETE, false));
    assert!(!c(&Method::PATCH, 504).may_replay(&Method::PATCH, false));
    assert!(!c(&Method::GET, 404).may_replay(&Method::GET, true)); // not retryable
    let mut with_hint = HeaderMap::new();
    with_hint.insert("retry-after", HeaderValue::from_static("2"));
    let o = classify(&Input::response(&post, "/v3/devices", 503, &with_hint, b""));
    assert_eq!(o.retry_after(), Some(Duration::from_secs(2)));
    assert!(
        !o.classification().may_replay(&post, false),
        "a 503 hint proves nothing"
    );
}

#[test]
fn custom_routes_and_classifier_object() {
    let routes = Routes::builder().prefix("/dm").build().unwrap();
    let c: Box<dyn Classify> = Box::new(DefaultClassifier::with_routes(routes));
    let h = HeaderMap::new();
    let path = format!("/dm/v2/device-requests/{D}");
    let o = c.classify(&Input::response(&Method::POST, &path, 502, &h, b""));
    assert_eq!((o.scope(), o.device_id()), (Scope::Device, Some(D)));
    let o = DefaultClassifier::new().classify(&Input::response(&Method::POST, &path, 502, &h, b""));
    assert_eq!(
        o.scope(),
        Scope::Host,
        "without the prefix it is a host route"
    );
}

#[test]
fn request_id_falls_back_to_header_and_owned_copy_keeps_it() {
    let mut h = HeaderMap::new();
    h.insert("X-REQUEST-ID", HeaderValue::from_static("hdr-1"));
    let m = Method::GET;
    let o = classify(&Input::response(
        &m,
        "/v3/x",
        500,
        &h,
        br#"{"request_id":""}"#,
    ));
    assert_eq!(o.request_id(), Some("hdr-1"));
    let o = classify(&Input::response(
        &m,
        "/v3/x",
        500,
        &h,
        br#"{"request_id":"b-2"}"#,
    ));
    let owned: Outcome<'static> = o.into_owned();
    assert_eq!(owned.request_id(), Some("b-2"));
}

#[test]
fn every_reason_has_advice() {
    for r in Reason::ALL {
        for class in [Class::Retryable, Class::FixRequest, Class::Fatal] {
            let a = Classification::new(class, Scope::Request, Some(*r)).advice();
            assert!(a.ends_with('.') && a.len() > 8, "{r}: {a}");
        }
    }
    assert_eq!(
        Classification::success().advice(),
        "Hand the response to the caller."
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_status_wins(
        status in 0u16..1000,
        body in proptest::collection::vec(any::<u8>(), 0..200),
        path in "(/[a-zA-Z0-9{}*?=_-]{0,12}){0,6}",
        html in any::<bool>(),
        retry in "[ -~]{0,40}",
    ) {
        let mut h = HeaderMap::new();
        if html {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        }
        if let Ok(v) = HeaderValue::from_str(&retry) {
            h.insert("retry-after", v);
        }
        let m = Method::POST;
        let o = classify(&Input::response(&m, &path, status, &h, &body));
        let c = o.classification();
        prop_assert_eq!(c.status(), Some(status));
        if (100..400).contains(&status) {
            prop_assert_eq!(c.class(), Class::Success);
        } else {
            prop_assert!(c.class() != Class::Success);
        }
        if (500..600).contains(&status) && status != 501 && status != 505 {
            prop_assert_eq!(c.class(), Class::Retryable);
        }
    }

    #[test]
    fn json_envelopes_of_any_shape_never_panic(
        ty in prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), "[a-z_]{0,20}".prop_map(Value::from)],
        code in prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), "[ 0-9a-z]{0,6}".prop_map(Value::from)],
        fields in prop_oneof![Just(Value::Null), Just(serde_json::json!([{"name": 1}, "x", []])), Just(serde_json::json!({"name": "n"}))],
        status in 400u16..600,
    ) {
        let body = serde_json::json!({"type": ty, "code": code, "fields": fields, "request_id": ty});
        let bytes = serde_json::to_vec(&body).unwrap();
        let h = HeaderMap::new();
        let m = Method::GET;
        let o = classify(&Input::response(&m, "/v3/devices", status, &h, &bytes));
        prop_assert_eq!(o.classification().dialect(), Some(Dialect::Json));
    }
}
