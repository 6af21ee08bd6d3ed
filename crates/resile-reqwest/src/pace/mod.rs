//! Pacing: a per-host quota, the host's own `Retry-After` shared by every request to
//! it, and a pace that slows down when the host throttles without saying for how long.
//!
//! # Why share the hold
//!
//! When a host answers 429 (or 503) with `Retry-After: 3`, it has said something
//! about *itself*, not about the one request that got the answer. A retry layer that
//! only honours the hint for the request that received it lets every other request
//! in the process discover the limit again, each one paying an attempt (and, on the
//! "API calls" billing model, money) and feeding the throttling. So this layer
//! records a hold per host, and a request that arrives while it runs waits for its
//! end before it is sent, or fails fast with [`Error::is_host_held`] when the end
//! lies past its [`Deadline`](crate::Deadline).
//!
//! Only host-scoped outcomes count. A 429 on `/v2/endpoints/{id}/…` means *that
//! device's* queue is full, and a 503 on a device route means one device is
//! unreachable; neither slows the host (spec §4.4, §7).
//!
//! # Why an adaptive pace
//!
//! No public source documents the API's rate limit (spec §7), so a client must learn
//! it. Every 429 from the host lowers the host's pace to the rate the host accepted
//! in the last second — its apparent quota — or, when nothing got through, to one
//! request per 250 ms (the vendor's own bridge's pace) and then half of that. Each
//! success raises the rate slowly (about +0.25 requests/s every second), probing for
//! more capacity at the cost of roughly one extra 429 every few seconds. This is
//! additive-increase / multiplicative-decrease, as TCP does, and 429s to requests
//! that were already in flight when the pace was lowered do not lower it again.
//! A hinted 429 does both: it holds the host *and* lowers the pace, because a hold
//! alone releases every waiting request at once when it ends, and most of them only
//! meet the limit again.

mod accepted;
mod builder;
mod host;
mod quota;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Response, Url};
use resile_policy::{Classification, Classify, Clock, HostSignal, Reason, Scope};

pub use builder::PacingBuilder;

use crate::hosts::{Host, Hosts};
use crate::parts::{authority, result_authority};
use crate::{Error, TokioClock, telemetry};
use host::AdaptiveConfig;
pub(crate) use host::HostPace;
use quota::HostQuota;

/// Paces the requests to each host: an optional quota, the host's `Retry-After`
/// holds, and an adaptive pace after 429s.
///
/// Before each attempt it waits, on the tokio timer, for (1) a running hold on the
/// host, (2) a cell of the host's quota, (3) the host's adaptive slot, and checks the
/// hold once more. After the attempt it reads the classification (via the layer's
/// classifier, or in a [`Stack`](crate::Stack) the one verdict for all layers):
///
/// | outcome (host scope) | effect |
/// |---|---|
/// | 429 or 503 with `Retry-After` | hold the host until now + hint (clamped), the later end wins |
/// | any 429 | lower the host's pace to what it accepted in the last second |
/// | success | counted as accepted; raises a lowered pace |
/// | anything device-scoped | nothing |
///
/// A wait never runs past the request's [`Deadline`](crate::Deadline): a hold ending at or after it
/// fails with [`Error::is_host_held`] (carrying the time left), a quota or pace slot
/// after it with [`Error::is_deadline_exceeded`], both at once and without sending.
///
/// # Defaults
///
/// | setting | value |
/// |---|---|
/// | quota | none: no public source gives the API's rate (spec §7); 4/s is the vendor's bulk pace |
/// | hold clamp | 60 s, as the retry layer's `Retry-After` clamp |
/// | longest hold wait | 60 s, so a clamped hold is always waited out within the deadline |
/// | adaptive pace | on: after a 429, the rate the host accepted in the last second (or 4/s when it accepted none, then halved per further 429, down to one per 4 s); +0.25/s every second while successes come; lifted at four times the rate it was set to |
/// | hosts tracked | 1024 holds and paces, least recently used evicted (running holds kept first) |
///
/// # Note
///
/// Place it innermost (Retry → Auth → Breaker → DeviceGate → Pacing), so that every
/// attempt, retries included, is paced and observed. It does not see the retry
/// layer's configured deadline, only a [`Deadline`](crate::Deadline) extension on the request.
/// Waiting requests are not queued in order: when a hold ends they all leave
/// together unless a quota spaces them.
///
/// State is bounded: holds and paces live in a
/// [`Registry`](resile_policy::Registry) of at most
/// [`max_hosts`](PacingBuilder::max_hosts) hosts (in a
/// [`Service`](crate::Service), one shared with the breakers and retry budgets); the quota's keyed governor store
/// drops, every 256 checks, the hosts whose budget has refilled (which forgets
/// nothing), so it holds about the hosts used within one burst period.
#[derive(Debug)]
pub struct PacingMiddleware {
    quota: Option<HostQuota>,
    hosts: Hosts,
    max_hold: Duration,
    max_hold_wait: Duration,
    adaptive: Option<AdaptiveConfig>,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    holds: AtomicU64,
    slowdowns: AtomicU64,
    waited_ns: AtomicU64,
}

