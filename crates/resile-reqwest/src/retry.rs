//! The retry middleware: resend what the classification calls retryable, within
//! attempts, a deadline, backoff, `Retry-After` and the host's retry budget.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ext::Attempts;
use crate::hosts::{Host, Hosts};
use crate::parts::result_authority;
use crate::telemetry;
use http::header::HeaderName;
use http::{Extensions, Method};
use reqwest::{Request, Response};
use resile_policy::classify::BODY_PREFIX_LIMIT;
use resile_policy::retry::{Attempt, RetryDecision, Stop};
use resile_policy::{
    Classification, Classify, ConfigError, DefaultClassifier, ExponentialBackoff, RetryBudget,
    RetryBudgetBuilder, RetryPolicy,
};

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
/// `status()` and `is_timeout()` keep working; [`Attempts`] (how many, and the
/// last one's classification) is left in the response's extensions or, when it
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
    hosts: Hosts,
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

    /// The per-host table the budgets live in (`None` without a budget: nothing
    /// to look up).
    pub(crate) fn hosts(&self) -> Option<&Hosts> {
        self.budget.is_some().then_some(&self.hosts)
    }

    /// The per-host table, budget or not.
    pub(crate) fn table(&self) -> &Hosts {
        &self.hosts
    }

    /// Keeps the budgets in `hosts`, shared with the service's other layers.
    pub(crate) fn share(&mut self, hosts: &Hosts) {
        self.hosts = hosts.clone();
    }

    /// `host`'s budget, made on first use (`None` without a budget).
    fn budget_in<'h>(&self, host: &'h Host) -> Option<&'h RetryBudget> {
        let template = self.budget?;
        Some(
            host.budget
                .get_or_init(|| template.build().unwrap_or_default()),
        )
    }

    /// The span of one logical request.
    pub(crate) fn span(&self, req: &Request) -> tracing::Span {
        tracing::info_span!(
            "resile.request",
            http.request.method = %req.method(),
            server.address = req.url().host_str().unwrap_or(""),
            url.path = req.url().path(),
            attempts = tracing::field::Empty,
            class = tracing::field::Empty,
        )
    }

    /// The deadline of a whole logical request (`None`: none).
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The retry state of one logical request.
    pub(crate) fn begin(&self, req: &Request) -> Retrying<'_> {
        let method = req.method();
        Retrying {
            retry: self,
            idempotency_key: !method.is_idempotent()
                && req.headers().contains_key(&IDEMPOTENCY_KEY),
            backoff: None,
        }
    }

    /// The per-attempt timeout (`None`: attempts are bounded by the deadline alone).
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// Sets the timeout of one attempt with `left` before the deadline: the
    /// request's own, the per-attempt limit and the time left (at least 1 ms),
    /// whichever is shortest.
    ///
    /// `client` is the timeout the `reqwest::Client` beneath applies to a request
    /// without one of its own, when known ([`Stack::with_client_timeout`]). A
    /// request without its own timeout then gets one only when the limit is
    /// shorter than the client's: reqwest keeps a request's timeout in a map
    /// allocated per request, and a longer one would override the client's.
    ///
    /// [`Stack::with_client_timeout`]: crate::Stack::with_client_timeout
    pub(crate) fn limit_attempt(
        &self,
        req: &mut Request,
        left: Option<Duration>,
        client: Option<Duration>,
    ) {
        let left = left.map(|l| l.max(Duration::from_millis(1)));
        let own = req.timeout().copied();
        let Some(shortest) = [own, self.attempt_timeout, left]
            .into_iter()
            .flatten()
            .min()
        else {
            return;
        };
        if own == Some(shortest) || own.is_none() && client.is_some_and(|c| shortest >= c) {
            return;
        }
        *req.timeout_mut() = Some(shortest);
    }

    /// The classifier and body limit this layer judges outcomes with.
    pub(crate) fn classifier(&self) -> (&dyn Classify, usize) {
        (self.classifier.as_ref(), self.body_limit)
    }
}

/// The budget of a layer without one (made once: a budget is a few hundred bytes).
static UNLIMITED: RetryBudget = RetryBudget::unlimited();

/// `Idempotency-Key`, which makes a POST or PATCH safe to resend.
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// One logical request's retry state: whether it may be resent, and its backoff
/// sequence (made at the first retry).
pub(crate) struct Retrying<'a> {
    retry: &'a RetryMiddleware,
    idempotency_key: bool,
    /// Boxed: most requests never back off, and it would weigh on every future.
    backoff: Option<Box<ExponentialBackoff>>,
}

