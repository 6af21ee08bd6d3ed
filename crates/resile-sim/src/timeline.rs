//! When faults happen, to which requests and how often.
//!
//! Times are measured from [`SimBuilder::start`](crate::SimBuilder::start) (or the last
//! [`SimHandle::reset`](crate::SimHandle::reset)). Faults are checked in timeline
//! order; the first one that fires decides the answer, except [`Fault::Slow`] (delays
//! add up), [`Fault::TokenExpiry`] (tightens the token check) and [`Fault::Truncated`] /
//! [`Fault::LostResponse`] (applied after the request was handled). Whether a fault
//! fires is drawn from the seed, the request's sequence number and the fault's index,
//! so the same seed and request order give the same decisions.

use std::time::Duration;

use http::Method;

use crate::{Fault, Lost, RouteKind};

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Every API request; the simulator's own `/__sim/*` routes are left alone.
    All,
    /// One kind of route (this can name [`RouteKind::Token`], to fault the token route).
    Route(RouteKind),
    /// Paths starting with this prefix (raw, before decoding); control routes too, if
    /// the prefix names them.
    PathPrefix(String),
    /// One method, on API routes.
    Method(Method),
    /// Non-idempotent API requests: POST and PATCH.
    NonIdempotent,
}

impl Target {
    /// Whether a request with this method, path and route kind is targeted.
    pub fn matches(&self, method: &Method, path: &str, kind: RouteKind) -> bool {
        match self {
            Self::Route(k) => *k == kind,
            Self::PathPrefix(prefix) => path.starts_with(prefix.as_str()),
            _ if kind.is_control() => false,
            Self::All => true,
            Self::Method(m) => m == method,
            Self::NonIdempotent => *method == Method::POST || *method == Method::PATCH,
        }
    }
}

/// A [`Fault`] with a time window, a [`Target`] and a probability.
///
/// ```
/// use std::time::Duration;
/// use resile_sim::{Fault, TimedFault, Target, RouteKind};
///
/// // 30 % of device commands fail with 503 between 1 s and 4 s.
/// let f = TimedFault::new(Fault::Outage { status: 503 })
///     .between(Duration::from_secs(1), Duration::from_secs(4))
///     .on(Target::Route(RouteKind::DeviceRequest))
///     .probability(0.3);
/// assert!(f.is_active(Duration::from_secs(2)));
/// assert!(!f.is_active(Duration::from_secs(4)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    fault: Fault,
    start: Duration,
    end: Option<Duration>,
    every: Option<Duration>,
    target: Target,
    probability: f64,
}

impl TimedFault {
    /// `fault` on every API request, from time zero, forever, with probability 1.
    pub const fn new(fault: Fault) -> Self {
        Self {
            fault,
            start: Duration::ZERO,
            end: None,
            every: None,
            target: Target::All,
            probability: 1.0,
        }
    }

    /// Active from `start` (default zero).
    #[must_use]
    pub const fn from(mut self, start: Duration) -> Self {
        self.start = start;
        self
    }

    /// Active until `end`, exclusive (default: forever).
    #[must_use]
    pub const fn until(mut self, end: Duration) -> Self {
        self.end = Some(end);
        self
    }

    /// Active in `[start, end)`.
    #[must_use]
    pub const fn between(self, start: Duration, end: Duration) -> Self {
        self.from(start).until(end)
    }

    /// Repeats the `[start, end)` window every `period` (which must be at least the
    /// window's length; `end` is required).
    #[must_use]
    pub const fn every(mut self, period: Duration) -> Self {
        self.every = Some(period);
        self
    }

    /// Applies to `target` (default [`Target::All`]).
    #[must_use]
    pub fn on(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Fires on each targeted request with probability `p` (default 1). Ignored by
    /// [`Fault::TokenExpiry`] and by a rate-limiting [`Fault::Throttle`].
    #[must_use]
    pub const fn probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    /// The fault.
    pub const fn fault(&self) -> &Fault {
        &self.fault
    }

    /// The target.
    pub const fn target(&self) -> &Target {
        &self.target
    }

    /// The probability of firing.
    pub const fn chance(&self) -> f64 {
        self.probability
    }

    /// Whether the window is open `at` this time since start.
    pub fn is_active(&self, at: Duration) -> bool {
        let Some(since) = at.checked_sub(self.start) else {
            return false;
        };
        match (self.end, self.every) {
            (Some(end), Some(period)) if !period.is_zero() => {
                let len = end.saturating_sub(self.start);
                Duration::from_nanos((since.as_nanos() % period.as_nanos()) as u64) < len
            }
            (Some(end), _) => at < end,
            (None, _) => true,
        }
    }

    /// Why this timed fault cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if let Some(problem) = self.fault.problem() {
            return Some(problem);
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return Some("probability must be in [0, 1]");
        }
        match (self.end, self.every) {
            (Some(end), _) if end <= self.start => Some("the window must end after it starts"),
            (None, Some(_)) => Some("a repeating window needs an end"),
            (Some(end), Some(period)) if period < end - self.start || period.is_zero() => {
                Some("the period must be at least the window's length")
            }
            _ => None,
        }
    }
}

