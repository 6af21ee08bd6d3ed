//! Breaker behaviour, driven by a `ManualClock`; every expectation is exact.

use std::time::{Duration, Instant};

use super::*;
use crate::{Clock, ConfigError, Evict, ManualClock};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const LAT: Duration = Duration::from_millis(20);

/// No jitter, so open durations are exact.
fn builder() -> BreakerBuilder {
    CircuitBreaker::builder().jitter(0.0)
}

fn call(b: &CircuitBreaker, fb: Feedback, now: Instant) -> Option<Transition> {
    let permit = b.try_acquire(now).expect("admitted");
    assert_eq!(permit.transition(), None);
    b.record(permit, fb, LAT, now)
}

fn fail_n(b: &CircuitBreaker, n: u32, now: Instant) -> Option<Transition> {
    (0..n)
        .filter_map(|_| call(b, Feedback::Failure, now))
        .last()
}

/// Trips a breaker built with `consecutive_failures(1)` and returns the transition.
fn trip(b: &CircuitBreaker, now: Instant) -> Transition {
    call(b, Feedback::Failure, now).expect("trips")
}

#[test]
fn trips_on_ratio_only_after_minimum_calls() {
    let clock = ManualClock::new();
    let now = clock.now();
    let b = builder()
        .consecutive_failures(0)
        .minimum_calls(20)
        .failure_ratio(0.5)
        .build()
        .unwrap();
    for _ in 0..11 {
        assert_eq!(call(&b, Feedback::Success, now), None);
    }
    assert_eq!(fail_n(&b, 9, now), None); // 9 / 20 = 0.45
    assert_eq!(call(&b, Feedback::Failure, now), None); // 10 / 21 < 0.5
    let t = call(&b, Feedback::Failure, now).expect("11 / 22 = 0.5 trips");
    assert_eq!(
        (t.from, t.to, t.cause, t.at),
        (State::Closed, State::Open, Cause::FailureRatio, now)
    );
    assert_eq!(t.open_for, Some(5 * S));

    // All failures, but fewer than the minimum: no trip.
    let b = builder()
        .consecutive_failures(0)
        .minimum_calls(20)
        .build()
        .unwrap();
    assert_eq!(fail_n(&b, 19, now), None);
    assert_eq!(b.state(now), State::Closed);
    assert_eq!(
        call(&b, Feedback::Failure, now).map(|t| t.cause),
        Some(Cause::FailureRatio)
    );
}

#[test]
fn trips_on_consecutive_failures_and_successes_reset_the_count() {
    let clock = ManualClock::new();
    let now = clock.now();
    let b = builder()
        .consecutive_failures(5)
        .minimum_calls(1000)
        .build()
        .unwrap();
    assert_eq!(fail_n(&b, 4, now), None);
    assert_eq!(call(&b, Feedback::Success, now), None);
    assert_eq!(b.snapshot(now).consecutive_failures, 0);
    assert_eq!(fail_n(&b, 4, now), None);
    assert_eq!(call(&b, Feedback::Ignore, now), None); // no verdict: count unchanged
    assert_eq!(b.snapshot(now).consecutive_failures, 4);
    let t = call(&b, Feedback::Failure, now).expect("fifth in a row");
    assert_eq!(t.cause, Cause::ConsecutiveFailures);
    assert_eq!(b.snapshot(now).trips, 1);
}

#[test]
fn open_refuses_until_the_open_period_ends() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder().consecutive_failures(1).build().unwrap();
    trip(&b, t0);
    let open = b.try_acquire(t0 + S).unwrap_err();
    assert_eq!(open.retry_at(), t0 + 5 * S);
    assert_eq!(open.retry_after(t0 + S), 4 * S);
    assert_eq!(open.retry_after(t0 + 6 * S), Duration::ZERO);
    assert!(!open.is_isolated());
    assert_eq!(b.state(t0 + 5 * S - Duration::from_nanos(1)), State::Open);
    assert!(b.try_acquire(t0 + 5 * S - Duration::from_nanos(1)).is_err());
    // Due, not yet taken: reads as half-open; the acquire performs and reports it.
    assert_eq!(b.state(t0 + 5 * S), State::HalfOpen);
    let probe = b.try_acquire(t0 + 5 * S).unwrap();
    assert!(probe.is_probe());
    let t = probe.transition().expect("Open -> HalfOpen");
    assert_eq!(
        (t.from, t.to, t.cause, t.at, t.open_for),
        (
            State::Open,
            State::HalfOpen,
            Cause::OpenElapsed,
            t0 + 5 * S,
            None
        )
    );
}