impl Retrying<'_> {
    /// After attempt `number` was classified `c` at `now`: how long to wait before
    /// the next one, or `None` to stop and return `result`. `host` holds the
    /// host's budget (`None`: no budget).
    #[allow(clippy::too_many_arguments)] // one attempt's outcome and its context
    pub(crate) fn decide(
        &mut self,
        host: Option<&Host>,
        c: &Classification,
        method: &Method,
        number: u32,
        deadline: Option<Instant>,
        now: Instant,
        result: &reqwest_middleware::Result<Response>,
    ) -> Option<Duration> {
        let budget = host
            .and_then(|h| self.retry.budget_in(h))
            .unwrap_or(&UNLIMITED);
        if number == 1 && c.is_success() {
            budget.deposit(now);
        }
        if !c.is_retryable() {
            // What the policy would answer first, without making a backoff.
            return None;
        }
        let attempt = Attempt {
            method,
            idempotency_key: self.idempotency_key,
            number,
            remaining: deadline.map(|d| d.saturating_duration_since(now)),
        };
        let retry = self.retry;
        let backoff = self
            .backoff
            .get_or_insert_with(|| Box::new(retry.backoff.reseeded(retry.seeds.next())));
        let host = result_authority(result).unwrap_or("");
        match retry.policy.decide(c, &attempt, backoff, budget, now) {
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
                Some(after)
            }
            RetryDecision::Stop(stop) => {
                if stop != Stop::NotRetryable {
                    tracing::debug!(target: "resile::retry", attempt = number, why = stop.as_str(), "giving up");
                    telemetry::gave_up(host, stop.as_str());
                }
                None
            }
        }
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

/// Ends a logical request: records the attempts and final class on the span and
/// leaves [`Attempts`] where the caller can read it.
pub(crate) fn finish(
    result: &mut reqwest_middleware::Result<Response>,
    ext: &mut Extensions,
    attempts: u32,
    class: Option<Classification>,
) {
    // The request's span is an INFO span: nothing to record in when that level is off.
    if tracing::level_enabled!(tracing::Level::INFO) {
        let span = tracing::Span::current();
        span.record("attempts", attempts);
        if let Some(c) = class {
            span.record("class", c.class().as_str());
        }
    }
    if let Some(c) = class
        && telemetry::ENABLED
    {
        let host = result_authority(result).unwrap_or("");
        telemetry::attempts(host, c.class().as_str(), attempts);
    }
    // On the response when there is one, else where the caller can still look.
    let target = match result {
        Ok(resp) => resp.extensions_mut(),
        Err(_) => ext,
    };
    target.insert(Attempts::new(attempts, class));
}

crate::driver::middleware!(RetryMiddleware, retry);

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
    /// `None` for none). A [`Deadline`](crate::Deadline) extension on a request overrides it.
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

    /// How many hosts' budgets to keep (default 1024; least recently used go
    /// first, hosts whose breaker or pace is busy last). In a
    /// [`Service`](crate::Service) the layers keep their per-host state in one
    /// table, as large as the largest of their `max_hosts`, and the service's
    /// own [`hosts`](crate::ServiceBuilder::hosts) are kept on top of it.
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
            hosts: Hosts::new(self.max_hosts),
            deadline: self.deadline,
            attempt_timeout: self.attempt_timeout,
            classifier: self.classifier,
            body_limit: self.body_limit,
            seeds: crate::seed::Seeds::new(self.seed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> Request {
        Request::new(
            Method::GET,
            "https://api.example.com/v3/devices".parse().unwrap(),
        )
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// The timeout `limit_attempt` leaves on a request with `own`, for an attempt
    /// `left` before the deadline, over a client that times out at `client`.
    fn limit(own: Option<Duration>, left: u64, client: Option<Duration>) -> Option<Duration> {
        let retry = RetryMiddleware::builder().build().unwrap(); // 10 s per attempt
        let mut req = get();
        if let Some(own) = own {
            *req.timeout_mut() = Some(own);
        }
        retry.limit_attempt(&mut req, Some(secs(left)), client);
        req.timeout().copied()
    }

    #[test]
    fn an_attempt_gets_the_shortest_of_its_own_the_per_attempt_and_the_deadline() {
        assert_eq!(limit(None, 30, None), Some(secs(10)));
        assert_eq!(limit(None, 4, None), Some(secs(4)));
        assert_eq!(
            limit(None, 0, None),
            Some(Duration::from_millis(1)),
            "never zero"
        );
        assert_eq!(limit(Some(secs(2)), 30, None), Some(secs(2)));
        assert_eq!(limit(Some(secs(20)), 30, None), Some(secs(10)));
    }

    #[test]
    fn a_client_that_times_out_by_itself_spares_the_requests_own() {
        let client = Some(secs(10));
        assert_eq!(limit(None, 30, client), None, "the client applies 10 s");
        assert_eq!(
            limit(None, 4, client),
            Some(secs(4)),
            "the deadline is closer"
        );
        // A shorter client timeout is never overridden by a longer one.
        assert_eq!(limit(None, 30, Some(secs(3))), None);
        // A request's own timeout overrides the client's: it is still corrected.
        assert_eq!(limit(Some(secs(20)), 30, client), Some(secs(10)));
        assert_eq!(limit(Some(secs(2)), 30, client), Some(secs(2)));
    }
}
