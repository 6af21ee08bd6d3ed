//! State-machine tests, in virtual time.

use std::time::{Duration, Instant};

use super::*;
use crate::{Clock, DefaultRng, ManualClock};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn no_jitter() -> TokenPolicyBuilder {
    TokenPolicy::builder().refresh_jitter(0.0).retry_jitter(0.0)
}

fn state(policy: TokenPolicyBuilder) -> TokenState {
    TokenState::with_rng(policy.build().unwrap(), DefaultRng::new(42))
}

fn start(st: &mut TokenState, now: Instant) -> RefreshTicket {
    match st.begin_refresh(now) {
        RefreshDecision::Start(ticket) => ticket,
        other => panic!("expected Start, got {other:?}"),
    }
}

fn install(st: &mut TokenState, token: &str, life: Option<Duration>, now: Instant) -> Completion {
    let ticket = start(st, now);
    let expiry = life.map(|l| now + l);
    st.complete(ticket, Ok((Secret::new(token), expiry)), now)
}

fn fail(st: &mut TokenState, now: Instant) -> Completion {
    let ticket = start(st, now);
    st.complete(ticket, Err(RefreshFailed::new()), now)
}

#[test]
fn empty_state_needs_a_token() {
    let clock = ManualClock::new();
    let st = state(no_jitter());
    assert!(st.needs_refresh(clock.now()));
    assert_eq!(st.current(clock.now()), None);
    assert_eq!(st.generation(), Generation::NONE);
    assert!(!st.in_flight());
}

#[test]
fn needs_refresh_flips_exactly_at_the_refresh_ahead_point() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let mut st = state(no_jitter());
    let done = install(&mut st, "ak_one", Some(600 * S), t0);
    let at = t0 + 540 * S;
    let want = Completion::Installed {
        generation: Generation(1),
        refresh_at: Some(at),
        unchanged: false,
    };
    assert_eq!(done, want);
    assert!(!st.needs_refresh(at - Duration::from_nanos(1)));
    assert_eq!(st.begin_refresh(at - MS), RefreshDecision::Fresh);
    assert!(st.needs_refresh(at));
    // Past the refresh point the token still works until it expires.
    assert_eq!(
        st.current(t0 + 599 * S).map(|(_, g)| g),
        Some(Generation(1))
    );
    assert_eq!(st.current(t0 + 600 * S), None);
    assert!(st.needs_refresh(t0 + 600 * S));
}

#[test]
fn tokens_without_expiry_never_need_refresh_on_their_own() {
    let clock = ManualClock::new();
    let mut st = state(TokenPolicy::builder());
    let _ = install(&mut st, "ak_key", None, clock.now());
    clock.advance(Duration::from_secs(10 * 365 * 24 * 3600));
    assert!(!st.needs_refresh(clock.now()));
    assert_eq!(st.refresh_at(), None);
    assert!(st.current(clock.now()).is_some());
}

#[test]
fn jitter_spreads_refresh_at_within_the_band_and_repeats_by_seed() {
    let t0 = ManualClock::new().now();
    let expiry = t0 + 3600 * S;
    let refresh_at = |seed| {
        let mut st = TokenState::with_rng(TokenPolicy::default(), DefaultRng::new(seed));
        let ticket = start(&mut st, t0);
        let _ = st.complete(ticket, Ok((Secret::new("rt_x"), Some(expiry))), t0);
        st.refresh_at().unwrap()
    };
    // Default: lead in [60 s, 72 s).
    let leads: Vec<Duration> = (0..500).map(|seed| expiry - refresh_at(seed)).collect();
    for lead in &leads {
        assert!(*lead >= 60 * S && *lead <= 72 * S, "{lead:?}");
    }
    let (lo, hi) = (leads.iter().min().unwrap(), leads.iter().max().unwrap());
    assert!(*hi - *lo > 10 * S, "spread only {lo:?}..{hi:?}");
    assert_eq!(refresh_at(5), refresh_at(5));
    assert_ne!(refresh_at(5), refresh_at(6));
}

