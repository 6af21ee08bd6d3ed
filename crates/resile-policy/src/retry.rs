//! The retry decision: after one attempt, wait and resend, or stop.
//!
//! [`RetryPolicy::decide`] combines everything that bears on one retry, in this order,
//! and stops at the first thing that says no:
//!
//! 1. **Class.** Only `retryable` outcomes are resent here (`reauth` has its own
//!    once-only replay, done by the auth layer).
//! 2. **Replay safety** ([`Classification::may_replay`]): a POST that got a 503 may
//!    have been processed; without an `Idempotency-Key` it goes back to the caller.
//! 3. **Attempts**: at most `max_attempts` in all, and at most 3 for a 424.
//! 4. **The wait**: the server's `Retry-After` when it sent one (at least the hint,
//!    clamped to `max_retry_after`); otherwise the backoff, raised to 1 s for a 429
//!    and to `device_wait` for a device-scoped outcome.
//! 5. **Deadline**: a wait that would end at or after the caller's deadline is not
//!    slept; the outcome is returned now.
//! 6. **Budget**: the host's retry budget must hand out a token (withdrawn last, so
//!    a retry that is refused for another reason costs nothing).
//!
//! Every branch is a value ([`RetryDecision`]); nothing here sleeps.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use http::Method;

use crate::classify::{Classification, Reason, Scope};
use crate::{ConfigError, ExponentialBackoff, RetryBudget, Rng};

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryDecision {
    /// Wait `after`, then resend.
    Retry {
        /// How long to wait first.
        after: Duration,
        /// Where the wait came from.
        wait: Wait,
    },
    /// Return the outcome to the caller.
    Stop(Stop),
}

/// Where a retry's wait came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wait {
    /// Exponential backoff with jitter.
    Backoff,
    /// The server's `Retry-After` (possibly clamped to the maximum).
    RetryAfter,
    /// Backoff raised to the 1 s floor for a 429 without a hint.
    Throttle,
    /// Backoff raised to the per-device wait.
    Device,
}

/// Why no retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stop {
    /// Success, or a class that is not retried (reauth, fix request, fatal).
    NotRetryable,
    /// Retryable, but the request may have been processed and carries no
    /// `Idempotency-Key` (spec §6).
    UnsafeToReplay,
    /// `max_attempts` reached (or 3 for a 424).
    AttemptsExhausted,
    /// The wait would end at or after the deadline.
    Deadline,
    /// The host's retry budget is empty.
    BudgetExhausted,
}

impl Stop {
    /// The `snake_case` name, for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stop::NotRetryable => "not_retryable",
            Stop::UnsafeToReplay => "unsafe_to_replay",
            Stop::AttemptsExhausted => "attempts_exhausted",
            Stop::Deadline => "deadline",
            Stop::BudgetExhausted => "budget_exhausted",
        }
    }
}

/// What the decision needs to know about the request and its history.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The request method.
    pub method: &'a Method,
    /// Whether the request carries an `Idempotency-Key` header.
    pub idempotency_key: bool,
    /// Attempts made so far, this one included (1 after the first).
    pub number: u32,
    /// Time left before the caller's deadline, if there is one.
    pub remaining: Option<Duration>,
}

/// Limits on retrying one request; see the [module docs](self) for the order.
///
/// # Defaults
///
/// | setting | value | why |
/// |---|---|---|
/// | `max_attempts` | 5 (4 retries) | at an independent 20 % failure rate, 0.03 % of requests still fail; the budget, not this count, bounds the load in an outage |
/// | `max_retry_after` | 60 s | a longer hint is clamped: the spec's suggestion |
/// | `throttle_floor` | 1 s | a 429 without a hint waits at least this (spec §7) |
/// | `device_wait` | 1 s | a full queue drains as results return, in seconds |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RetryPolicy {
    max_attempts: NonZeroU32,
    max_retry_after: Duration,
    throttle_floor: Duration,
    device_wait: Duration,
}