/// An ordered list of [`TimedFault`]s.
///
/// ```
/// use std::time::Duration;
/// use resile_sim::Timeline;
///
/// // A 3 s storm (503/500 mix) starting at 3 s, repeating every 9 s.
/// let storm = Timeline::storm(Duration::from_secs(3), Duration::from_secs(3), Some(Duration::from_secs(9)));
/// assert_eq!(storm.faults().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    faults: Vec<TimedFault>,
}

impl Timeline {
    /// An empty timeline: no faults.
    pub const fn new() -> Self {
        Self { faults: Vec::new() }
    }

    /// The timeline with `fault` appended.
    #[must_use]
    pub fn with(mut self, fault: TimedFault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Appends `fault`.
    pub fn push(&mut self, fault: TimedFault) {
        self.faults.push(fault);
    }

    /// Appends every fault of `other`.
    pub fn extend(&mut self, other: Self) {
        self.faults.extend(other.faults);
    }

    /// The faults, in order.
    pub fn faults(&self) -> &[TimedFault] {
        &self.faults
    }

    /// A storm: from `start`, every API request fails for `outage_len`, half with 503
    /// `system_unavailable` and half with 500 `internal_server_error` (drawn per
    /// request); with `every`, the window repeats with that period.
    pub fn storm(start: Duration, outage_len: Duration, every: Option<Duration>) -> Self {
        let window = |fault: Fault, p: f64| {
            let f = TimedFault::new(fault)
                .between(start, start + outage_len)
                .probability(p);
            match every {
                Some(period) => f.every(period),
                None => f,
            }
        };
        Self::new()
            .with(window(Fault::Outage { status: 503 }, 0.5))
            .with(window(Fault::Outage { status: 500 }, 1.0))
    }

    /// Like [`storm`](Self::storm), preceded by a [`Fault::LostResponse`] (answered with
    /// 503) on a share `lost_p` of non-idempotent requests in the same windows: those are
    /// executed, then reported as failed.
    pub fn storm_with_lost_responses(
        start: Duration,
        outage_len: Duration,
        every: Option<Duration>,
        lost_p: f64,
    ) -> Self {
        let mut lost = TimedFault::new(Fault::LostResponse {
            then: Lost::Status(503),
        })
        .between(start, start + outage_len)
        .on(Target::NonIdempotent)
        .probability(lost_p);
        if let Some(period) = every {
            lost = lost.every(period);
        }
        let mut timeline = Self::new().with(lost);
        timeline.extend(Self::storm(start, outage_len, every));
        timeline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn windows_open_and_close_and_repeat() {
        let f = TimedFault::new(Fault::Reset).between(ms(100), ms(200));
        assert!(!f.is_active(ms(99)) && f.is_active(ms(100)) && f.is_active(ms(199)));
        assert!(!f.is_active(ms(200)));
        let r = f.every(ms(300));
        assert!(r.is_active(ms(450)) && !r.is_active(ms(350)) && r.is_active(ms(1000)));
        assert!(
            TimedFault::new(Fault::Reset)
                .from(ms(5))
                .is_active(ms(1_000_000))
        );
    }

    #[test]
    fn invalid_windows_are_reported() {
        let f = TimedFault::new(Fault::Reset);
        assert!(f.clone().between(ms(2), ms(1)).problem().is_some());
        assert!(f.clone().every(ms(10)).problem().is_some());
        assert!(
            f.clone()
                .between(ms(0), ms(20))
                .every(ms(10))
                .problem()
                .is_some()
        );
        assert!(f.clone().probability(-0.1).problem().is_some());
        assert!(f.between(ms(0), ms(10)).every(ms(10)).problem().is_none());
    }

    #[test]
    fn targets_leave_control_routes_alone_unless_named() {
        let post = Method::POST;
        assert!(Target::All.matches(&post, "/v3/devices", RouteKind::CreateDevice));
        assert!(!Target::All.matches(&post, "/__sim/token", RouteKind::Token));
        assert!(Target::Route(RouteKind::Token).matches(&post, "/__sim/token", RouteKind::Token));
        assert!(Target::NonIdempotent.matches(
            &post,
            "/v2/device-requests/x",
            RouteKind::DeviceRequest
        ));
        assert!(!Target::NonIdempotent.matches(
            &Method::GET,
            "/v3/devices",
            RouteKind::ListDevices
        ));
        assert!(Target::PathPrefix("/v3/".into()).matches(
            &Method::GET,
            "/v3/devices",
            RouteKind::ListDevices
        ));
        assert!(!Target::Method(Method::GET).matches(
            &post,
            "/v3/devices",
            RouteKind::CreateDevice
        ));
    }
}
