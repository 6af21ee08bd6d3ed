//! A retry budget shared by every request to one host; the essay is on [`RetryBudget`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::origin::Origin;

/// Number of slots in the rolling window.
const SLOTS: usize = 10;

/// A retry budget: first-try successes deposit, each retry withdraws one token.
///
/// Share one per host (behind an `Arc`); every method takes `&self` and `now` and
/// never allocates. A deposit (on every first-try success) is one atomic add; the
/// first deposit of each slot, withdrawals and [`balance`](Self::balance) lock a
/// small mutex for a few dozen instructions.
///
/// # Why a budget beats a fixed attempt count
///
/// "Retry each request up to 3 times" looks cautious, but it multiplies load exactly when
/// the server can least take it: in a full outage every request becomes 4 requests, so a
/// struggling server sees four times its normal traffic and may never recover. Each
/// client decides alone, and none of them notices that everything is failing.
///
/// A budget decides for all requests to a host together. Requests that succeed at the
/// first try *deposit*; each retry *withdraws* one token; a retry with nothing left to
/// withdraw is not sent and its failure is returned at once. While most requests succeed,
/// the few that fail retry freely. When most fail, deposits dry up and retries are
/// capped at a small fraction of the traffic plus a fixed floor, however many attempts
/// each request was allowed. This is the idea behind Finagle's and tower's
/// `TpsBudget` ("Why budgets and not max retries?" in tower's `retry::budget`) and the
/// AWS SDKs' retry quota. It matters twice over here: on the "API calls" business model
/// every request, retries included, is billed.
///
/// An attempt cap still applies on top, per request; the budget bounds the sum.
///
/// # How it counts
///
/// The budget keeps counts for a rolling `window` (10 s by default) cut into 10 fixed
/// slots, advanced lazily by the `now` each call passes in (there is no background task).
/// At any moment
///
/// ```text
/// balance = ratio × deposits + min_per_second × window_seconds − withdrawals
/// ```
///
/// counting the deposits and withdrawals of the last 10 slots, and a retry is allowed
/// while `balance >= 1`. A deposit or withdrawal leaves the window between
/// `window × 9/10` and `window` after it was made. The floor
/// `min_per_second × window_seconds` lets a host that has never succeeded still get a
/// few retries; it is spent in bursts at the start of each window.
///
/// # Worst case in a full outage
///
/// Any 10 consecutive slots hold at most `floor + ratio × D` withdrawals, where `D` counts
/// the deposits in the window at the last of them. In an outage nothing is deposited, so
/// over `T` seconds, which touch at most `T / window + 1 + 1/10` groups of 10 slots:
///
/// ```text
/// retries ≤ min_per_second × (T + 1.1 × window) + ratio × D_before
/// ```
///
/// with `D_before` the first-try successes in the `window` before the outage (they can
/// pay only for the first group). With the defaults (ratio 0.5, 1 per second, 10 s), a
/// client sending `R` requests per second, all of which succeeded at the first try
/// before a `T`-second outage, sends at most
///
/// ```text
/// R × T + (T + 11) + 5 × R    attempts
/// ```
///
/// For R = 100 and T = 60: at most 6000 + 71 + 500 = 6571 attempts, an amplification of
/// at most 1.10, where 3 retries per request without a budget would send 24 000 (4×).
/// In a long outage the server sees at most `R + 1` requests per second: amplification
/// `1 + 1/R`. The `worst_case_outage_is_bounded` test (in `budget.rs`) replays exactly
/// this scenario and sends 6460.
///
/// # Defaults
///
/// [`RetryBudget::default()`] (and the builder's starting values):
///
/// | setting | value | why |
/// |---|---|---|
/// | `ratio` | 0.5 | while requests fail part of the time, retries add at most 50 % to the load (each is billed); an independent 20 % failure rate needs 0.25 retries per request, and only the 80 % first-try successes deposit, so a ratio below 0.31 would starve exactly the flaky case retries exist for. In a full outage the ratio does not matter: nothing is deposited |
/// | `min_per_second` | 1 | a host with no recent success still gets one retry per second, enough to ride out a blip at start-up |
/// | `window` | 10 s | long enough to average over bursts, short enough to react within seconds |
///
/// ```
/// use std::time::Duration;
/// use resile_policy::{Clock, ManualClock, RetryBudget};
///
/// let clock = ManualClock::new();
/// let budget = RetryBudget::builder().ratio(0.5).min_per_second(0).build()?;
/// budget.deposit(clock.now());
/// budget.deposit(clock.now());
/// assert!(budget.try_withdraw(clock.now())); // 2 × 0.5 = one token
/// assert!(!budget.try_withdraw(clock.now()));
/// clock.advance(Duration::from_secs(10)); // the window moved on
/// assert_eq!(budget.balance(clock.now()), 0.0);
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: u32,
    window: Duration,
    /// `min_per_second × window` in tokens.
    floor: f64,
    /// Width of one slot in nanoseconds (`window / 10`, at least 100 ms).
    slot_nanos: u64,
    unlimited: bool,
    /// The first `now` seen; slot numbers count from it.
    origin: Origin,
    /// The latest slot number seen (moved on only under `withdrawals`' lock).
    current: AtomicU64,
    /// Deposits per slot: counted without the lock while the slot is current.
    deposits: [AtomicU64; SLOTS],
    /// Withdrawals per slot; its lock also guards moving the window on.
    withdrawals: Mutex<[u64; SLOTS]>,
}

