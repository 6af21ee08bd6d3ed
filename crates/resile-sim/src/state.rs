//! The state every connection shares, behind one short-held mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::auth::Tokens;
use crate::builder::Config;
use crate::fleet::Fleet;
use crate::plan::Limiter;
use crate::rng;
use crate::stats::{Counters, Stats};

/// Settings plus mutable state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    inner: Mutex<Inner>,
}

/// Everything that changes while the simulator runs.
#[derive(Debug)]
pub(crate) struct Inner {
    /// Time zero of the timeline.
    pub(crate) epoch: Instant,
    /// The next request's sequence number (restarts at a full reset, so draws repeat).
    pub(crate) seq: u64,
    /// Request ids handed out (never restarts, so ids stay unique).
    ids: u64,
    pub(crate) fleet: Fleet,
    pub(crate) tokens: Tokens,
    pub(crate) limiter: Limiter,
    pub(crate) stats: Counters,
}

impl Shared {
    pub(crate) fn new(cfg: Config, now: Instant) -> Self {
        let inner = Inner {
            epoch: now,
            seq: 0,
            ids: 0,
            fleet: fleet(&cfg, now),
            tokens: Tokens::default(),
            limiter: Limiter::default(),
            stats: Counters::default(),
        };
        Self {
            cfg,
            inner: Mutex::new(inner),
        }
    }

    /// The state; a panic elsewhere never makes it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn fleet(cfg: &Config, now: Instant) -> Fleet {
    Fleet::new(
        cfg.devices,
        &cfg.offline,
        &cfg.full,
        cfg.queue_capacity,
        cfg.drain_per_second,
        now,
    )
}

impl Inner {
    /// Starts the timeline, fleet, limiter and stats over; tokens stay valid.
    pub(crate) fn reset(&mut self, cfg: &Config, now: Instant) {
        self.epoch = now;
        self.seq = 0;
        self.fleet = fleet(cfg, now);
        self.limiter = Limiter::default();
        self.stats = Counters::default();
    }

    /// A fresh request id: 32 hex digits fixed by the seed and a counter.
    pub(crate) fn next_request_id(&mut self, seed: u64) -> String {
        self.ids += 1;
        format!("{:016x}{:016x}", rng::mix(seed ^ 0x0e0e_0e0e), self.ids)
    }

    /// The stats now.
    pub(crate) fn snapshot(&self, now: Instant) -> Stats {
        let elapsed = now.saturating_duration_since(self.epoch);
        self.stats
            .snapshot(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }
}
