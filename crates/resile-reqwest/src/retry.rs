//! The retry middleware: resend what the classification calls retryable, within
//! attempts, a deadline, backoff, `Retry-After` and the host's retry budget.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Extensions;
use reqwest::{Request, Response};
use resile_policy::classify::BODY_PREFIX_LIMIT;
use resile_policy::retry::{Attempt, RetryDecision, Stop};
use resile_policy::{
    Classify, Clock, ConfigError, DefaultClassifier, ExponentialBackoff, Registry, RetryBudget,
    RetryBudgetBuilder, RetryPolicy,
};
use tracing::Instrument;

use crate::chain::{Inner, Layer, middleware_from_layer};
use crate::ext::{Attempts, Deadline, FinalClassification, scratch};
use crate::parts::{authority, run_and_observe};
use crate::{TokioClock, telemetry};

/// Retries what the classification calls *retryable*, and nothing else.
///
/// Per attempt it asks [`RetryPolicy::decide`]: is the outcome retryable, is a
/// replay safe for this method (a POST only with an `Idempotency-Key` or when the
/// outcome proves the request was not processed), are attempts, deadline and the
/// host's [`RetryBudget`] left, and how long to wait (`Retry-After` first, clamped;
/// else jittered exponential backoff). It sleeps on the tokio timer, so paused-time
/// tests run instantly.
///
/// When it stops, it returns the **last response or error unchanged**, so
/// `status()` and `is_timeout()` keep working; [`Attempts`] and
/// [`FinalClassification`] are left in the response's extensions or, when it
/// returns an error, in the request extensions.
///
/// # Defaults
///
/// | setting | value |
/// |---|---|
/// | attempts | 5 in all ([`RetryPolicy`]) |
/// | backoff | 250 ms → 10 s, ×2, full jitter ([`ExponentialBackoff`]) |
/// | `Retry-After` clamp | 60 s |
/// | budget | on: ratio 0.5, 1 retry/s floor, 10 s window, one per host ([`RetryBudget`]) |
/// | deadline | 30 s for the whole logical request |
/// | per-attempt timeout | 10 s (never past the deadline) |
/// | hosts tracked | 1024 budgets, least recently used evicted |
///
/// # Note
///
/// A request whose body cannot be cloned (a stream) is sent once and its result
/// returned as is. Re-authentication (401) is not retried here: put the
/// [`AuthMiddleware`](crate::AuthMiddleware) inside this layer, where it replays
/// once with a fresh token.
#[derive(Debug)]
pub struct RetryMiddleware {
    policy: RetryPolicy,
    backoff: ExponentialBackoff,
    budget: Option<RetryBudgetBuilder>,
    budgets: Registry<String, RetryBudget>,
    deadline: Option<Duration>,
    attempt_timeout: Option<Duration>,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    seeds: crate::seed::Seeds,
}

impl RetryMiddleware {
    /// A builder with the documented defaults.
    pub fn builder() -> RetryBuilder {
        RetryBuilder::default()
    }

    /// Retries with every default.
    pub fn new() -> Self {
        RetryBuilder::default()
            .build()
            .expect("the defaults are valid")
    }

    fn budget_for(&self, host: &str) -> Option<Arc<RetryBudget>> {
        let template = self.budget?;
        Some(
            self.budgets
                .get_or_insert_by(host, || template.build().unwrap_or_default()),
        )
    }

    async fn run(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
        next: &impl Inner,
    ) -> reqwest_middleware::Result<Response> {
        let clock = TokioClock;
        let start = clock.now();
        let deadline = ext
            .get::<Deadline>()
            .map(|d| d.0)
            .or_else(|| self.deadline.map(|d| start + d));
        // Inner layers (auth, device gate, pacing) wait too: show them the deadline,
        // and take it back after (the caller may reuse the extensions).
        scratch(ext).deadline = deadline;
        let result = self.attempts(req, ext, next, deadline).await;
        scratch(ext).deadline = None;
        result
    }

