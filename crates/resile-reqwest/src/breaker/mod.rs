//! [`BreakerMiddleware`]: one circuit breaker per host, fed only by host trouble.

mod builder;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Response, Url};
use resile_policy::breaker::{Feedback, Permit, State, Transition};
use resile_policy::{
    BreakerConfig, CircuitBreaker, Classification, Classify, Clock, DefaultRng, HostSignal,
};

pub use builder::BreakerMiddlewareBuilder;

use crate::hosts::{Host, Hosts};
use crate::parts::{authority, result_authority};
use crate::{Error, TokioClock, telemetry};

/// Called with the host and every breaker transition.
pub(crate) type Hook = Arc<dyn Fn(&str, &Transition) + Send + Sync>;

/// A circuit breaker per host: stop sending to a host that is down, fail fast while
/// it is, and probe to find out when it is back.
///
/// One [`CircuitBreaker`] per host (`host[:port]`), kept in a bounded
/// [`Registry`](resile_policy::Registry) (in a [`Service`](crate::Service), one
/// shared with the retry budgets and paces). Each attempt asks the host's breaker first; an open breaker answers
/// with [`Error::circuit_open`] at once, and the rest of the chain (pacing, the
/// network) never sees the request. An admitted attempt runs, is classified once (in a
/// [`Stack`](crate::Stack), once for all its layers) and its [`HostSignal`] is fed
/// back:
///
/// | classification | feedback |
/// |---|---|
/// | 5xx server, gateway or unavailable on a host route; transport failure | failure |
/// | success; request-scoped fix-request, re-auth or fatal answer | success |
/// | 429 (pacing), 408 and 424 (retried, not counted) | ignored |
/// | anything device-scoped (a sleeping device's 502, `QUEUE_IS_FULL`) | ignored |
/// | an error this layer did not classify (another middleware's) | ignored |
///
/// # Why device outcomes are ignored
///
/// In a large fleet some devices always sleep, and their 502/503/504 on a device
/// route are routine. A host breaker fed with them would open and cut off every
/// healthy device and every other route. Device trouble goes to the
/// [`DeviceGateMiddleware`](crate::DeviceGateMiddleware) instead.
///
/// # Defaults and why
///
/// The policy's own default trips on 5 failures in a row. At a 20 % independent
/// failure rate a given call starts such a run with probability 0.8 × 0.2⁵ ≈ 2.6e-4,
/// about once every 3 900 calls: a healthy but flaky host would be cut off for seconds
/// several times an hour. This adapter starts from [`config_builder`]:
///
/// | setting | value | why |
/// |---|---|---|
/// | consecutive failures | 10 | 0.8 × 0.2¹⁰ ≈ 8e-8: one spurious trip per ~12 million calls at 20 % flakiness; a full 500/503 storm still opens after 10 attempts (two requests with 5 attempts each) |
/// | failure ratio | 0.5 | a host failing half its calls is better left alone |
/// | minimum calls | 40 in the window | with 20 calls, P(≥ 10 of 20 fail at 20 %) = 2.6e-3, and a client doing ~2 calls/s tripped about once per 2 000 calls in simulation; with 40, P(≥ 20 of 40) = 2.2e-5, and the worst rate (~4 calls/s) tripped ~2.5 times per million calls |
/// | window | 10 s | long enough to smooth bursts, short enough to forget |
/// | open for | 1 s, doubling per failed probe up to 60 s, ±10 % jitter | a probe costs one request, so probing early is cheap: after an outage of any length the circuit closes within about that length again (probes at 1, 3, 7, 15 s ... after the trip), and a dead host still sees only ~7 probes in its first two minutes, then one a minute |
/// | probes | 1, declared lost after 10 s | |
/// | hosts tracked | 1024, idle breakers evicted first | |
///
/// Each host's breaker draws its jitter from its own seed (the host name mixed
/// with a base seed), so clients and hosts that tripped together do not probe in
/// lockstep; set [`seed`](BreakerMiddlewareBuilder::seed) for reproducible tests.
///
/// # Note
///
/// Put it inside the [`RetryMiddleware`](crate::RetryMiddleware): every attempt,
/// retries included, then asks the breaker, and an open circuit ends the retries
/// (its error is not classified, so it is returned as is). A request cancelled
/// mid-flight hands its probe slot back without a verdict.
///
/// [`config_builder`]: BreakerMiddleware::config_builder
///
/// # Example
///
/// ```
/// use resile_reqwest::BreakerMiddleware;
///
/// let breaker = BreakerMiddleware::builder()
///     .on_transition(|host, t| eprintln!("{host}: {} -> {}", t.from, t.to))
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(breaker)
///     .build();
/// # drop(client);
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
pub struct BreakerMiddleware {
    hosts: Hosts,
    config: BreakerConfig,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    base_seed: u64,
    hook: Option<Hook>,
    opens: AtomicU64,
}