#[test]
fn half_open_admits_exactly_probes_then_closes_on_their_success() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder().consecutive_failures(1).probes(3).build().unwrap();
    trip(&b, t0);
    let at = t0 + 5 * S;
    let p1 = b.try_acquire(at).unwrap();
    let p2 = b.try_acquire(at + MS).unwrap();
    let p3 = b.try_acquire(at + 2 * MS).unwrap();
    assert!(p2.transition().is_none() && p3.transition().is_none());
    let refused = b.try_acquire(at + 3 * MS).unwrap_err();
    assert_eq!(
        refused.retry_at(),
        at + 2 * MS + 10 * S,
        "last admission + probe_timeout"
    );
    assert_eq!(b.record(p1, Feedback::Success, LAT, at + 4 * MS), None);
    assert!(
        b.try_acquire(at + 4 * MS).is_err(),
        "a success does not free a slot"
    );
    assert_eq!(b.record(p2, Feedback::Success, LAT, at + 5 * MS), None);
    let t = b
        .record(p3, Feedback::Success, LAT, at + 6 * MS)
        .expect("closes");
    assert_eq!(
        (t.from, t.to, t.cause, t.at),
        (
            State::HalfOpen,
            State::Closed,
            Cause::ProbesSucceeded,
            at + 6 * MS
        )
    );
    assert_eq!(b.state(at + 6 * MS), State::Closed);
    let s = b.snapshot(at + 6 * MS);
    assert_eq!(
        (s.calls, s.consecutive_trips, s.trips),
        (0, 0, 1),
        "fresh counts after closing"
    );
}

#[test]
fn failed_probes_double_the_open_period_up_to_the_cap() {
    let clock = ManualClock::new();
    let mut now = clock.now();
    let b = builder()
        .consecutive_failures(1)
        .open_for(5 * S)
        .max_open_for(60 * S)
        .build()
        .unwrap();
    assert_eq!(trip(&b, now).open_for, Some(5 * S));
    for expected in [10, 20, 40, 60, 60] {
        now += b.try_acquire(now).unwrap_err().retry_after(now);
        let probe = b.try_acquire(now).unwrap();
        let t = b
            .record(probe, Feedback::Failure, LAT, now)
            .expect("reopens");
        assert_eq!(
            (t.from, t.to, t.cause),
            (State::HalfOpen, State::Open, Cause::ProbeFailed)
        );
        assert_eq!(t.open_for, Some(expected * S));
        assert_eq!(
            b.try_acquire(now).unwrap_err().retry_at(),
            now + expected * S
        );
    }
    assert_eq!(b.snapshot(now).consecutive_trips, 6);
    now += 60 * S;
    let probe = b.try_acquire(now).unwrap();
    assert!(b.record(probe, Feedback::Success, LAT, now).is_some());
    assert_eq!(
        trip(&b, now).open_for,
        Some(5 * S),
        "a full close resets the growth"
    );
}

#[test]
fn lost_probe_rearms_after_probe_timeout() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder()
        .consecutive_failures(1)
        .probe_timeout(10 * S)
        .build()
        .unwrap();
    trip(&b, t0);
    let at = t0 + 5 * S;
    let lost = b.try_acquire(at).unwrap();
    assert_eq!(
        b.try_acquire(at + 10 * S - MS).unwrap_err().retry_at(),
        at + 10 * S
    );
    let second = b.try_acquire(at + 10 * S).expect("re-armed");
    assert!(second.is_probe() && second.transition().is_none());
    assert_eq!(b.state(at + 10 * S), State::HalfOpen);
    // The lost probe reports late: ignored, even a failure.
    assert_eq!(b.record(lost, Feedback::Failure, LAT, at + 11 * S), None);
    assert_eq!(b.state(at + 11 * S), State::HalfOpen);
    let t = b
        .record(second, Feedback::Success, LAT, at + 11 * S)
        .expect("closes");
    assert_eq!(t.to, State::Closed);
}

