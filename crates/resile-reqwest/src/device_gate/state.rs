//! [`DeviceState`]: what the gate keeps per (host, device): slots and hold.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use resile_policy::{Clock, Evict, ExponentialBackoff};
use tokio::sync::Semaphore;

use super::hold::Hold;
use crate::TokioClock;

/// Counters shared by the gate and every device state.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Holds set so far.
    pub(super) holds: AtomicU64,
    /// Tracked devices backing off (held, or held since their last success).
    pub(super) backing_off: AtomicUsize,
}

/// One device's slots and hold.
#[derive(Debug)]
pub(crate) struct DeviceState {
    /// Requests in flight to the device, at most `max_in_flight`.
    pub(super) slots: Semaphore,
    max_in_flight: usize,
    hold: Mutex<Hold>,
    counters: Arc<Counters>,
}

impl DeviceState {
    pub(super) fn new(
        max_in_flight: usize,
        backoff: ExponentialBackoff,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            slots: Semaphore::new(max_in_flight),
            max_in_flight,
            hold: Mutex::new(Hold::new(backoff)),
            counters,
        }
    }

    /// The hold, locked. Never held across an `.await`.
    pub(super) fn hold(&self) -> MutexGuard<'_, Hold> {
        // Nothing panics while it is held; after a caller's panic the state is whole.
        self.hold.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps [`Counters::backing_off`] in step with a change of `was` → `is`.
    pub(super) fn count(&self, was: bool, is: bool) {
        match (was, is) {
            (false, true) => {
                self.counters.backing_off.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.counters.backing_off.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

impl Evict for DeviceState {
    /// Idle with no request in flight and no hold in force: forgetting it loses at
    /// most the growth of the next hold.
    fn is_idle(&self) -> bool {
        self.slots.available_permits() >= self.max_in_flight
            && self.hold().blocking(TokioClock.now()).is_none()
    }
}

impl Drop for DeviceState {
    fn drop(&mut self) {
        let backing_off = self
            .hold
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_backing_off();
        self.count(backing_off, false);
    }
}
