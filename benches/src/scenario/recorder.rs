//! A recording middleware placed innermost, just before the network: it sees every
//! attempt each client really sends, retries and replays included.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use serde::Serialize;
use tokio::time::Instant;

/// One attempt as the wire saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRecord {
    /// When the attempt left the middleware stack.
    pub sent: Instant,
    /// When its response head (or its error) came back.
    pub answered: Instant,
    /// The response status, or `None` for a transport error.
    pub status: Option<u16>,
    /// The response's `Retry-After` in delta-seconds, if it had one.
    pub retry_after: Option<Duration>,
}

/// The attempts of one logical request: put a clone in the request's extensions
/// (`RequestBuilder::with_extension`), read it after the request finished.
#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<AttemptRecord>>>);

impl Trace {
    /// The attempts so far, in order.
    pub fn attempts(&self) -> Vec<AttemptRecord> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, record: AttemptRecord) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }
}

/// Records every attempt into the request's [`Trace`] (requests without one pass
/// through untouched). Add it last, so it sits innermost for every client.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorder;

#[async_trait::async_trait]
impl Middleware for Recorder {
    async fn handle(
        &self,
        req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let trace = ext.get::<Trace>().cloned();
        let sent = Instant::now();
        let result = next.run(req, ext).await;
        if let Some(trace) = trace {
            let (status, retry_after) = match &result {
                Ok(resp) => (Some(resp.status().as_u16()), delta_seconds(resp)),
                Err(_) => (None, None),
            };
            trace.push(AttemptRecord {
                sent,
                answered: Instant::now(),
                status,
                retry_after,
            });
        }
        result
    }
}

/// `Retry-After` as delta-seconds (the simulator's form); an HTTP-date is ignored.
fn delta_seconds(resp: &Response) -> Option<Duration> {
    let value = resp.headers().get(http::header::RETRY_AFTER)?;
    let secs: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// Every retry that followed a response carrying `Retry-After`, checked against it.
///
/// The gap is measured from the moment the hinted response reached the client to the
/// moment the next attempt left it. The server received that attempt later and sent
/// the hint earlier, so the gap the server saw is at least this one: a client-side
/// gap at or above the hint proves the server's gap is too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GapCheck {
    /// Retries that followed a hinted response.
    pub checked: u64,
    /// Of those, retries sent before the hint had elapsed.
    pub early: u64,
    /// The smallest `gap - hint` seen, in milliseconds (negative when early).
    pub min_margin_ms: Option<f64>,
}

impl GapCheck {
    /// Adds the retries of one logical request.
    pub fn add(&mut self, attempts: &[AttemptRecord]) {
        for pair in attempts.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            let Some(hint) = prev.retry_after else {
                continue;
            };
            let gap = next.sent.saturating_duration_since(prev.answered);
            let signed_gap = if next.sent >= prev.answered {
                gap.as_secs_f64()
            } else {
                -(prev.answered - next.sent).as_secs_f64()
            };
            let margin = (signed_gap - hint.as_secs_f64()) * 1e3;
            self.checked += 1;
            self.early += u64::from(gap < hint);
            self.min_margin_ms = Some(self.min_margin_ms.map_or(margin, |m| m.min(margin)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn gaps_are_checked_only_after_hints() {
        let t = Instant::now();
        let rec = |sent, answered, hint: Option<u64>| AttemptRecord {
            sent: at(t, sent),
            answered: at(t, answered),
            status: Some(429),
            retry_after: hint.map(Duration::from_secs),
        };
        let mut g = GapCheck::default();
        // No hint: nothing checked.
        g.add(&[rec(0, 1, None), rec(2, 3, None)]);
        assert_eq!(g.checked, 0);
        // Hint 1 s honoured (1001 ms gap), then violated (500 ms gap).
        g.add(&[
            rec(0, 1, Some(1)),
            rec(1002, 1003, Some(1)),
            rec(1503, 1504, None),
        ]);
        assert_eq!((g.checked, g.early), (2, 1));
        let m = g.min_margin_ms.unwrap();
        assert!((m + 500.0).abs() < 1e-6, "{m}");
    }
}