const fn index(slot: u64) -> usize {
    (slot % SLOTS as u64) as usize
}

impl RetryBudget {
    /// The default ratio of retries to first-try successes, 0.5.
    pub const DEFAULT_RATIO: f64 = 0.5;
    /// The default floor, 1 retry per second.
    pub const DEFAULT_MIN_PER_SECOND: u32 = 1;
    /// The default window, 10 s.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

    /// A builder starting from the [defaults](Self#defaults).
    pub const fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder::new()
    }

    /// A budget that allows every retry, for callers who opt out; only the per-request
    /// attempt cap then limits retries.
    pub const fn unlimited() -> Self {
        let mut budget = Self::assemble(f64::INFINITY, u32::MAX, Self::DEFAULT_WINDOW);
        budget.unlimited = true;
        budget
    }

    /// Callers guarantee a window of at least 1 s.
    const fn assemble(ratio: f64, min_per_second: u32, window: Duration) -> Self {
        Self {
            ratio,
            min_per_second,
            window,
            floor: min_per_second as f64 * window.as_secs_f64(),
            slot_nanos: (window.as_nanos() / SLOTS as u128) as u64,
            unlimited: false,
            origin: Origin::new(),
            current: AtomicU64::new(0),
            deposits: [const { AtomicU64::new(0) }; SLOTS],
            withdrawals: Mutex::new([0; SLOTS]),
        }
    }

    /// The slot number of `now`: whole slots since the first `now` seen.
    fn slot_of(&self, now: Instant) -> u64 {
        self.origin.nanos(now) / self.slot_nanos
    }

    /// Takes the lock and moves the window to `now` (never backwards): the
    /// withdrawals to update and the current slot's index.
    fn advance(&self, now: Instant) -> (MutexGuard<'_, [u64; SLOTS]>, usize) {
        let slot = self.slot_of(now);
        let mut withdrawals = self
            .withdrawals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load(Ordering::Relaxed);
        let slot = slot.max(current);
        let gap = slot - current;
        for step in 1..=gap.min(SLOTS as u64) {
            let i = index(current + step);
            self.deposits[i].store(0, Ordering::Relaxed);
            withdrawals[i] = 0;
        }
        self.current.store(slot, Ordering::Release);
        (withdrawals, index(slot))
    }

    /// The balance under the lock (deposits counted meanwhile may be missed).
    fn balance_of(&self, withdrawals: &[u64; SLOTS]) -> f64 {
        let deposits = self
            .deposits
            .iter()
            .fold(0u64, |a, d| a.saturating_add(d.load(Ordering::Relaxed)));
        let withdrawals: u64 = withdrawals.iter().fold(0, |a, &w| a.saturating_add(w));
        self.ratio * deposits as f64 + self.floor - withdrawals as f64
    }

    /// Records a request that succeeded at its first try.
    pub fn deposit(&self, now: Instant) {
        if self.unlimited {
            return;
        }
        // Without the lock while `now` falls in the current slot (or before it:
        // an older time counts as the latest), as it does for all but the first
        // deposit of each slot. A deposit that races a window moving on by a
        // whole window may count in the new slot: one token in a window's worth.
        let current = self.current.load(Ordering::Acquire);
        let current_ends = current.saturating_add(1).saturating_mul(self.slot_nanos);
        if self.origin.nanos(now) < current_ends {
            self.deposits[index(current)].fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (_withdrawals, i) = self.advance(now);
        self.deposits[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one token for a retry if the balance allows it; `false` means do not retry.
    pub fn try_withdraw(&self, now: Instant) -> bool {
        if self.unlimited {
            return true;
        }
        let (mut withdrawals, i) = self.advance(now);
        if self.balance_of(&withdrawals) < 1.0 {
            return false;
        }
        withdrawals[i] = withdrawals[i].saturating_add(1);
        true
    }

    /// The tokens available at `now` (a retry needs at least 1; may be negative after
    /// old deposits expired). Infinite for an [`unlimited`](Self::unlimited) budget.
    pub fn balance(&self, now: Instant) -> f64 {
        if self.unlimited {
            return f64::INFINITY;
        }
        let (withdrawals, _) = self.advance(now);
        self.balance_of(&withdrawals)
    }

    /// Retries allowed per first-try success.
    pub const fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Retries allowed per second even without successes.
    pub const fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// The span over which deposits and withdrawals count.
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// Whether this budget allows every retry.
    pub const fn is_unlimited(&self) -> bool {
        self.unlimited
    }
}

impl Default for RetryBudget {
    /// Ratio 0.5, 1 retry per second, 10 s window; see [Defaults](Self#defaults).
    fn default() -> Self {
        Self::assemble(
            Self::DEFAULT_RATIO,
            Self::DEFAULT_MIN_PER_SECOND,
            Self::DEFAULT_WINDOW,
        )
    }
}

/// Configures a [`RetryBudget`]; from [`RetryBudget::builder`].
///
/// Starts from the [defaults](RetryBudget#defaults). [`build`](Self::build) checks the
/// values and names the offending field (`budget.ratio`, `budget.window`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use]
pub struct RetryBudgetBuilder {
    ratio: f64,
    min_per_second: u32,
    window: Duration,
}

impl RetryBudgetBuilder {
    const fn new() -> Self {
        Self {
            ratio: RetryBudget::DEFAULT_RATIO,
            min_per_second: RetryBudget::DEFAULT_MIN_PER_SECOND,
            window: RetryBudget::DEFAULT_WINDOW,
        }
    }

    /// Retries allowed per first-try success in the window (default 0.5); finite, from
    /// 0 to 1000.
    pub const fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Retries allowed per second of window even without successes (default 1); 0
    /// means retries only while something succeeds.
    pub const fn min_per_second(mut self, min_per_second: u32) -> Self {
        self.min_per_second = min_per_second;
        self
    }

    /// The span over which deposits and withdrawals count (default 10 s); from 1 s to
    /// 1 h.
    pub const fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Checks the values and builds the budget.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `budget.ratio` (not finite, or outside 0 to 1000) or
    /// `budget.window` (shorter than 1 s or longer than 1 h).
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            return Err(ConfigError::new(
                "budget.ratio",
                "must be a finite number from 0 to 1000",
            ));
        }
        if self.window < Duration::from_secs(1) || self.window > Duration::from_secs(3600) {
            return Err(ConfigError::new("budget.window", "must be from 1 s to 1 h"));
        }
        Ok(RetryBudget::assemble(
            self.ratio,
            self.min_per_second,
            self.window,
        ))
    }
}

