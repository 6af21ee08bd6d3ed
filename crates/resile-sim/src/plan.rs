//! Turning the timeline into a decision for one request.

use std::time::Duration;

use http::Method;

use crate::body::Reply;
use crate::faults::{self, Fault, FaultKind, Lost};
use crate::rng;
use crate::{RouteKind, Timeline};

/// The request facts that faults look at.
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    pub(crate) seq: u64,
    pub(crate) at: Duration,
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) kind: RouteKind,
}

/// What the faults decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Total extra delay from [`Fault::Slow`].
    pub(crate) delay: Duration,
    /// How many slow faults fired.
    pub(crate) slowed: u32,
    /// An answer given instead of handling the request.
    pub(crate) early: Option<Early>,
    /// Something done to the answer after handling.
    pub(crate) late: Option<Late>,
    /// The tightest [`Fault::TokenExpiry`] in force.
    pub(crate) token_ttl: Option<Duration>,
    /// An outage window was active for this request.
    pub(crate) during_outage: bool,
}

/// An answer given without handling the request.
#[derive(Debug)]
pub(crate) enum Early {
    Reply(Reply, FaultKind),
    Reset,
}

/// A change to the answer, after handling.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Late {
    Truncate,
    Lose(Lost),
}

/// Per-fault request counts within the current second, for rate-limiting throttles.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: Vec<(u64, u32)>,
}

impl Limiter {
    /// Counts one request for fault `index` at `at`; true if it is over `rps`.
    fn is_over(&mut self, index: usize, at: Duration, rps: u32) -> bool {
        if self.windows.len() <= index {
            self.windows.resize(index + 1, (0, 0));
        }
        let second = at.as_secs();
        let window = &mut self.windows[index];
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 > rps
    }
}

/// Decides the faults for `req`.
pub(crate) fn plan(
    timeline: &Timeline,
    seed: u64,
    req: &Arrival<'_>,
    limiter: &mut Limiter,
) -> Plan {
    let mut plan = Plan::default();
    for (index, timed) in timeline.faults().iter().enumerate() {
        if !timed.is_active(req.at) || !timed.target().matches(req.method, req.path, req.kind) {
            continue;
        }
        let fires = |p: f64| rng::unit(seed, req.seq, index as u64) < p * timed.chance();
        let decided = plan.early.is_some() || plan.late.is_some();
        match *timed.fault() {
            Fault::Outage { status } => {
                plan.during_outage = true;
                if !decided && fires(1.0) {
                    plan.early = Some(Early::Reply(faults::unavailable(status), FaultKind::Outage));
                }
            }
            Fault::TokenExpiry { ttl } => {
                plan.token_ttl = Some(plan.token_ttl.map_or(ttl, |t| t.min(ttl)));
            }
            Fault::Slow { delay } => {
                if fires(1.0) {
                    plan.delay = plan.delay.saturating_add(delay);
                    plan.slowed += 1;
                }
            }
            _ if decided => {}
            Fault::Throttle {
                rps: Some(rps),
                retry_after,
            } => {
                if limiter.is_over(index, req.at, rps.get()) {
                    plan.early = Some(Early::Reply(
                        faults::throttled(retry_after),
                        FaultKind::Throttle,
                    ));
                }
            }
            ref fault => {
                let p = match *fault {
                    Fault::Flaky { p, .. } => p,
                    _ => 1.0,
                };
                if fires(p) {
                    set_fault(&mut plan, fault);
                }
            }
        }
    }
    plan
}