#[test]
fn ignore_releases_a_probe_slot() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder().consecutive_failures(1).build().unwrap();
    trip(&b, t0);
    let at = t0 + 5 * S;
    let probe = b.try_acquire(at).unwrap();
    assert!(b.try_acquire(at).is_err());
    assert_eq!(b.record(probe, Feedback::Ignore, LAT, at), None);
    let again = b.try_acquire(at).expect("slot released");
    assert!(again.is_probe());
    assert_eq!(b.state(at), State::HalfOpen);
}

#[test]
fn the_window_slides_and_forgets_old_failures() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let make = || {
        builder()
            .consecutive_failures(0)
            .minimum_calls(4)
            .window(10 * S)
            .build()
            .unwrap()
    };
    // Three failures at t0, one more just inside the window: 4 calls, all failed.
    let b = make();
    assert_eq!(fail_n(&b, 3, t0), None);
    let late = t0 + 10 * S - MS;
    assert_eq!(
        call(&b, Feedback::Failure, late).map(|t| t.cause),
        Some(Cause::FailureRatio)
    );
    // The same, one millisecond later: the first bucket has slid out.
    let b = make();
    assert_eq!(fail_n(&b, 3, t0), None);
    assert_eq!(call(&b, Feedback::Failure, t0 + 10 * S), None);
    let s = b.snapshot(t0 + 10 * S);
    assert_eq!((s.calls, s.failures, s.failure_ratio), (1, 1, 1.0));
    assert_eq!(b.snapshot(t0 + 20 * S).calls, 0);
}

#[test]
fn slow_successes_count_as_failures() {
    let clock = ManualClock::new();
    let now = clock.now();
    let b = builder()
        .consecutive_failures(2)
        .slow_call(Some(S))
        .build()
        .unwrap();
    let p = b.try_acquire(now).unwrap();
    assert_eq!(
        b.record(p, Feedback::Success, S, now),
        None,
        "exactly the threshold is not slow"
    );
    let p = b.try_acquire(now).unwrap();
    assert_eq!(b.record(p, Feedback::Success, S + MS, now), None);
    let s = b.snapshot(now);
    assert_eq!(
        (s.calls, s.failures, s.slow_calls, s.consecutive_failures),
        (2, 1, 1, 1)
    );
    let p = b.try_acquire(now).unwrap();
    let t = b
        .record(p, Feedback::Success, 2 * S, now)
        .expect("two slow in a row");
    assert_eq!(t.cause, Cause::ConsecutiveFailures);
    // A slow probe fails too.
    let at = now + 5 * S;
    let probe = b.try_acquire(at).unwrap();
    assert_eq!(
        b.record(probe, Feedback::Success, 2 * S, at)
            .map(|t| t.cause),
        Some(Cause::ProbeFailed)
    );
}

#[test]
fn isolate_and_reset() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder().consecutive_failures(1).build().unwrap();
    let t = b.isolate(t0).unwrap();
    assert_eq!(
        (t.from, t.to, t.cause, t.open_for),
        (State::Closed, State::Open, Cause::Isolated, None)
    );
    assert_eq!(b.isolate(t0), None, "already isolated");
    let later = t0 + 3600 * S;
    let open = b.try_acquire(later).unwrap_err();
    assert!(open.is_isolated());
    assert_eq!(
        open.retry_at(),
        later + 60 * S,
        "polling hint: max_open_for"
    );
    assert_eq!(b.state(later), State::Open);
    assert!(b.snapshot(later).isolated);
    let t = b.reset(later).unwrap();
    assert_eq!(
        (t.from, t.to, t.cause),
        (State::Open, State::Closed, Cause::Reset)
    );
    assert!(b.try_acquire(later).is_ok());

    // Isolating a tripped breaker: Open -> Open, the timer no longer applies.
    trip(&b, later);
    let t = b.isolate(later).unwrap();
    assert_eq!((t.from, t.to), (State::Open, State::Open));
    assert!(b.try_acquire(later + 3600 * S).is_err());

    // Reset while closed clears counts and reports nothing.
    let _ = b.reset(later);
    let b = builder().consecutive_failures(3).build().unwrap();
    assert_eq!(fail_n(&b, 2, t0), None);
    let stale = b.try_acquire(t0).unwrap();
    assert_eq!(b.reset(t0), None);
    assert_eq!(b.snapshot(t0).calls, 0);
    assert_eq!(b.record(stale, Feedback::Failure, LAT, t0), None);
    assert_eq!(
        fail_n(&b, 2, t0),
        None,
        "counts restarted and the stale failure was ignored"
    );
}