#[test]
fn short_lived_tokens_refresh_after_half_their_life() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "eyJh.eyJi.c2ln", Some(30 * S), t0);
    assert_eq!(st.refresh_at(), Some(t0 + 15 * S));
    // Just over the lead: still half its life, not one second.
    let _ = install(&mut st, "eyJh.eyJi.c2lo", Some(61 * S), t0 + 15 * S);
    assert_eq!(st.refresh_at(), Some(t0 + 15 * S + 30_500 * MS));
    // Long enough: the plain lead.
    let _ = install(&mut st, "eyJh.eyJi.c2lp", Some(200 * S), t0 + 46 * S);
    assert_eq!(st.refresh_at(), Some(t0 + 46 * S + 140 * S));
}

#[test]
fn already_expired_token_counts_as_a_failure() {
    let clock = ManualClock::new();
    let now = clock.now() + S;
    let mut st = state(no_jitter());
    let ticket = start(&mut st, now);
    let done = st.complete(ticket, Ok((Secret::new("ak_old"), Some(now))), now);
    assert_eq!(
        done,
        Completion::Failed {
            failures: 1,
            retry_not_before: now + 200 * MS
        }
    );
    assert_eq!(st.generation(), Generation::NONE);
}

#[test]
fn single_flight_second_caller_joins_and_completion_installs_next_generation() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let ticket = start(&mut st, now);
    assert!(st.in_flight());
    assert_eq!(st.begin_refresh(now), RefreshDecision::Join);
    assert_eq!(st.begin_refresh(now + 29 * S), RefreshDecision::Join);
    let done = st.complete(ticket, Ok((Secret::new("ak_a"), None)), now + S);
    assert!(matches!(
        done,
        Completion::Installed {
            generation: Generation(1),
            ..
        }
    ));
    assert!(!st.in_flight());
    assert_eq!(st.begin_refresh(now + S), RefreshDecision::Fresh);
    let (secret, generation) = st.current(now + S).unwrap();
    assert_eq!((secret.expose(), generation.get()), ("ak_a", 1));
}

#[test]
fn refresh_ahead_in_flight_lets_others_keep_sending() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "rt_a", Some(80 * S), now);
    let later = now + 60 * S; // past refresh_at (40 s: half its life), before expiry
    let _ticket = start(&mut st, later);
    assert_eq!(st.begin_refresh(later), RefreshDecision::Fresh);
    // Once the old token expires, the others must wait for the one in flight.
    assert_eq!(st.begin_refresh(now + 80 * S), RefreshDecision::Join);
}

#[test]
fn stale_and_abandoned_tickets_are_ignored() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let lost = start(&mut st, now);
    // Within refresh_timeout everyone joins; after it, a new caller takes over.
    assert_eq!(st.begin_refresh(now + 30 * S - MS), RefreshDecision::Join);
    let taken_over = start(&mut st, now + 30 * S);
    let late = st.complete(lost, Ok((Secret::new("ak_late"), None)), now + 31 * S);
    assert_eq!(late, Completion::Stale);
    assert_eq!(st.generation(), Generation::NONE);
    assert!(st.in_flight());
    assert!(st.abandon(taken_over));
    assert!(!st.in_flight());
    assert_eq!(st.failures(), 0);
    // The next caller starts at once; an abandoned ticket cannot complete.
    let next = start(&mut st, now + 31 * S);
    let done = st.complete(next, Ok((Secret::new("ak_new"), None)), now + 32 * S);
    assert!(matches!(
        done,
        Completion::Installed {
            generation: Generation(1),
            ..
        }
    ));
    assert!(!st.abandon(RefreshTicket { id: 1 }));
}