    async fn attempts(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
        next: &impl Inner,
        deadline: Option<Instant>,
    ) -> reqwest_middleware::Result<Response> {
        let clock = TokioClock;
        let host = authority(req.url());
        let method = req.method().clone();
        let idempotency_key = req.headers().contains_key("idempotency-key");
        let budget = self.budget_for(host);
        let unlimited = RetryBudget::unlimited();
        let budget_ref = budget.as_deref().unwrap_or(&unlimited);
        let mut backoff = self.backoff.reseeded(self.seeds.next());
        let mut number = 0;
        let mut reauth_replay = false;
        loop {
            number += 1;
            // A stream cannot be replayed: send the original once and pass it through.
            let Some(mut this) = req.try_clone().map(Box::new) else {
                let host = host.to_owned();
                let (result, seen) =
                    run_and_observe(next, req, ext, self.classifier.as_ref(), self.body_limit)
                        .await;
                let class = seen.map(|s| s.classification);
                return finish(result, ext, number, class, &host);
            };
            if let Some(timeout) = self.timeout(this.timeout().copied(), deadline, clock.now()) {
                *this.timeout_mut() = Some(timeout);
            }
            // We hold the original: the auth layer below may ask us to resend it
            // once after a 401 instead of keeping a copy of its own.
            let s = scratch(ext);
            s.outer_replay = true;
            s.replay_requested = false;
            s.is_replay = reauth_replay;
            let (result, seen) =
                run_and_observe(next, this, ext, self.classifier.as_ref(), self.body_limit).await;
            let s = scratch(ext);
            s.outer_replay = false;
            if std::mem::take(&mut s.replay_requested) && !reauth_replay {
                // A fresh token is ready: resend at once, outside the retry rules
                // (a 401 was not processed; spec §6), at most once.
                reauth_replay = true;
                drop(result);
                continue;
            }
            let Some(seen) = seen else {
                // Not ours to judge (an open circuit, another middleware's error).
                return finish(result, ext, number, None, host);
            };
            let c = seen.classification;
            let now = clock.now();
            if number == 1 && c.is_success() {
                budget_ref.deposit(now);
            }
            let attempt = Attempt {
                method: &method,
                idempotency_key,
                number,
                remaining: deadline.map(|d| d.saturating_duration_since(now)),
            };
            match self
                .policy
                .decide(&c, &attempt, &mut backoff, budget_ref, now)
            {
                RetryDecision::Retry { after, wait } => {
                    let reason = c.reason().map_or("none", |r| r.as_str());
                    tracing::info!(
                        target: "resile::retry",
                        attempt = number,
                        delay_ms = after.as_millis() as u64,
                        reason,
                        status = c.status(),
                        retry_after_ms = c.retry_after().map(|d| d.as_millis() as u64),
                        wait = ?wait,
                        "retrying"
                    );
                    telemetry::retry(host, reason);
                    drop(result);
                    // Boxed: a timer in every request's future would weigh on all.
                    Box::pin(clock.sleep(after)).await;
                }
                RetryDecision::Stop(stop) => {
                    if stop != Stop::NotRetryable {
                        tracing::debug!(target: "resile::retry", attempt = number, why = stop.as_str(), "giving up");
                        telemetry::gave_up(host, stop.as_str());
                    }
                    return finish(result, ext, number, Some(c), host);
                }
            }
        }
    }