impl BreakerMiddleware {
    /// A builder with the documented defaults.
    pub fn builder() -> BreakerMiddlewareBuilder {
        BreakerMiddlewareBuilder::default()
    }

    /// The policy's breaker builder preloaded with this adapter's defaults (see the
    /// [table](Self#defaults-and-why)): change what you need, then pass its
    /// `config()` to [`BreakerMiddlewareBuilder::config`].
    pub const fn config_builder() -> resile_policy::breaker::BreakerBuilder {
        CircuitBreaker::builder()
            .consecutive_failures(10)
            .failure_ratio(0.5)
            .minimum_calls(40)
            .window(Duration::from_secs(10))
            .open_for(Duration::from_secs(1))
            .max_open_for(Duration::from_secs(60))
            .jitter(0.1)
            .probes(1)
            .probe_timeout(Duration::from_secs(10))
    }

    /// The configuration every host's breaker is built with.
    pub const fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state of `host`'s breaker (`host[:port]`, as in the URL), or `None` if
    /// the host is not tracked (never seen, or evicted while idle).
    pub fn state(&self, host: &str) -> Option<State> {
        let now = TokioClock.now();
        Some(self.hosts.get(host)?.breaker.get()?.state(now))
    }

    /// Transitions to Open so far, over every host (trips, failed probes and
    /// isolations).
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    /// Hosts tracked now (at most `max_hosts`; in a [`Service`](crate::Service),
    /// the hosts its layers track together: its own hosts, always, and at most
    /// `max_hosts` others).
    pub fn tracked_hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Forces `host`'s breaker open until [`reset`](Self::reset), tracking the host
    /// if needed. Returns the transition (also reported as usual), or `None` if it
    /// was already isolated.
    pub fn isolate(&self, host: &str) -> Option<Transition> {
        let t = self
            .breaker_in(|| host, &self.hosts.entry(host))
            .isolate(TokioClock.now());
        if let Some(t) = &t {
            self.report(host, t);
        }
        t
    }

    /// Forces `host`'s breaker closed with fresh counts. Returns the transition
    /// (also reported as usual), or `None` if it was closed or not tracked.
    pub fn reset(&self, host: &str) -> Option<Transition> {
        let t = self.hosts.get(host)?.breaker.get()?.reset(TokioClock.now());
        if let Some(t) = &t {
            self.report(host, t);
        }
        t
    }

    /// The per-host table the breakers live in.
    pub(crate) fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    /// Keeps the breakers in `hosts`, shared with the service's other layers.
    pub(crate) fn share(&mut self, hosts: &Hosts) {
        self.hosts = hosts.clone();
    }

    /// The breaker of `host`, whose state is `entry`, made on first use.
    fn breaker_in<'h, 'n>(
        &self,
        host: impl FnOnce() -> &'n str,
        entry: &'h Host,
    ) -> &'h CircuitBreaker {
        entry.breaker.get_or_init(|| {
            let seed = host_seed(self.base_seed, host());
            CircuitBreaker::with_rng(self.config, DefaultRng::new(seed))
        })
    }

    /// Logs, counts and hands `t` to the hook: the one place transitions go.
    fn report(&self, host: &str, t: &Transition) {
        let open_for_ms = t.open_for.map(|d| d.as_millis() as u64);
        if t.to == State::Open {
            self.opens.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "resile::breaker", host, from = t.from.as_str(), to = t.to.as_str(), cause = ?t.cause, open_for_ms, "circuit opened");
        } else {
            tracing::info!(target: "resile::breaker", host, from = t.from.as_str(), to = t.to.as_str(), cause = ?t.cause, open_for_ms, "circuit state changed");
        }
        telemetry::breaker(host, t.to.as_str());
        if let Some(hook) = &self.hook {
            hook(host, t);
        }
    }
}

impl std::fmt::Debug for BreakerMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerMiddleware")
            .field("hosts", &self.hosts)
            .field("config", &self.config)
            .field("classifier", &self.classifier)
            .field("body_limit", &self.body_limit)
            .field("hook", &self.hook.as_ref().map(|_| "Fn"))
            .field("opens", &self.opens())
            .finish_non_exhaustive()
    }
}

/// What an outcome tells the host's breaker (spec §4.4).
const fn feedback(signal: HostSignal) -> Feedback {
    match signal {
        HostSignal::Failure => Feedback::Failure,
        HostSignal::Success => Feedback::Success,
        _ => Feedback::Ignore,
    }
}