#[test]
fn failures_back_off_double_cap_give_up_and_reset_on_success() {
    let clock = ManualClock::new();
    let mut st = state(no_jitter().retry_max(S).max_refresh_attempts(5));
    let mut waits = Vec::new();
    for n in 1..=5 {
        let now = clock.now();
        let done = fail(&mut st, now);
        let (failures, t) = match done {
            Completion::Failed {
                failures,
                retry_not_before,
            } if n < 5 => (failures, retry_not_before),
            Completion::GaveUp {
                failures,
                retry_not_before,
            } if n == 5 => (failures, retry_not_before),
            other => panic!("failure {n}: {other:?}"),
        };
        assert_eq!((failures, st.failures()), (n, n));
        waits.push(t - now);
        let expect = if n < 5 {
            RefreshDecision::NotBefore(t)
        } else {
            RefreshDecision::GiveUp { failures: 5 }
        };
        assert_eq!(st.begin_refresh(now), expect);
        assert_eq!(st.begin_refresh(t - Duration::from_nanos(1)), expect);
        clock.advance(t - now);
    }
    assert_eq!(waits, [200 * MS, 400 * MS, 800 * MS, S, S]);
    // A new round opens after the last wait; a success resets everything.
    let done = install(&mut st, "ak_back", None, clock.now());
    assert!(matches!(
        done,
        Completion::Installed {
            generation: Generation(1),
            ..
        }
    ));
    assert_eq!((st.failures(), st.retry_not_before()), (0, None));
    assert_eq!(st.on_reauth(Generation(1)), ReauthDecision::Refresh);
    assert_eq!(
        fail(&mut st, clock.now()),
        Completion::Failed {
            failures: 1,
            retry_not_before: clock.now() + 200 * MS,
        }
    );
}

#[test]
fn default_policy_gives_up_after_three_and_opens_a_new_round() {
    let clock = ManualClock::new();
    let mut st = state(TokenPolicy::builder());
    for n in 1..=3 {
        let done = fail(&mut st, clock.now());
        let t = match done {
            Completion::Failed {
                retry_not_before, ..
            } if n < 3 => retry_not_before,
            Completion::GaveUp {
                retry_not_before, ..
            } if n == 3 => retry_not_before,
            other => panic!("failure {n}: {other:?}"),
        };
        clock.advance(t - clock.now());
    }
    // Round two: failures keep counting, so its waits keep growing, and it gives up at 6.
    for n in 4..=6 {
        let before = clock.now();
        let done = fail(&mut st, before);
        let wait = match done {
            Completion::Failed {
                retry_not_before, ..
            } if n < 6 => retry_not_before - before,
            Completion::GaveUp {
                failures: 6,
                retry_not_before,
            } if n == 6 => retry_not_before - before,
            other => panic!("failure {n}: {other:?}"),
        };
        let ceiling = (200 * MS * (1 << (n - 1))).min(10 * S);
        assert!(
            wait <= ceiling && wait >= ceiling / 2,
            "failure {n}: {wait:?}"
        );
        assert!(matches!(
            st.begin_refresh(clock.now()),
            RefreshDecision::NotBefore(_) | RefreshDecision::GiveUp { failures: 6 }
        ));
        clock.advance(wait);
    }
}

#[test]
fn failing_refresh_ahead_keeps_the_valid_token_in_use() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "rt_a", Some(100 * S), now);
    let later = now + 60 * S;
    assert!(matches!(
        fail(&mut st, later),
        Completion::Failed { failures: 1, .. }
    ));
    assert_eq!(st.begin_refresh(later), RefreshDecision::Fresh);
    assert_eq!(st.current(later).map(|(_, g)| g), Some(Generation(1)));
    // Backoff over: the next caller tries again, still with the old token usable.
    let _again = start(&mut st, later + 200 * MS);
}

#[test]
fn reauth_replays_old_generations_and_refreshes_the_current_one() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "ak_1", None, now);
    let (_, g1) = st.current(now).unwrap();
    assert_eq!(st.on_reauth(g1), ReauthDecision::Refresh);
    assert!(st.needs_refresh(now));
    assert_eq!(st.current(now), None);
    // Concurrent 401s for the same token share one refresh.
    assert_eq!(st.on_reauth(g1), ReauthDecision::Refresh);
    let ticket = start(&mut st, now);
    assert_eq!(st.begin_refresh(now), RefreshDecision::Join);
    let done = st.complete(ticket, Ok((Secret::new("ak_2"), None)), now);
    assert!(matches!(
        done,
        Completion::Installed {
            generation: Generation(2),
            unchanged: false,
            ..
        }
    ));
    // A late 401 for generation 1 replays with generation 2 and refreshes nothing.
    assert_eq!(st.on_reauth(g1), ReauthDecision::ReplayWithCurrent);
    assert_eq!(
        st.on_reauth(Generation::NONE),
        ReauthDecision::ReplayWithCurrent
    );
    assert!(!st.needs_refresh(now));
    assert_eq!(st.begin_refresh(now), RefreshDecision::Fresh);
}

