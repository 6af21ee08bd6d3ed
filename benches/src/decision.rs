//! One full decision on the success path, as the adapters make it per attempt.

use std::time::{Duration, Instant};

use http::{HeaderMap, Method};
use resile_policy::breaker::Feedback;
use resile_policy::classify::{Input, classify};
use resile_policy::retry::{Attempt, RetryDecision, Stop};
use resile_policy::{CircuitBreaker, ExponentialBackoff, HostSignal, RetryBudget, RetryPolicy};

/// The state a client keeps per host, and the per-request backoff.
#[derive(Debug, Default)]
pub struct Host {
    /// The host's breaker.
    pub breaker: CircuitBreaker,
    /// The host's retry budget.
    pub budget: RetryBudget,
    /// Retry limits.
    pub policy: RetryPolicy,
    /// This request's backoff sequence.
    pub backoff: ExponentialBackoff,
}

/// Classify a 200, consult the breaker, decide (no retry), deposit in the budget,
/// record the success: what every successful attempt costs.
pub fn success_path(host: &mut Host, headers: &HeaderMap, now: Instant) -> RetryDecision {
    let method = Method::GET;
    let permit = host.breaker.try_acquire(now).ok();
    let outcome = classify(&Input::response(&method, "/v3/devices", 200, headers, b""));
    let c = outcome.classification();
    let attempt = Attempt {
        method: &method,
        idempotency_key: false,
        number: 1,
        remaining: Some(Duration::from_secs(30)),
    };
    let decision = host
        .policy
        .decide(&c, &attempt, &mut host.backoff, &host.budget, now);
    if c.is_success() {
        host.budget.deposit(now);
    }
    if let Some(permit) = permit {
        let feedback = match c.host_signal() {
            HostSignal::Success => Feedback::Success,
            HostSignal::Failure => Feedback::Failure,
            _ => Feedback::Ignore,
        };
        let _ = host
            .breaker
            .record(permit, feedback, Duration::from_millis(3), now);
    }
    debug_assert_eq!(decision, RetryDecision::Stop(Stop::NotRetryable));
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use resile_policy::{Clock, ManualClock};

    #[test]
    fn the_success_path_allocates_nothing() {
        let clock = ManualClock::new();
        let mut host = Host::default();
        let headers = HeaderMap::new();
        success_path(&mut host, &headers, clock.now()); // warm up lazily built state
        let info = allocation_counter::measure(|| {
            for _ in 0..1000 {
                clock.advance(Duration::from_millis(1));
                std::hint::black_box(success_path(&mut host, &headers, clock.now()));
            }
        });
        assert_eq!(info.count_total, 0, "{info:?}");
    }

    #[test]
    fn the_counter_does_count() {
        let info = allocation_counter::measure(|| {
            std::hint::black_box(vec![1u8; 64]);
        });
        assert_eq!(info.count_total, 1);
    }
}
