//! The device-fleet workload: the same schedule of logical requests for every
//! client, sent open-loop (at fixed times, whatever the client does), so a client
//! that sleeps or fails fast cannot change how much work it was given.

use std::sync::Arc;
use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What one logical request did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    pub(crate) ok: bool,
    pub(crate) latency: Duration,
    #[allow(dead_code)] // kept for per-kind breakdowns
    pub(crate) kind: Kind,
}

/// The kinds of logical request in the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    List,
    Command,
    Create,
}

/// The workload's shape.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) base: String,
    pub(crate) devices: Vec<String>,
    pub(crate) duration: Duration,
    pub(crate) rate: u32,
    pub(crate) page: usize,
    pub(crate) label: &'static str,
}

/// How a client authenticates: a header set per request, or nothing (the stack does it).
#[derive(Debug, Clone)]
pub(crate) enum Bearer {
    Fixed(String),
    Stack,
}

/// Runs the plan with `client`; `tick` is called after each logical request.
pub(crate) async fn run(
    client: ClientWithMiddleware,
    bearer: Bearer,
    plan: Arc<Plan>,
    tick: impl Fn() + Send + Sync + 'static,
) -> Vec<Done> {
    let tick = Arc::new(tick);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let total = (plan.duration.as_secs_f64() * f64::from(plan.rate)) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let mut created = 0usize;
    for i in 0..total {
        let at = start + interval * i as u32;
        let (client, bearer, plan, tick) = (
            client.clone(),
            bearer.clone(),
            Arc::clone(&plan),
            Arc::clone(&tick),
        );
        // One fleet listing per second, one create per 20 requests, commands otherwise.
        let op = if i % plan.rate as usize == 0 {
            Kind::List
        } else if i % 20 == 7 {
            created += 1;
            Kind::Create
        } else {
            Kind::Command
        };
        let n = if op == Kind::Create { created } else { i };
        tasks.spawn(async move {
            tokio::time::sleep_until(at).await;
            let done = match op {
                Kind::List => list(&client, &bearer, &plan).await,
                Kind::Command => command(&client, &bearer, &plan, n).await,
                Kind::Create => create(&client, &bearer, &plan, n).await,
            };
            for _ in &done {
                tick();
            }
            done
        });
    }
    let mut out = Vec::with_capacity(total);
    while let Some(res) = tasks.join_next().await {
        if let Ok(done) = res {
            out.extend(done);
        }
    }
    out
}

fn authorize(
    rb: reqwest_middleware::RequestBuilder,
    bearer: &Bearer,
) -> reqwest_middleware::RequestBuilder {
    match bearer {
        Bearer::Fixed(token) => rb.bearer_auth(token),
        Bearer::Stack => rb,
    }
}

async fn timed(
    kind: Kind,
    rb: reqwest_middleware::RequestBuilder,
) -> (Done, Option<reqwest::Response>) {
    let t0 = Instant::now();
    let resp = rb.send().await.ok();
    let ok = resp.as_ref().is_some_and(|r| r.status().is_success());
    // Read the body so the connection is reused and the latency is complete.
    let resp = match resp {
        Some(r) if ok && kind == Kind::List => Some(r),
        Some(r) => {
            let _ = r.bytes().await;
            None
        }
        None => None,
    };
    let done = Done {
        ok,
        latency: t0.elapsed(),
        kind,
    };
    (done, resp)
}

/// Lists the fleet page by page; each page is one logical request.
async fn list(client: &ClientWithMiddleware, bearer: &Bearer, plan: &Plan) -> Vec<Done> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/v3/devices?limit={}", plan.base, plan.page);
        if let Some(a) = &after {
            url.push_str("&after=");
            url.push_str(a);
        }
        let t0 = Instant::now();
        let (mut done, resp) = timed(Kind::List, authorize(client.get(url), bearer)).await;
        let page = match resp {
            Some(r) => r.json::<serde_json::Value>().await.ok(),
            None => None,
        };
        done.latency = t0.elapsed();
        done.ok = done.ok && page.is_some();
        out.push(done);
        let Some(page) = page else { break };
        let last = page["data"]
            .as_array()
            .and_then(|d| d.last())
            .and_then(|d| d["id"].as_str());
        match (page["has_more"].as_bool(), last) {
            (Some(true), Some(id)) => after = Some(id.to_owned()),
            _ => break,
        }
    }
    out
}

/// Sends one command to a device (round robin over the fleet).
async fn command(
    client: &ClientWithMiddleware,
    bearer: &Bearer,
    plan: &Plan,
    n: usize,
) -> Vec<Done> {
    let device = &plan.devices[n % plan.devices.len()];
    let url = format!(
        "{}/v2/device-requests/{device}?async-id={}-{n}",
        plan.base, plan.label
    );
    let body = r#"{"method":"GET","uri":"/3/0/1"}"#;
    let rb = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    vec![timed(Kind::Command, authorize(rb, bearer)).await.0]
}

/// Creates one device (no id: a replay would create it twice).
async fn create(
    client: &ClientWithMiddleware,
    bearer: &Bearer,
    plan: &Plan,
    n: usize,
) -> Vec<Done> {
    let url = format!("{}/v3/devices", plan.base);
    let body = format!(r#"{{"name":"{}-sensor-{n}"}}"#, plan.label);
    let rb = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    vec![timed(Kind::Create, authorize(rb, bearer)).await.0]
}