/// A distinct, deterministic seed per host: FNV-1a of the name, mixed with `base`
/// by SplitMix64.
fn host_seed(base: u64, host: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = base ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An admitted attempt: the breaker that admitted it (borrowed from the host's
/// entry, which the request holds), its permit and when it was sent. Dropped
/// without [`BreakerMiddleware::settle`] (the request was cancelled, or a layer
/// further in refused it), it is recorded as [`Feedback::Ignore`] so a half-open
/// probe slot frees at once.
pub(crate) struct Admitted<'h> {
    breaker: &'h CircuitBreaker,
    permit: Option<Permit>,
    start: Instant,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let breaker = self.breaker;
            // `Ignore` never changes state, so there is no transition to report.
            let _ = breaker.record(permit, Feedback::Ignore, Duration::ZERO, TokioClock.now());
        }
    }
}

impl BreakerMiddleware {
    /// Asks the breaker of `url`'s host (in `entry`, from [`hosts`](Self::hosts))
    /// for an attempt at `now`: admitted, or the open-circuit error to fail with at
    /// once.
    pub(crate) fn admit<'h>(
        &self,
        url: &Url,
        entry: &'h Host,
        now: Instant,
    ) -> Result<Admitted<'h>, Error> {
        let breaker = self.breaker_in(|| authority(url), entry);
        let permit = match breaker.try_acquire(now) {
            Ok(permit) => permit,
            Err(open) => {
                let host = authority(url);
                let retry_after = open.retry_after(now);
                tracing::debug!(target: "resile::breaker", host, retry_after_ms = retry_after.as_millis() as u64, isolated = open.is_isolated(), "circuit open: failing fast");
                telemetry::rejected(host, "circuit_open");
                return Err(Error::circuit_open(host, retry_after, open.is_isolated()));
            }
        };
        if let Some(t) = permit.transition() {
            self.report(authority(url), &t);
        }
        Ok(Admitted {
            breaker,
            permit: Some(permit),
            start: now,
        })
    }

    /// Feeds an admitted attempt's outcome (`seen`, `None` when unclassified) back
    /// to its breaker at `now`.
    pub(crate) fn settle(
        &self,
        mut admitted: Admitted<'_>,
        seen: Option<&Classification>,
        result: &reqwest_middleware::Result<Response>,
        now: Instant,
    ) {
        let feedback = seen.map_or(Feedback::Ignore, |c| feedback(c.host_signal()));
        let Some(permit) = admitted.permit.take() else {
            return;
        };
        let breaker = admitted.breaker;
        // Only a slow-call threshold looks at the latency.
        let latency = if self.times_successes() {
            now.saturating_duration_since(admitted.start)
        } else {
            Duration::ZERO
        };
        if let Some(t) = breaker.record(permit, feedback, latency, now) {
            // The request went down the chain: the answer names the host.
            self.report(result_authority(result).unwrap_or("an unknown host"), &t);
        }
    }

    /// The classifier and body limit this layer judges outcomes with.
    pub(crate) fn classifier(&self) -> (&dyn Classify, usize) {
        (self.classifier.as_ref(), self.body_limit)
    }

    /// Whether a success's latency matters (a slow-call threshold is set), so the
    /// end of every attempt must be timed.
    pub(crate) fn times_successes(&self) -> bool {
        self.config.slow_call().is_some()
    }
}

crate::driver::middleware!(BreakerMiddleware, breaker);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_seeds_differ_per_host_and_repeat_per_base() {
        assert_ne!(host_seed(1, "a.example.com"), host_seed(1, "b.example.com"));
        assert_ne!(host_seed(1, "a.example.com"), host_seed(2, "a.example.com"));
        assert_eq!(host_seed(1, "a.example.com"), host_seed(1, "a.example.com"));
    }

    #[test]
    fn only_host_failures_and_successes_are_judged() {
        assert_eq!(feedback(HostSignal::Failure), Feedback::Failure);
        assert_eq!(feedback(HostSignal::Success), Feedback::Success);
        for s in [
            HostSignal::Throttled,
            HostSignal::Neutral,
            HostSignal::Device,
        ] {
            assert_eq!(feedback(s), Feedback::Ignore);
        }
    }

    #[test]
    fn adapter_defaults_are_valid() {
        let c = BreakerMiddleware::config_builder().config().unwrap();
        assert_eq!(c.consecutive_failures(), 10);
        assert_eq!(c.minimum_calls(), 40);
    }

    #[test]
    fn middleware_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<BreakerMiddleware>();
    }
}
