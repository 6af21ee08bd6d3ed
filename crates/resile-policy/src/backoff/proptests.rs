//! Invariants of [`ExponentialBackoff`] over arbitrary configurations.

use std::time::Duration;

use proptest::prelude::*;

use super::{ExponentialBackoff, Jitter};
use crate::DefaultRng;

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..2_000_000_000).prop_map(Duration::from_nanos),
        (0u64..100_000, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::MAX),
    ]
}

fn multiplier() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1.0),
        Just(2.0),
        1.0..10.0f64,
        1.0..f64::MAX,
        Just(1e300),
        Just(f64::MAX),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

prop_compose! {
    /// A valid configuration: `min <= max`, `min > 0` unless jitter is `None`.
    fn backoff()(
        a in duration(),
        b in duration(),
        multiplier in multiplier(),
        jitter in jitter(),
        seed in any::<u64>(),
    ) -> ExponentialBackoff {
        let (mut min, max) = if a <= b { (a, b) } else { (b, a) };
        if min.is_zero() && jitter != Jitter::None {
            min = Duration::from_nanos(1).min(max).max(Duration::from_nanos(1));
        }
        ExponentialBackoff::builder()
            .min(min)
            .max(max.max(min))
            .multiplier(multiplier)
            .jitter(jitter)
            .seed(seed)
            .build()
            .expect("strategy yields valid configurations")
    }
}

fn delays(b: &mut ExponentialBackoff, n: usize) -> Vec<Duration> {
    (0..n).map(|_| b.next_delay()).collect()
}

proptest! {
    #[test]
    fn every_delay_lies_within_min_and_max(mut b in backoff(), n in 1usize..300) {
        let (min, max) = (b.min(), b.max());
        for (i, d) in delays(&mut b, n).into_iter().enumerate() {
            prop_assert!(min <= d && d <= max, "delay {i} = {d:?} outside [{min:?}, {max:?}]");
        }
        prop_assert_eq!(b.attempt() as usize, n);
    }

    #[test]
    fn without_jitter_starts_at_min_and_never_decreases(b in backoff(), n in 1usize..300) {
        let mut b = b.reseeded(0);
        let mut none = ExponentialBackoff::builder()
            .min(b.min())
            .max(b.max())
            .multiplier(b.multiplier())
            .jitter(Jitter::None)
            .build()
            .unwrap();
        let ds = delays(&mut none, n);
        prop_assert_eq!(ds[0], none.min());
        for w in ds.windows(2) {
            prop_assert!(w[0] <= w[1], "{:?} then {:?}", w[0], w[1]);
        }
        // Full jitter also starts at min (its first range is empty).
        if b.jitter() == Jitter::Full {
            prop_assert_eq!(b.next_delay(), b.min());
        }
    }

    #[test]
    fn same_seed_same_sequence(b in backoff(), seed in any::<u64>(), n in 1usize..100) {
        let one = delays(&mut b.reseeded(seed), n);
        let two = delays(&mut b.reseeded(seed), n);
        prop_assert_eq!(&one, &two);
        // A clone continues exactly where the original is.
        let mut original = b.reseeded(seed);
        let _ = original.next_delay();
        let mut copy = original.clone();
        prop_assert_eq!(delays(&mut original, n), delays(&mut copy, n));
    }

    #[test]
    fn reset_restarts_the_sequence(b in backoff(), k in 0usize..50, n in 1usize..50) {
        let mut used = b.reseeded(1);
        let _ = delays(&mut used, k);
        used.reset();
        prop_assert_eq!(used.attempt(), 0);
        // Same position and same random stream: the same delays as a fresh sequence.
        let mut used = used.with_rng(DefaultRng::new(99));
        let mut fresh = b.reseeded(2).with_rng(DefaultRng::new(99));
        let (a, f): (Vec<_>, Vec<_>) = (0..n).map(|_| (used.next_delay(), fresh.next_delay())).unzip();
        prop_assert_eq!(a, f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn extreme_values_never_panic(
        min in prop_oneof![Just(Duration::from_nanos(1)), duration()],
        jitter in jitter(),
        multiplier in prop_oneof![Just(1e300), Just(f64::MAX), Just(1.0 + f64::EPSILON)],
        seed in any::<u64>(),
    ) {
        let min = min.max(Duration::from_nanos(1));
        let mut b = ExponentialBackoff::builder()
            .min(min)
            .max(Duration::MAX)
            .multiplier(multiplier)
            .jitter(jitter)
            .seed(seed)
            .build()
            .unwrap();
        for _ in 0..100_000 {
            let d = b.next_delay();
            prop_assert!(d >= min);
        }
        prop_assert_eq!(b.attempt(), 100_000);
    }
}

#[test]
fn huge_multiplier_jumps_to_max_and_stays() {
    let mut b = ExponentialBackoff::builder()
        .min(Duration::from_secs(1))
        .max(Duration::MAX)
        .multiplier(f64::MAX)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    assert_eq!(b.next_delay(), Duration::from_secs(1));
    assert_eq!(b.next_delay(), Duration::MAX);
    let mut b = b.with_rng(DefaultRng::new(3));
    for _ in 0..10 {
        assert_eq!(b.next_delay(), Duration::MAX);
    }
}