fn set_fault(plan: &mut Plan, fault: &Fault) {
    let kind = fault.kind();
    let reply = match *fault {
        Fault::Flaky { status, .. } | Fault::Outage { status } => faults::unavailable(status),
        Fault::Throttle { retry_after, .. } => faults::throttled(retry_after),
        Fault::AccountLimit => faults::account_limit(),
        Fault::Gateway { status } => Reply::html(faults::status_code(status)),
        Fault::EmptyBody { status } => faults::empty(status),
        Fault::Reset => {
            plan.early = Some(Early::Reset);
            return;
        }
        Fault::Truncated => {
            plan.late = Some(Late::Truncate);
            return;
        }
        Fault::LostResponse { then } => {
            plan.late = Some(Late::Lose(then));
            return;
        }
        Fault::TokenExpiry { .. } | Fault::Slow { .. } => return,
    };
    plan.early = Some(Early::Reply(reply, kind));
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::{Target, TimedFault};

    fn arrival(seq: u64, at_ms: u64, method: &Method) -> Arrival<'_> {
        Arrival {
            seq,
            at: Duration::from_millis(at_ms),
            method,
            path: "/v3/devices",
            kind: RouteKind::ListDevices,
        }
    }

    fn status(plan: &Plan) -> Option<u16> {
        match &plan.early {
            Some(Early::Reply(reply, _)) => Some(reply.status.as_u16()),
            _ => None,
        }
    }

    #[test]
    fn first_fault_that_fires_decides_and_slow_adds_up() {
        let ms = Duration::from_millis;
        let t = Timeline::new()
            .with(TimedFault::new(Fault::Slow { delay: ms(5) }))
            .with(TimedFault::new(Fault::Outage { status: 500 }).until(ms(100)))
            .with(TimedFault::new(Fault::Gateway { status: 502 }))
            .with(TimedFault::new(Fault::Slow { delay: ms(7) }));
        let get = Method::GET;
        let p = plan(&t, 1, &arrival(0, 50, &get), &mut Limiter::default());
        assert_eq!(
            (status(&p), p.delay, p.during_outage),
            (Some(500), ms(12), true)
        );
        let p = plan(&t, 1, &arrival(1, 150, &get), &mut Limiter::default());
        assert_eq!((status(&p), p.during_outage), (Some(502), false));
    }

    #[test]
    fn flaky_fires_at_about_its_rate_and_repeats_per_seed() {
        let t = Timeline::new().with(TimedFault::new(Fault::Flaky {
            p: 0.2,
            status: 503,
        }));
        let get = Method::GET;
        let run = |seed| -> Vec<bool> {
            (0..2000)
                .map(|seq| {
                    plan(&t, seed, &arrival(seq, 0, &get), &mut Limiter::default())
                        .early
                        .is_some()
                })
                .collect()
        };
        let a = run(9);
        assert_eq!(a, run(9));
        assert_ne!(a, run(10));
        let rate = a.iter().filter(|x| **x).count() as f64 / 2000.0;
        assert!((rate - 0.2).abs() < 0.04, "rate {rate}");
    }

    #[test]
    fn throttle_allows_rps_per_second_then_429() {
        let rps = NonZeroU32::new(3);
        let t = Timeline::new().with(TimedFault::new(Fault::Throttle {
            rps,
            retry_after: Some(Duration::from_secs(1)),
        }));
        let get = Method::GET;
        let mut limiter = Limiter::default();
        let got: Vec<Option<u16>> = [0, 10, 20, 30, 40, 1000, 1001]
            .iter()
            .enumerate()
            .map(|(i, at)| status(&plan(&t, 0, &arrival(i as u64, *at, &get), &mut limiter)))
            .collect();
        assert_eq!(got, [None, None, None, Some(429), Some(429), None, None]);
    }

    #[test]
    fn lost_response_is_late_and_stops_early_faults() {
        let t = Timeline::new()
            .with(
                TimedFault::new(Fault::LostResponse { then: Lost::Reset })
                    .on(Target::NonIdempotent),
            )
            .with(TimedFault::new(Fault::Outage { status: 503 }));
        let post = Method::POST;
        let get = Method::GET;
        let p = plan(&t, 0, &arrival(0, 0, &post), &mut Limiter::default());
        assert!(matches!(
            (p.early, p.late),
            (None, Some(Late::Lose(Lost::Reset)))
        ));
        let p = plan(&t, 0, &arrival(0, 0, &get), &mut Limiter::default());
        assert_eq!(status(&p), Some(503));
    }
}