#[test]
fn reauth_answered_with_the_same_key_is_flagged_unchanged() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "ak_same", None, now);
    assert_eq!(st.on_reauth(Generation(1)), ReauthDecision::Refresh);
    let done = install(&mut st, "ak_same", None, now);
    assert!(matches!(
        done,
        Completion::Installed {
            generation: Generation(2),
            unchanged: true,
            ..
        }
    ));
}

#[test]
fn refused_token_with_failing_provider_gives_up_without_looping() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter().max_refresh_attempts(1));
    let _ = install(&mut st, "ak_1", None, now);
    assert_eq!(st.on_reauth(Generation(1)), ReauthDecision::Refresh);
    assert!(matches!(
        fail(&mut st, now),
        Completion::GaveUp { failures: 1, .. }
    ));
    assert_eq!(
        st.begin_refresh(now),
        RefreshDecision::GiveUp { failures: 1 }
    );
    assert_eq!(st.current(now), None);
}

#[test]
fn time_going_backwards_does_not_panic() {
    let clock = ManualClock::new();
    clock.advance(3600 * S);
    let now = clock.now();
    let past = now - 3600 * S;
    let mut st = state(TokenPolicy::builder());
    let ticket = start(&mut st, now);
    assert_eq!(st.begin_refresh(past), RefreshDecision::Join);
    let _ = st.complete(
        ticket,
        Ok((Secret::new("eyJh.eyJi.c2ln"), Some(now + 100 * S))),
        past,
    );
    assert!(st.refresh_at().unwrap() >= past);
    assert!(st.refresh_at().unwrap() <= now + 100 * S);
    assert!(!st.needs_refresh(past));
    assert!(st.current(past).is_some());
    let _ = st.on_reauth(st.generation());
    assert!(matches!(fail(&mut st, now), Completion::Failed { .. }));
    assert!(matches!(
        st.begin_refresh(past),
        RefreshDecision::NotBefore(_)
    ));
    // An expiry before `now` at install time, and a refresh timeout measured backwards.
    let ticket = start(&mut st, now + S);
    let _ = st.complete(ticket, Ok((Secret::new("x"), Some(past))), now + S);
    assert_eq!(
        st.begin_refresh(past),
        RefreshDecision::NotBefore(st.retry_not_before().unwrap())
    );
}

#[test]
fn current_shares_the_token_buffer() {
    // No allocation in `current`: the returned secret points at the installed bytes.
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "ak_shared", None, now);
    let (a, _) = st.current(now).unwrap();
    let (b, _) = st.current(now).unwrap();
    assert_eq!(a.expose().as_ptr(), b.expose().as_ptr());
}

#[test]
fn state_debug_hides_the_token() {
    let now = ManualClock::new().now();
    let mut st = state(no_jitter());
    let _ = install(&mut st, "ak_Zq8Wv3Nx7Ty2Lp5Rk9Hm4Bd6Fs1Gj0Cx", None, now);
    let out = format!("{st:?} {st:#?}");
    assert!(out.contains("Secret(ak_…)"));
    assert!(!out.contains("Zq8W") && !out.contains("Gj0C"), "{out}");
}

#[test]
fn new_seeds_differently_per_state() {
    let t0 = ManualClock::new().now();
    let expiry = t0 + 3600 * S;
    let refresh_at = || {
        let mut st = TokenState::new(TokenPolicy::default());
        let ticket = start(&mut st, t0);
        let _ = st.complete(ticket, Ok((Secret::new("rt_x"), Some(expiry))), t0);
        st.refresh_at().unwrap()
    };
    let all: Vec<Instant> = (0..8).map(|_| refresh_at()).collect();
    assert!(all.iter().any(|t| *t != all[0]), "eight identical draws");
}

#[test]
fn types_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<TokenState>();
    send_sync::<Secret>();
    send_sync::<HostAllowList>();
    send_sync::<RefreshDecision>();
    send_sync::<Completion>();
}
