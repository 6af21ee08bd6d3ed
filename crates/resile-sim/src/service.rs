//! One request, start to finish: count it, plan its faults, handle it, answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::header::{ALLOW, AUTHORIZATION, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde_json::json;
use tokio::time::Instant;

use crate::body::{Reply, SimBody};
use crate::faults::{self, FaultKind, Lost};
use crate::plan::{self, Arrival, Early, Late, Plan};
use crate::routes::{self, Route};
use crate::state::{Inner, Shared};
use crate::{RouteKind, auth::Denied};

/// The request gets no response: the connection is dropped (and reset).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by the simulator")]
pub(crate) struct Dropped;

/// Answers one request; `Err` closes the connection with a reset (`reset` is set).
pub(crate) async fn respond(
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    request: Request<Incoming>,
) -> Result<Response<SimBody>, Dropped> {
    let (parts, body) = request.into_parts();
    let route = Route::matching(&parts.method, parts.uri.path());
    let kind = route.kind();
    let body = match Limited::new(body, shared.cfg.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(()),
        Err(_) => return Err(Dropped),
    };
    let (request_id, plan) = arrive(&shared, &parts, kind, body.is_ok());
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let mut truncate = false;
    let mut injected = None;
    let reply = match plan.early {
        Some(Early::Reset) => return Err(drop_connection(&shared, &reset, FaultKind::Reset)),
        Some(Early::Reply(reply, fault)) => {
            injected = Some(fault);
            reply
        }
        None => {
            let reply = match &body {
                Ok(bytes) => handle(&shared, &route, &parts, bytes, &plan),
                Err(()) => Reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "Request body too large.",
                ),
            };
            match plan.late {
                Some(Late::Lose(Lost::Status(status))) if reply.status.is_success() => {
                    injected = Some(FaultKind::LostResponse);
                    faults::lost(status)
                }
                Some(Late::Lose(_)) if reply.status.is_success() => {
                    return Err(drop_connection(&shared, &reset, FaultKind::LostResponse));
                }
                Some(Late::Truncate) => {
                    truncate = true;
                    injected = Some(FaultKind::Truncated);
                    reply
                }
                _ => reply,
            }
        }
    };
    if kind != RouteKind::Stats && kind != RouteKind::Reset {
        let mut inner = shared.lock();
        let stats = &mut inner.stats;
        *stats.status.entry(reply.status.as_u16()).or_default() += 1;
        if reply.status == StatusCode::UNAUTHORIZED
            && let Some(kind) = reply.error_type()
        {
            *stats.unauthorized.entry(kind).or_default() += 1;
        }
        if let Some(fault) = injected {
            stats.fault(fault);
            stats.lost_responses += u64::from(fault == FaultKind::LostResponse);
        }
    }
    Ok(reply.into_response(&request_id, truncate))
}

/// Counts the arrival and plans its faults, under one lock.
fn arrive(shared: &Shared, parts: &Parts, kind: RouteKind, plan_faults: bool) -> (String, Plan) {
    let now = Instant::now();
    let cfg = &shared.cfg;
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let request_id = inner.next_request_id(cfg.seed);
    let seq = inner.seq;
    inner.seq += 1;
    if kind == RouteKind::Stats || kind == RouteKind::Reset {
        return (request_id, Plan::default());
    }
    let stats = &mut inner.stats;
    stats.requests += 1;
    *stats.route.entry(kind).or_default() += 1;
    stats.with_idempotency_key += u64::from(parts.headers.contains_key("idempotency-key"));
    if !plan_faults {
        return (request_id, Plan::default());
    }
    let arrival = Arrival {
        seq,
        at: now.saturating_duration_since(inner.epoch),
        method: &parts.method,
        path: parts.uri.path(),
        kind,
    };
    let plan = plan::plan(&cfg.timeline, cfg.seed, &arrival, &mut inner.limiter);
    inner.stats.during_outage += u64::from(plan.during_outage);
    for _ in 0..plan.slowed {
        inner.stats.fault(FaultKind::Slow);
    }
    (request_id, plan)
}

/// Counts a request answered by a reset, and arms the reset.
fn drop_connection(shared: &Shared, reset: &AtomicBool, fault: FaultKind) -> Dropped {
    let mut inner = shared.lock();
    inner.stats.no_response += 1;
    inner.stats.lost_responses += u64::from(fault == FaultKind::LostResponse);
    inner.stats.fault(fault);
    reset.store(true, Ordering::Relaxed);
    Dropped
}

/// The route's answer, authentication included.
fn handle(shared: &Shared, route: &Route, parts: &Parts, body: &[u8], plan: &Plan) -> Reply {
    let now = Instant::now();
    let cfg = &shared.cfg;
    let mut guard = shared.lock();
    let inner: &mut Inner = &mut guard;
    match route {
        Route::Unrecognized => {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "unrecognized_request",
                "Unrecognized request URL, or method not supported by the API.",
            );
        }
        Route::MethodNotAllowed(allow) => {
            return Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_supported",
                "Specified method is not supported by the API.",
            )
            .with_header(ALLOW, HeaderValue::from_static(allow));
        }
        Route::Token => return routes::issue_token(inner, cfg, body, now),
        Route::Stats => return routes::stats_reply(inner, now),
        Route::Reset => {
            inner.reset(cfg, now);
            return Reply::json(StatusCode::OK, json!({ "object": "reset" }));
        }
        _ => {}
    }
    let header = parts.headers.get(AUTHORIZATION);
    let checked = inner
        .tokens
        .check(header, &cfg.api_key, cfg.token_ttl, plan.token_ttl, now);
    if let Err(denied) = checked {
        if denied == (Denied::Token { by_fault: true }) {
            inner.stats.fault(FaultKind::TokenExpiry);
        }
        return denied.reply();
    }
    let query = parts.uri.query();
    match route {
        Route::ListDevices => routes::list_devices(inner, query),
        Route::GetDevice(id) => routes::get_device(inner, id),
        Route::CreateDevice => routes::create_device(inner, cfg, body, now),
        Route::DeviceRequest(id) => routes::enqueue(inner, cfg, id, query, body, now),
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            "unrecognized_request",
            "Unrecognized request URL.",
        ),
    }
}