    /// The timeout for one attempt: the request's own, the per-attempt limit and the
    /// time left before the deadline, whichever is shortest.
    fn timeout(
        &self,
        own: Option<Duration>,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Option<Duration> {
        let left = deadline.map(|d| {
            d.saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        [own, self.attempt_timeout, left]
            .into_iter()
            .flatten()
            .min()
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

fn finish(
    mut result: reqwest_middleware::Result<Response>,
    ext: &mut Extensions,
    attempts: u32,
    class: Option<resile_policy::Classification>,
    host: &str,
) -> reqwest_middleware::Result<Response> {
    let span = tracing::Span::current();
    span.record("attempts", attempts);
    if let Some(c) = class {
        span.record("class", c.class().as_str());
        telemetry::attempts(host, c.class().as_str(), attempts);
    }
    // On the response when there is one, else where the caller can still look.
    let target = match &mut result {
        Ok(resp) => resp.extensions_mut(),
        Err(_) => ext,
    };
    target.insert(Attempts(attempts));
    if let Some(c) = class {
        target.insert(FinalClassification(c));
    }
    result
}

impl Layer for RetryMiddleware {
    async fn call<I: Inner>(
        &self,
        req: Box<Request>,
        ext: &mut Extensions,
        next: &I,
    ) -> reqwest_middleware::Result<Response> {
        let span = tracing::info_span!(
            "resile.request",
            http.request.method = %req.method(),
            server.address = req.url().host_str().unwrap_or(""),
            url.path = req.url().path(),
            attempts = tracing::field::Empty,
            class = tracing::field::Empty,
        );
        self.run(req, ext, next).instrument(span).await
    }
}

middleware_from_layer!(RetryMiddleware);

/// Configures a [`RetryMiddleware`]; starts from the documented defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryBuilder {
    policy: RetryPolicy,
    backoff: ExponentialBackoff,
    budget: Option<RetryBudgetBuilder>,
    deadline: Option<Duration>,
    attempt_timeout: Option<Duration>,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    max_hosts: NonZeroUsize,
    seed: Option<u64>,
    error: Option<ConfigError>,
}

impl Default for RetryBuilder {
    fn default() -> Self {
        Self {
            policy: RetryPolicy::default(),
            backoff: ExponentialBackoff::default(),
            budget: Some(RetryBudget::builder()),
            deadline: Some(Duration::from_secs(30)),
            attempt_timeout: Some(Duration::from_secs(10)),
            classifier: Arc::new(DefaultClassifier::new()),
            body_limit: BODY_PREFIX_LIMIT,
            max_hosts: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            seed: None,
            error: None,
        }
    }
}

impl RetryBuilder {
    /// Attempts in all, the first included (default 5; 1 disables retrying).
    pub fn max_attempts(mut self, n: u32) -> Self {
        match NonZeroU32::new(n) {
            Some(n) => self.policy = self.policy.with_max_attempts(n),
            None => self.fail("retry.max_attempts", "must be at least 1"),
        }
        self
    }

    /// The whole policy at once.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The backoff between attempts (each request gets its own seeded sequence).
    pub fn backoff(mut self, backoff: ExponentialBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured as is (default 60 s); longer hints are
    /// clamped to it.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.policy = self.policy.with_max_retry_after(max);
        self
    }

    /// The per-host retry budget (default on; see [`RetryBudget`]).
    pub fn budget(mut self, budget: RetryBudgetBuilder) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Turns the retry budget off: only the attempt cap bounds retries.
    pub fn no_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The deadline for the whole logical request, waits included (default 30 s;
    /// `None` for none). A [`Deadline`] extension on a request overrides it.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The timeout of one attempt (default 10 s; `None` to leave the client's).
    pub fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The classifier (default: the spec's table, [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = classifier;
        self
    }

    /// The most bytes of an error body read for classification (default 64 KiB).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// How many hosts' budgets to keep (default 1024; least recently used go).
    pub fn max_hosts(mut self, n: NonZeroUsize) -> Self {
        self.max_hosts = n;
        self
    }

    /// Fixes the jitter sequence, for reproducible tests (default: varies per
    /// process).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn fail(&mut self, field: &'static str, problem: &'static str) {
        self.error.get_or_insert(ConfigError::new(field, problem));
    }

    /// The middleware, or the first invalid setting.
    pub fn build(self) -> Result<RetryMiddleware, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let policy = self.policy.validate()?;
        if let Some(b) = self.budget {
            b.build().map_err(|e| e.within("retry"))?;
        }
        if self.attempt_timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::new(
                "retry.attempt_timeout",
                "must be greater than zero",
            ));
        }
        if self.deadline.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::new(
                "retry.deadline",
                "must be greater than zero",
            ));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                "retry.body_limit",
                "must be greater than zero",
            ));
        }
        Ok(RetryMiddleware {
            policy,
            backoff: self.backoff,
            budget: self.budget,
            budgets: Registry::new(self.max_hosts),
            deadline: self.deadline,
            attempt_timeout: self.attempt_timeout,
            classifier: self.classifier,
            body_limit: self.body_limit,
            seeds: crate::seed::Seeds::new(self.seed),
        })
    }
}
