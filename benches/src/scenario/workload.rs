//! The device-fleet workload and its two drivers, open and closed loop.
//!
//! Logical request `n` (one counter per run) is a create when `n % 20 == 7`, a fleet
//! listing when `n` is even, a device command otherwise: 47.5 % `GET /v3/devices`,
//! 47.5 % `POST /v2/device-requests/{id}?async-id=..` and 5 % `POST /v3/devices`
//! without an id (so a replay after a lost response creates a second device).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::recorder::{AttemptRecord, Trace};

/// The kinds of logical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `GET /v3/devices?limit=25`: idempotent.
    List,
    /// `POST /v2/device-requests/{id}?async-id=..`: not idempotent.
    Command,
    /// `POST /v3/devices` without an id: not idempotent.
    Create,
}

impl Kind {
    /// The kind of logical request `n`.
    pub const fn of(n: u64) -> Self {
        if n % 20 == 7 {
            Self::Create
        } else if n.is_multiple_of(2) {
            Self::List
        } else {
            Self::Command
        }
    }
}

/// How a logical request ended, as its caller saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A response with this status (success when 2xx and the body was read).
    Status(u16),
    /// A middleware refused it locally (`circuit_open`, `device_held`, ...).
    Local(&'static str),
    /// A transport error (`timeout`, `connect`, ...).
    Transport(&'static str),
    /// The harness's deadline cancelled it.
    Deadline,
}

/// One finished logical request.
#[derive(Debug, Clone)]
pub struct Done {
    /// Its kind.
    pub kind: Kind,
    /// Start, measured from the simulator's start.
    pub start: Duration,
    /// End, measured from the simulator's start.
    pub end: Duration,
    /// A 2xx with its body read in full.
    pub ok: bool,
    /// How it ended.
    pub outcome: End,
    /// Its attempts on the wire.
    pub attempts: Vec<AttemptRecord>,
}

/// What every logical request of a run shares.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Devices commands go to, round robin.
    pub devices: Vec<String>,
    /// A fixed bearer token, or `None` when the client's stack authenticates.
    pub bearer: Option<String>,
    /// The caller's deadline per logical request (the same for every client).
    pub deadline: Duration,
    /// The simulator's start, the zero of every time reported.
    pub epoch: Instant,
}

/// Starts logical request `n` at `start + n / rate` for `duration`, whatever the
/// client does, and waits for all of them.
pub async fn open_loop(
    client: ClientWithMiddleware,
    plan: Arc<Plan>,
    rate: u32,
    duration: Duration,
) -> Vec<Done> {
    let start = Instant::now();
    let total = (duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut tasks = JoinSet::new();
    for n in 0..total {
        tokio::time::sleep_until(start + interval.mul_f64(n as f64)).await;
        tasks.spawn(one(client.clone(), Arc::clone(&plan), n));
    }
    collect(tasks).await
}

/// `workers` loops, each starting its next logical request `think` after the previous
/// one ended, until `duration` has passed.
pub async fn closed_loop(
    client: ClientWithMiddleware,
    plan: Arc<Plan>,
    workers: usize,
    think: Duration,
    duration: Duration,
) -> Vec<Done> {
    let end = Instant::now() + duration;
    let seq = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (client, plan, seq) = (client.clone(), Arc::clone(&plan), Arc::clone(&seq));
        tasks.spawn(async move {
            let mut out = Vec::new();
            while Instant::now() < end {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                out.push(one(client.clone(), Arc::clone(&plan), n).await);
                tokio::time::sleep(think).await;
            }
            out
        });
    }
    collect(tasks).await.into_iter().flatten().collect()
}

async fn collect<T: 'static>(mut tasks: JoinSet<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(res) = tasks.join_next().await {
        if let Ok(done) = res {
            out.push(done);
        }
    }
    out
}

/// Sends logical request `n` and records how it went.
async fn one(client: ClientWithMiddleware, plan: Arc<Plan>, n: u64) -> Done {
    let kind = Kind::of(n);
    let trace = Trace::default();
    let mut rb = request(&client, &plan, kind, n).with_extension(trace.clone());
    if let Some(token) = &plan.bearer {
        rb = rb.bearer_auth(token);
    }
    let start = Instant::now();
    let outcome = tokio::time::timeout(plan.deadline, send(rb))
        .await
        .unwrap_or(End::Deadline);
    let end = Instant::now();
    Done {
        kind,
        start: start - plan.epoch,
        end: end - plan.epoch,
        ok: matches!(outcome, End::Status(s) if (200..300).contains(&s)),
        outcome,
        attempts: trace.attempts(),
    }
}

fn request(client: &ClientWithMiddleware, plan: &Plan, kind: Kind, n: u64) -> RequestBuilder {
    let base = &plan.base;
    match kind {
        Kind::List => client.get(format!("{base}/v3/devices?limit=25")),
        Kind::Command => {
            let device = &plan.devices[(n / 2) as usize % plan.devices.len().max(1)];
            client
                .post(format!(
                    "{base}/v2/device-requests/{device}?async-id=bench-{n}"
                ))
                .header("content-type", "application/json")
                .body(r#"{"method":"GET","uri":"/3/0/1"}"#)
        }
        Kind::Create => client
            .post(format!("{base}/v3/devices"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name":"bench-sensor-{n}"}}"#)),
    }
}

/// Sends and reads the whole body (so the latency is complete and the connection
/// is reused); a body that fails to arrive turns a 2xx into a transport error.
async fn send(rb: RequestBuilder) -> End {
    match rb.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.bytes().await {
                Ok(_) => End::Status(status),
                Err(_) => End::Transport("body"),
            }
        }
        Err(e) => classify_error(&e),
    }
}

fn classify_error(e: &reqwest_middleware::Error) -> End {
    match e {
        reqwest_middleware::Error::Middleware(err) => {
            let Some(ours) = err.downcast_ref::<resile_reqwest::Error>() else {
                return End::Local("middleware");
            };
            End::Local(if ours.is_circuit_open() {
                "circuit_open"
            } else if ours.is_device_held() {
                "device_held"
            } else if ours.is_host_held() {
                "host_held"
            } else if ours.is_deadline_exceeded() {
                "deadline_exceeded"
            } else if ours.is_refresh_failed() {
                "refresh_failed"
            } else {
                "resile_other"
            })
        }
        reqwest_middleware::Error::Reqwest(err) => End::Transport(if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connect"
        } else {
            "other"
        }),
    }
}