#[test]
fn every_transition_is_reported_exactly_once() {
    let clock = ManualClock::new();
    let b = builder().consecutive_failures(2).probes(2).build().unwrap();
    let mut seen = Vec::new();
    let mut step = |fb: Option<Feedback>| {
        clock.advance(S);
        let now = clock.now();
        match b.try_acquire(now) {
            Ok(p) => {
                seen.extend(p.transition());
                if let Some(fb) = fb {
                    seen.extend(b.record(p, fb, LAT, now));
                }
            }
            Err(_) => assert!(fb.is_none() || b.state(now) != State::Closed),
        }
    };
    use Feedback::{Failure as F, Success as K};
    let script = [
        Some(F),
        Some(K),
        Some(F),
        Some(F),
        None,
        None,
        None,
        None,
        None,
        Some(F),
    ];
    for fb in script {
        step(fb);
    }
    // t = 11..=20: open for 10 s; at 20 a probe is admitted and never reported.
    for _ in 0..10 {
        step(None);
    }
    // t = 21: the second probe slot, also lost; 22..=30 refused; 31: both re-arm.
    for _ in 0..9 {
        step(None);
    }
    step(Some(K)); // t = 30: refused
    step(Some(K)); // t = 31: re-armed probe succeeds (1 of 2)
    for _ in 0..3 {
        step(Some(K)); // t = 32 closes; 33 and 34 are ordinary closed calls
    }
    let path: Vec<_> = seen.iter().map(|t| (t.from, t.to, t.cause)).collect();
    use State::{Closed, HalfOpen, Open};
    assert_eq!(
        path,
        [
            (Closed, Open, Cause::ConsecutiveFailures),
            (Open, HalfOpen, Cause::OpenElapsed),
            (HalfOpen, Open, Cause::ProbeFailed),
            (Open, HalfOpen, Cause::OpenElapsed),
            (HalfOpen, Closed, Cause::ProbesSucceeded),
        ]
    );
    let s = b.snapshot(clock.now());
    assert_eq!((s.state, s.trips, s.calls), (State::Closed, 2, 2));
}

#[test]
fn stale_permits_are_ignored() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let b = builder().consecutive_failures(1).probes(1).build().unwrap();
    let old = b.try_acquire(t0).unwrap();
    trip(&b, t0);
    let probe = b.try_acquire(t0 + 5 * S).unwrap();
    // A failure from the closed period arrives during the half-open period.
    assert_eq!(b.record(old, Feedback::Failure, LAT, t0 + 5 * S), None);
    assert_eq!(b.state(t0 + 5 * S), State::HalfOpen);
    assert_eq!(
        b.record(probe, Feedback::Success, LAT, t0 + 5 * S)
            .map(|t| t.to),
        Some(State::Closed)
    );
    // A permit from the old closed period, reported after the re-close.
    let b2 = builder().consecutive_failures(1).build().unwrap();
    let old = b2.try_acquire(t0).unwrap();
    trip(&b2, t0);
    let probe = b2.try_acquire(t0 + 5 * S).unwrap();
    let _ = b2.record(probe, Feedback::Success, LAT, t0 + 5 * S);
    assert_eq!(b2.record(old, Feedback::Failure, LAT, t0 + 6 * S), None);
    assert_eq!(b2.snapshot(t0 + 6 * S).calls, 0);
}