impl Default for RetryBudgetBuilder {
    /// The [defaults](RetryBudget#defaults).
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, ManualClock};

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Sends `rate` requests per second for `seconds`; each succeeds at its first try
    /// when `first_try_ok(n)` says so (depositing), else retries up to `max_retries`
    /// times while the budget allows, every retry failing. Returns (attempts, retries).
    fn drive(
        budget: &RetryBudget,
        clock: &ManualClock,
        rate: u32,
        seconds: u32,
        max_retries: u32,
        first_try_ok: impl Fn(u64) -> bool,
    ) -> (u64, u64) {
        let (mut attempts, mut retries) = (0, 0);
        for n in 0..u64::from(rate * seconds) {
            attempts += 1;
            if first_try_ok(n) {
                budget.deposit(clock.now());
            } else {
                for _ in 0..max_retries {
                    if !budget.try_withdraw(clock.now()) {
                        break;
                    }
                    attempts += 1;
                    retries += 1;
                }
            }
            clock.advance(Duration::from_secs(1) / rate);
        }
        (attempts, retries)
    }

    #[test]
    fn worst_case_outage_is_bounded() {
        // The scenario of the module docs: defaults, R = 100/s, 3 retries each, 10 s of
        // success, then T = 60 s in which every attempt fails.
        let (rate, outage) = (100, 60);
        let clock = ManualClock::new();
        let budget = RetryBudget::default();
        let (_, warm_retries) = drive(&budget, &clock, rate, 10, 3, |_| true);
        assert_eq!(warm_retries, 0);
        let (attempts, retries) = drive(&budget, &clock, rate, outage, 3, |_| false);

        let requests = u64::from(rate * outage);
        // min_per_second × (T + 1.1 W) + ratio × D_before, D_before = 10 s × R.
        let bound = 60 + 11 + 500;
        assert!(retries <= bound, "{retries} retries > {bound}");
        assert!(attempts <= requests + bound, "{attempts} attempts");
        assert!(attempts as f64 / requests as f64 <= 1.10);
        // And the budget really gives: the carry-over and the floor are both spent.
        assert!(retries >= 60 + 400, "only {retries} retries");
        // Without a budget: 4 attempts per request.
        assert!(attempts * 3 < requests * 4);
    }

    #[test]
    fn cold_outage_gets_the_floor_only() {
        let clock = ManualClock::new();
        let budget = RetryBudget::default();
        let (attempts, retries) = drive(&budget, &clock, 100, 60, 3, |_| false);
        assert!((60..=71).contains(&retries), "{retries} retries");
        assert_eq!(attempts, 6000 + retries);
    }

    #[test]
    fn steady_partial_failure_retries_about_ratio_times_successes() {
        let clock = ManualClock::new();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(0.1)
            .build()
            .unwrap();
        let (_, retries) = drive(&budget, &clock, 100, 100, 3, |n| n % 2 == 0);
        // 5000 first-try successes at ratio 0.1.
        assert!((450..=505).contains(&retries), "{retries} retries");

        // With the defaults (ratio 0.5, floor 1/s): about 2500 + 100.
        let clock = ManualClock::new();
        let budget = RetryBudget::default();
        let (_, retries) = drive(&budget, &clock, 100, 100, 3, |n| n % 2 == 0);
        assert!((2540..=2615).contains(&retries), "{retries} retries");
    }

    #[test]
    fn deposits_expire_after_the_window() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(0.1)
            .build()
            .unwrap();
        for _ in 0..100 {
            budget.deposit(t0);
        }
        assert!((budget.balance(t0) - 10.0).abs() < 1e-9);
        let just_before = t0 + Duration::from_secs(10) - Duration::from_nanos(1);
        assert!((budget.balance(just_before) - 10.0).abs() < 1e-9);
        assert_eq!(budget.balance(t0 + Duration::from_secs(10)), 0.0);
        assert!(!budget.try_withdraw(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn withdrawals_expire_too_and_the_floor_refills() {
        let clock = ManualClock::new();
        let budget = RetryBudget::default();
        let t0 = clock.now();
        let taken = (0..100).filter(|_| budget.try_withdraw(t0)).count();
        assert_eq!(taken, 10, "the floor: 1/s over 10 s");
        assert!(!budget.try_withdraw(t0 + ms(9_999)));
        assert!(budget.try_withdraw(t0 + ms(10_000)));
    }

    #[test]
    fn time_going_backwards_counts_as_the_latest_time() {
        let clock = ManualClock::new();
        let t0 = clock.now();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(1.0)
            .build()
            .unwrap();
        budget.deposit(t0 + ms(5_000));
        budget.deposit(t0); // older than anything seen: counts at 5 s
        assert_eq!(budget.balance(t0 + ms(1)), 2.0);
        // Both expire together, 10 s after the 5 s mark (10 slots from the origin at 5 s).
        assert_eq!(budget.balance(t0 + ms(14_999)), 2.0);
        assert_eq!(budget.balance(t0 + ms(15_000)), 0.0);
        // A jump far ahead and back again.
        assert_eq!(budget.balance(t0 + Duration::from_secs(1 << 40)), 0.0);
        budget.deposit(t0);
        assert_eq!(budget.balance(t0 + Duration::from_secs(1 << 40)), 1.0);
    }

    #[test]
    fn unlimited_always_allows() {
        let clock = ManualClock::new();
        let budget = RetryBudget::unlimited();
        assert!(budget.is_unlimited());
        assert!((0..10_000).all(|_| budget.try_withdraw(clock.now())));
        assert_eq!(budget.balance(clock.now()), f64::INFINITY);
        assert!(!RetryBudget::default().is_unlimited());
    }

    #[test]
    fn concurrent_use_keeps_counts_consistent() {
        let clock = ManualClock::new();
        let now = clock.now();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(0.1)
            .build()
            .unwrap();
        let granted = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        (0..1000).for_each(|_| budget.deposit(now));
                        (0..500).filter(|_| budget.try_withdraw(now)).count()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .sum::<usize>()
        });
        // 2000 deposits × 0.1 = 200 tokens, however the threads interleave.
        assert_eq!(granted, 200);
        assert!(budget.balance(now).abs() < 1e-9);
    }

    #[test]
    fn concurrent_deposits_across_slots_are_all_counted() {
        let t0 = ManualClock::new().now();
        let budget = RetryBudget::builder()
            .min_per_second(0)
            .ratio(1.0)
            .build()
            .unwrap();
        // Four threads walk through five seconds (five slots) at their own pace:
        // some deposits open a slot, most land in one already open, some in one
        // the window has moved past (counted in the latest).
        std::thread::scope(|s| {
            for offset in 0..4 {
                let budget = &budget;
                s.spawn(move || {
                    for n in 0..1000 {
                        budget.deposit(t0 + ms((n * 5 + offset * 7) % 5000));
                    }
                });
            }
        });
        assert_eq!(budget.balance(t0 + ms(5_000)), 4000.0);
        assert_eq!(budget.balance(t0 + ms(20_000)), 0.0, "and all expire");
    }

    #[test]
    fn defaults_and_builder_validation() {
        let b = RetryBudget::default();
        assert_eq!(
            (b.ratio(), b.min_per_second(), b.window()),
            (0.5, 1, ms(10_000))
        );
        let field = |r: Result<RetryBudget, ConfigError>| r.unwrap_err().field().to_owned();
        for ratio in [-0.1, 1000.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                field(RetryBudget::builder().ratio(ratio).build()),
                "budget.ratio"
            );
        }
        for window in [
            ms(999),
            Duration::ZERO,
            Duration::from_secs(3601),
            Duration::MAX,
        ] {
            assert_eq!(
                field(RetryBudget::builder().window(window).build()),
                "budget.window"
            );
        }
        let edge = RetryBudget::builder()
            .ratio(1000.0)
            .min_per_second(u32::MAX)
            .window(Duration::from_secs(3600))
            .build()
            .unwrap();
        assert!(edge.try_withdraw(ManualClock::new().now()));
        assert!(
            RetryBudget::builder()
                .ratio(0.0)
                .window(ms(1000))
                .build()
                .is_ok()
        );
    }

    #[test]
    fn budget_is_send_and_sync() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<RetryBudget>();
    }
}