impl PacingMiddleware {
    /// A builder with the documented defaults.
    pub fn builder() -> PacingBuilder {
        PacingBuilder::default()
    }

    /// Pacing with every default: holds and the adaptive pace, no quota.
    pub fn new() -> Self {
        PacingBuilder::default()
            .build()
            .expect("the defaults are valid")
    }

    /// How many times a `Retry-After` set or extended a host's hold.
    pub fn holds(&self) -> u64 {
        self.holds.load(Ordering::Relaxed)
    }

    /// How many times an unhinted 429 lowered a host's pace.
    pub fn slowdowns(&self) -> u64 {
        self.slowdowns.load(Ordering::Relaxed)
    }

    /// The total time requests spent waiting in this layer (holds, quota, pace).
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }

    /// How long the hold on `host` (`host[:port]`) still runs, if any.
    pub fn hold_remaining(&self, host: &str) -> Option<Duration> {
        let now = TokioClock.now();
        let until = self.hosts.get(host)?.pace.get()?.held_until(now)?;
        Some(until - now)
    }

    /// The interval between requests to `host` while its pace is lowered.
    pub fn pace_interval(&self, host: &str) -> Option<Duration> {
        self.hosts.get(host)?.pace.get()?.interval()
    }

    async fn sleep_counted(&self, wait: Duration) {
        TokioClock.sleep(wait).await;
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.waited_ns.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Waits for the host's hold, quota and pace, in that order; then once more for
    /// a hold that began meanwhile.
    ///
    /// Returns when the request may leave (the time of the last check).
    async fn wait_turn(
        &self,
        host: &str,
        pace: &HostPace,
        deadline: Option<Instant>,
    ) -> Result<Instant, Error> {
        let mut paced = false;
        loop {
            let now = TokioClock.now();
            if let Some(until) = pace.held_until(now) {
                let left = until - now;
                if deadline.is_some_and(|d| until >= d) || left > self.max_hold_wait {
                    telemetry::rejected(host, "host_held");
                    return Err(Error::host_held(host, left));
                }
                tracing::debug!(target: "resile::pace", host = %host, wait_ms = left.as_millis() as u64, "waiting for the host's Retry-After hold");
                self.sleep_counted(left).await;
                continue;
            }
            if paced {
                return Ok(now);
            }
            paced = true;
            if let Some(quota) = &self.quota {
                while let Err(wait) = quota.check(host) {
                    let wait = wait.max(Duration::from_millis(1));
                    self.check_deadline(host, wait, deadline)?;
                    self.sleep_counted(wait).await;
                }
            }
            match pace.reserve(now, deadline) {
                // The common case: nothing to wait for, no second look at the clock.
                Ok(wait) if wait.is_zero() && self.quota.is_none() => return Ok(now),
                Ok(wait) => self.sleep_counted(wait).await,
                Err(_) => {
                    telemetry::rejected(host, "pacing");
                    return Err(Error::deadline_exceeded(host, "pacing"));
                }
            }
        }
    }

    fn check_deadline(
        &self,
        host: &str,
        wait: Duration,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        if deadline.is_some_and(|d| TokioClock.now() + wait >= d) {
            telemetry::rejected(host, "pacing");
            return Err(Error::deadline_exceeded(host, "pacing"));
        }
        Ok(())
    }

    /// Learns from one attempt's classification (`host` names it in logs).
    fn observe<'h>(
        &self,
        host: impl Fn() -> &'h str,
        pace: &HostPace,
        c: Classification,
        sent: Instant,
        now: Instant,
    ) {
        if c.host_signal() == HostSignal::Success {
            // Counted even at full speed: the accepted rate is what a 429 lowers the
            // pace to. The send time is close enough for one-second buckets.
            if let Some(cfg) = self.adaptive {
                pace.succeeded(cfg, sent);
            }
            return;
        }
        let held = c.scope() == Scope::Host
            && matches!(c.reason(), Some(Reason::Throttled | Reason::Unavailable));
        if let Some(hint) = c.retry_after().filter(|_| held) {
            let until = now + hint.min(self.max_hold);
            if pace.hold(until) {
                self.holds.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "resile::pace", host = %host(), hold_ms = (until - now).as_millis() as u64, status = c.status(), "holding the host (Retry-After)");
            }
        }
        // Every 429 from the host, hinted or not, lowers the pace towards what the
        // host accepts: a hold alone would release every waiter at once.
        if c.host_signal() == HostSignal::Throttled
            && let Some(cfg) = self.adaptive
            && pace.throttled(cfg, sent, now)
        {
            self.slowdowns.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "resile::pace", host = %host(), interval_ms = pace.interval().map(|i| i.as_millis() as u64), "429: lowering the pace");
        }
    }
}