#[test]
fn jitter_is_seeded_and_bounded() {
    let clock = ManualClock::new();
    let now = clock.now();
    let durations = |seed| {
        let b = CircuitBreaker::builder()
            .consecutive_failures(1)
            .jitter(0.2)
            .seed(seed)
            .build()
            .unwrap();
        let mut at = now;
        let mut out = vec![trip(&b, at).open_for.unwrap()];
        for _ in 0..20 {
            at += b.try_acquire(at).unwrap_err().retry_after(at);
            let p = b.try_acquire(at).unwrap();
            out.push(
                b.record(p, Feedback::Failure, LAT, at)
                    .unwrap()
                    .open_for
                    .unwrap(),
            );
        }
        out
    };
    let (a, again, other) = (durations(7), durations(7), durations(8));
    assert_eq!(a, again);
    assert_ne!(a, other);
    assert!(a[0] >= 4 * S && a[0] < 6 * S);
    assert!(a[6..].iter().all(|d| *d >= 48 * S && *d < 72 * S), "{a:?}");
    assert!(a[6..].windows(2).any(|w| w[0] != w[1]), "spread");
}

#[test]
fn builder_rejects_bad_values_naming_the_field() {
    let d = Duration::from_secs;
    let cases: [(BreakerBuilder, &str); 16] = [
        (builder().failure_ratio(0.0), "breaker.failure_ratio"),
        (builder().failure_ratio(1.01), "breaker.failure_ratio"),
        (builder().failure_ratio(f64::NAN), "breaker.failure_ratio"),
        (builder().window(Duration::ZERO), "breaker.window"),
        (builder().window(d(366 * 86_400)), "breaker.window"),
        (builder().minimum_calls(0), "breaker.minimum_calls"),
        (builder().open_for(Duration::ZERO), "breaker.open_for"),
        (
            builder().open_for(d(10)).max_open_for(d(9)),
            "breaker.max_open_for",
        ),
        (
            builder().max_open_for(Duration::MAX),
            "breaker.max_open_for",
        ),
        (builder().jitter(-0.1), "breaker.jitter"),
        (builder().jitter(1.0), "breaker.jitter"),
        (builder().jitter(f64::INFINITY), "breaker.jitter"),
        (builder().probes(0), "breaker.probes"),
        (
            builder().probe_timeout(Duration::ZERO),
            "breaker.probe_timeout",
        ),
        (
            builder().probe_timeout(Duration::MAX),
            "breaker.probe_timeout",
        ),
        (
            builder().slow_call(Some(Duration::ZERO)),
            "breaker.slow_call",
        ),
    ];
    for (b, field) in cases {
        let err: ConfigError = b.build().unwrap_err();
        assert_eq!(err.field(), field, "{b:?}");
    }
    assert!(
        builder()
            .failure_ratio(1.0)
            .consecutive_failures(0)
            .build()
            .is_ok()
    );
    assert_eq!(
        BreakerBuilder::default().config().unwrap(),
        BreakerConfig::default()
    );
}

#[test]
fn defaults_are_the_documented_numbers() {
    let c = BreakerConfig::default();
    assert_eq!(c.failure_ratio(), 0.5);
    assert_eq!(
        (c.window(), c.minimum_calls(), c.consecutive_failures()),
        (10 * S, 20, 5)
    );
    assert_eq!(
        (c.open_for(), c.max_open_for(), c.jitter()),
        (5 * S, 60 * S, 0.1)
    );
    assert_eq!(
        (c.probes(), c.probe_timeout(), c.slow_call(), c.seed()),
        (1, 10 * S, None, 0)
    );
}

