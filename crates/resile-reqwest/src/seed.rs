//! Per-request seeds: deterministic after `.seed(n)`, varied per process otherwise.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out a distinct seed per call, derived from a base.
#[derive(Debug)]
pub(crate) struct Seeds {
    base: u64,
    counter: AtomicU64,
}

impl Seeds {
    /// `Some(seed)` for a reproducible sequence; `None` to vary per process.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let base = seed.unwrap_or_else(|| RandomState::new().hash_one(0x5eed_u64));
        Self {
            base,
            counter: AtomicU64::new(0),
        }
    }

    /// The next seed (SplitMix64 over base + counter).
    pub(crate) fn next(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut z = self
            .base
            .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