impl Default for PacingMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

/// The pace of a host, made on first use.
fn pace_of(host: &Host) -> &HostPace {
    host.pace.get_or_init(HostPace::default)
}

/// A request let through the pacing layer: its host's pace (borrowed from the
/// host's entry, which the request holds) and when it left.
#[derive(Clone, Copy)]
pub(crate) struct Paced<'h> {
    pace: &'h HostPace,
    sent: Instant,
}

/// Where [`PacingMiddleware::try_pass`] left a request.
pub(crate) enum Pass<'h> {
    /// Through at once.
    Paced(Paced<'h>),
    /// A hold, a lowered pace or an empty quota: [`PacingMiddleware::pass_waiting`]
    /// takes it on.
    Wait,
}

impl PacingMiddleware {
    /// The per-host table the paces live in.
    pub(crate) fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    /// Keeps the paces in `hosts`, shared with the service's other layers.
    pub(crate) fn share(&mut self, hosts: &Hosts) {
        self.hosts = hosts.clone();
    }

    /// Lets a request to `url`'s host (whose state is `entry`, from
    /// [`hosts`](Self::hosts)) leave at `now` when nothing makes it wait.
    pub(crate) fn try_pass<'h>(&self, url: &Url, entry: &'h Host, now: Instant) -> Pass<'h> {
        let pace = pace_of(entry);
        if !pace.is_clear(now) {
            return Pass::Wait;
        }
        if let Some(quota) = &self.quota
            && quota.check(authority(url)).is_err()
        {
            return Pass::Wait;
        }
        Pass::Paced(Paced { pace, sent: now })
    }

    /// Waits for the host's hold, quota and pace (see [`wait_turn`](Self::wait_turn)).
    pub(crate) async fn pass_waiting<'h>(
        &self,
        host: &str,
        entry: &'h Host,
        deadline: Option<Instant>,
    ) -> Result<Paced<'h>, Error> {
        let pace = pace_of(entry);
        let sent = self.wait_turn(host, pace, deadline).await?;
        Ok(Paced { pace, sent })
    }

    /// Learns from the outcome `seen` of a paced request (`None`: unclassified).
    pub(crate) fn settle(
        &self,
        paced: Paced<'_>,
        seen: Option<&Classification>,
        result: &reqwest_middleware::Result<Response>,
        now: Instant,
    ) {
        if let Some(c) = seen {
            // The request went down the chain: the answer names the host.
            let host = || result_authority(result).unwrap_or("the host");
            self.observe(host, paced.pace, *c, paced.sent, now);
        }
    }

    /// The classifier and body limit this layer judges outcomes with.
    pub(crate) fn classifier(&self) -> (&dyn Classify, usize) {
        (self.classifier.as_ref(), self.body_limit)
    }
}

crate::driver::middleware!(PacingMiddleware, pacing);

#[cfg(test)]
mod tests {
    use resile_policy::Class;

    use super::*;

    const HINT: Option<Duration> = Some(Duration::from_secs(5));

    #[tokio::test(start_paused = true)]
    async fn only_host_scoped_throttling_and_outages_hold() {
        let pacing = PacingMiddleware::new();
        let host = "api.example.com".to_string();
        let sent = TokioClock.now();
        let entry = pacing.hosts.entry(&host);
        let pace = pace_of(&entry);
        let seen = |scope, reason| Classification::new(Class::Retryable, scope, Some(reason));
        // Even a custom classifier's device-scoped "throttled" never holds the host.
        pacing.observe(
            || host.as_str(),
            pace,
            seen(Scope::Device, Reason::Throttled).with_retry_after(HINT),
            sent,
            sent,
        );
        pacing.observe(
            || host.as_str(),
            pace,
            seen(Scope::Host, Reason::ServerError).with_retry_after(HINT),
            sent,
            sent,
        );
        pacing.observe(
            || host.as_str(),
            pace,
            seen(Scope::Host, Reason::Gateway).with_retry_after(HINT),
            sent,
            sent,
        );
        assert_eq!(pacing.holds(), 0);
        assert_eq!(pacing.hold_remaining(&host), None);
        pacing.observe(
            || host.as_str(),
            pace,
            seen(Scope::Host, Reason::Unavailable).with_retry_after(HINT),
            sent,
            sent,
        );
        assert_eq!(pacing.hold_remaining(&host), HINT);
        assert_eq!((pacing.holds(), pacing.slowdowns()), (1, 0));
    }
}