#[cfg(feature = "serde")]
#[test]
fn config_round_trips_through_serde_and_validates() {
    let c = builder().probes(2).slow_call(Some(3 * S)).config().unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<BreakerConfig>(&json).unwrap(), c);
    let partial: BreakerConfig = serde_json::from_str(r#"{"probes": 3}"#).unwrap();
    assert_eq!((partial.probes(), partial.minimum_calls()), (3, 20));
    let err = serde_json::from_str::<BreakerConfig>(r#"{"probes": 0}"#).unwrap_err();
    assert!(err.to_string().contains("breaker.probes"), "{err}");
    assert!(
        serde_json::from_str::<BreakerConfig>(r#"{"probe": 1}"#).is_err(),
        "unknown field"
    );
}

#[test]
fn idle_means_closed_without_failures() {
    let clock = ManualClock::new();
    let now = clock.now();
    let b = builder().consecutive_failures(2).build().unwrap();
    assert!(b.is_idle());
    let _ = call(&b, Feedback::Success, now);
    assert!(b.is_idle());
    let _ = call(&b, Feedback::Failure, now);
    assert!(!b.is_idle());
    let _ = call(&b, Feedback::Failure, now);
    assert!(!b.is_idle(), "open");
    let _ = b.reset(now);
    assert!(b.is_idle());
}

#[test]
fn breaker_is_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<CircuitBreaker>();
    let b = CircuitBreaker::default();
    assert!(format!("{b:?}").starts_with("CircuitBreaker { state: \"closed\", generation: 0"));
}

/// Successes recorded from four threads at once, over five buckets of the window,
/// mostly without the lock: every one is counted.
#[test]
fn concurrent_successes_are_all_counted() {
    let t0 = ManualClock::new().now();
    let b = builder().build().unwrap();
    std::thread::scope(|s| {
        for offset in 0..4u64 {
            let b = &b;
            s.spawn(move || {
                for n in 0..5_000u64 {
                    let now = t0 + Duration::from_millis((n + offset * 3) % 5_000);
                    let permit = b.try_acquire(now).unwrap();
                    assert_eq!(b.record(permit, Feedback::Success, LAT, now), None);
                }
            });
        }
    });
    let snap = b.snapshot(t0 + Duration::from_secs(5));
    assert_eq!((snap.calls, snap.failures), (20_000, 0));
}

/// Two threads acquire and record at random; the transitions they receive, together,
/// must form one unbroken path through the states, matching the breaker's counters.
#[test]
fn two_threads_hammering_stay_consistent() {
    let clock = ManualClock::new();
    let start = clock.now();
    let b = CircuitBreaker::builder()
        .consecutive_failures(3)
        .minimum_calls(10)
        .open_for(MS)
        .max_open_for(8 * MS)
        .probes(2)
        .probe_timeout(5 * MS)
        .build()
        .unwrap();
    let run = |seed: u64| {
        let mut rng = crate::DefaultRng::new(seed);
        let mut seen = Vec::new();
        for _ in 0..20_000 {
            clock.advance(Duration::from_micros(20));
            let now = clock.now();
            let Ok(p) = b.try_acquire(now) else { continue };
            seen.extend(p.transition());
            let fb = match crate::Rng::next_u64(&mut rng) % 10 {
                0..=3 => Feedback::Failure,
                4 => continue, // lost
                5 => Feedback::Ignore,
                _ => Feedback::Success,
            };
            seen.extend(b.record(p, fb, LAT, clock.now()));
        }
        seen
    };
    let all = std::thread::scope(|s| {
        let a = s.spawn(|| run(1));
        let c = s.spawn(|| run(2));
        let mut v = a.join().unwrap();
        v.extend(c.join().unwrap());
        v
    });
    assert!(
        all.len() > 10,
        "the run exercised the breaker: {}",
        all.len()
    );
    let end = clock.now();
    // At `start`, before any open period could end, an open breaker reads as open.
    let final_state = b.state(start);
    let snap = b.snapshot(end);
    let trips = all.iter().filter(|t| t.to == State::Open).count() as u64;
    assert_eq!(trips, snap.trips);
    // Into each state as often as out of it, give or take where the path starts and ends.
    for s in [State::Closed, State::Open, State::HalfOpen] {
        let into = all.iter().filter(|t| t.to == s).count() as i64;
        let out = all.iter().filter(|t| t.from == s).count() as i64;
        let expected = i64::from(s == final_state) - i64::from(s == State::Closed);
        assert_eq!(into - out, expected, "{s}: {into} in, {out} out");
    }
    assert!(all.iter().all(|t| t.at >= start && t.at <= end));
}