/// The attempt cap for a 424 (`dependency_failed`), from the action table.
pub const DEPENDENCY_MAX_ATTEMPTS: u32 = 3;

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            max_retry_after: Duration::from_secs(60),
            throttle_floor: Duration::from_secs(1),
            device_wait: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (one attempt).
    pub const fn never() -> Self {
        Self {
            max_attempts: NonZeroU32::MIN,
            max_retry_after: Duration::from_secs(60),
            throttle_floor: Duration::from_secs(1),
            device_wait: Duration::from_secs(1),
        }
    }

    /// Attempts in all, the first included (default 5).
    #[must_use]
    pub const fn with_max_attempts(mut self, n: NonZeroU32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The longest `Retry-After` honoured as is; longer hints are clamped (default
    /// 60 s).
    #[must_use]
    pub const fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The least wait after a 429 without a hint (default 1 s).
    #[must_use]
    pub const fn with_throttle_floor(mut self, d: Duration) -> Self {
        self.throttle_floor = d;
        self
    }

    /// The least wait after a device-scoped outcome (default 1 s).
    #[must_use]
    pub const fn with_device_wait(mut self, d: Duration) -> Self {
        self.device_wait = d;
        self
    }

    /// Checks the values that types cannot: a zero `max_retry_after` would retry
    /// immediately whatever the server asked.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.max_retry_after.is_zero() {
            return Err(ConfigError::new(
                "retry.max_retry_after",
                "must be greater than zero",
            ));
        }
        Ok(self)
    }

    /// Attempts in all.
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts.get()
    }

    /// The clamp on `Retry-After`.
    pub const fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Decides whether to retry after `attempt` ended with `c`.
    ///
    /// Draws the next delay from `backoff` (so call it once per attempt) and, when
    /// the answer is [`RetryDecision::Retry`], has withdrawn one token from `budget`.
    pub fn decide<R: Rng>(
        &self,
        c: &Classification,
        attempt: &Attempt<'_>,
        backoff: &mut ExponentialBackoff<R>,
        budget: &RetryBudget,
        now: Instant,
    ) -> RetryDecision {
        if !c.is_retryable() {
            return RetryDecision::Stop(Stop::NotRetryable);
        }
        if !c.may_replay(attempt.method, attempt.idempotency_key) {
            return RetryDecision::Stop(Stop::UnsafeToReplay);
        }
        let cap = match c.reason() {
            Some(Reason::DependencyFailed) => DEPENDENCY_MAX_ATTEMPTS.min(self.max_attempts()),
            _ => self.max_attempts(),
        };
        if attempt.number >= cap {
            return RetryDecision::Stop(Stop::AttemptsExhausted);
        }
        let drawn = backoff.next_delay();
        let (after, wait) = match c.retry_after() {
            Some(hint) => (hint.min(self.max_retry_after), Wait::RetryAfter),
            None if c.reason() == Some(Reason::Throttled) => {
                (drawn.max(self.throttle_floor), Wait::Throttle)
            }
            None if c.scope() == Scope::Device => (drawn.max(self.device_wait), Wait::Device),
            None => (drawn, Wait::Backoff),
        };
        if attempt.remaining.is_some_and(|left| after >= left) {
            return RetryDecision::Stop(Stop::Deadline);
        }
        if !budget.try_withdraw(now) {
            return RetryDecision::Stop(Stop::BudgetExhausted);
        }
        RetryDecision::Retry { after, wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Input, classify};
    use crate::{Clock, ManualClock};
    use http::{HeaderMap, HeaderValue};

    fn outcome(
        method: &Method,
        path: &str,
        status: u16,
        hint: Option<&'static str>,
    ) -> Classification {
        let mut h = HeaderMap::new();
        if let Some(v) = hint {
            h.insert("retry-after", HeaderValue::from_static(v));
        }
        classify(&Input::response(method, path, status, &h, b"")).classification()
    }

    fn attempt(method: &Method, number: u32, remaining: Option<Duration>) -> Attempt<'_> {
        Attempt {
            method,
            idempotency_key: false,
            number,
            remaining,
        }
    }

    fn decide(c: &Classification, a: &Attempt<'_>) -> RetryDecision {
        let budget = RetryBudget::default();
        let mut backoff = ExponentialBackoff::default();
        RetryPolicy::default().decide(c, a, &mut backoff, &budget, ManualClock::new().now())
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retries_a_get_503_with_backoff_and_stops_at_max_attempts() {
        let get = Method::GET;
        let c = outcome(&get, "/v3/devices", 503, None);
        assert_eq!(
            decide(&c, &attempt(&get, 1, None)),
            RetryDecision::Retry {
                after: Duration::from_millis(250),
                wait: Wait::Backoff
            }
        );
        assert_eq!(
            decide(&c, &attempt(&get, 5, None)),
            RetryDecision::Stop(Stop::AttemptsExhausted)
        );
    }

    #[test]
    fn honours_and_clamps_retry_after_and_respects_the_deadline() {
        let get = Method::GET;
        let c = outcome(&get, "/v3/devices", 429, Some("7"));
        assert_eq!(
            decide(&c, &attempt(&get, 1, Some(S(30)))),
            RetryDecision::Retry {
                after: S(7),
                wait: Wait::RetryAfter
            }
        );
        assert_eq!(
            decide(&c, &attempt(&get, 1, Some(S(7)))),
            RetryDecision::Stop(Stop::Deadline)
        );
        let c = outcome(&get, "/v3/devices", 503, Some("3600"));
        assert_eq!(
            decide(&c, &attempt(&get, 1, None)),
            RetryDecision::Retry {
                after: S(60),
                wait: Wait::RetryAfter
            }
        );
        let c = outcome(&get, "/v3/devices", 429, None);
        assert_eq!(
            decide(&c, &attempt(&get, 1, None)),
            RetryDecision::Retry {
                after: S(1),
                wait: Wait::Throttle
            }
        );
    }

    #[test]
    fn method_safety() {
        let post = Method::POST;
        let c = outcome(&post, "/v3/devices", 503, Some("1"));
        assert_eq!(
            decide(&c, &attempt(&post, 1, None)),
            RetryDecision::Stop(Stop::UnsafeToReplay)
        );
        let keyed = Attempt {
            idempotency_key: true,
            ..attempt(&post, 1, None)
        };
        assert!(matches!(decide(&c, &keyed), RetryDecision::Retry { .. }));
        let c = outcome(&post, "/v3/devices", 429, None);
        assert!(matches!(
            decide(&c, &attempt(&post, 1, None)),
            RetryDecision::Retry { .. }
        ));
        let c = outcome(&post, "/v3/devices", 409, None);
        assert_eq!(
            decide(&c, &attempt(&post, 1, None)),
            RetryDecision::Stop(Stop::NotRetryable)
        );
    }

    #[test]
    fn device_waits_and_dependency_cap() {
        let post = Method::POST;
        let mut h = HeaderMap::new();
        h.insert("x", HeaderValue::from_static("y"));
        let full = classify(&Input::response(
            &post,
            "/v2/device-requests/d1",
            400,
            &h,
            b"QUEUE_IS_FULL",
        ))
        .classification();
        assert_eq!(
            decide(&full, &attempt(&post, 1, None)),
            RetryDecision::Retry {
                after: S(1),
                wait: Wait::Device
            }
        );
        let c = outcome(&post, "/v3/certificate-issuers", 424, None);
        let keyed = |n| Attempt {
            idempotency_key: true,
            ..attempt(&post, n, None)
        };
        assert!(matches!(decide(&c, &keyed(2)), RetryDecision::Retry { .. }));
        assert_eq!(
            decide(&c, &keyed(3)),
            RetryDecision::Stop(Stop::AttemptsExhausted)
        );
    }

    #[test]
    fn budget_is_withdrawn_only_on_retry() {
        let clock = ManualClock::new();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(1.0)
            .build()
            .unwrap();
        budget.deposit(clock.now());
        let policy = RetryPolicy::default();
        let mut backoff = ExponentialBackoff::default();
        let get = Method::GET;
        let not = outcome(&get, "/v3/devices", 404, None);
        let c = outcome(&get, "/v3/devices", 503, None);
        let a = attempt(&get, 1, None);
        assert!(matches!(
            policy.decide(&not, &a, &mut backoff, &budget, clock.now()),
            RetryDecision::Stop(_)
        ));
        assert!(matches!(
            policy.decide(&c, &a, &mut backoff, &budget, clock.now()),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(
            policy.decide(&c, &a, &mut backoff, &budget, clock.now()),
            RetryDecision::Stop(Stop::BudgetExhausted)
        );
    }

    #[test]
    fn validation_names_the_field() {
        let err = RetryPolicy::default()
            .with_max_retry_after(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert_eq!(err.field(), "retry.max_retry_after");
        assert_eq!(RetryPolicy::never().max_attempts(), 1);
    }
}
