//! [`DeviceGateMiddleware`]: per-device in-flight caps and holds.

mod builder;
mod hold;
mod state;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Url;
use resile_policy::classify::{Route, Routes};
use resile_policy::{Classification, Classify, Clock, ExponentialBackoff, Reason, Registry, Scope};
use tokio::sync::SemaphorePermit;

pub use builder::DeviceGateBuilder;

use self::state::Counters;
pub(crate) use self::state::DeviceState;
use crate::parts::authority;
use crate::seed::Seeds;
use crate::{Error, TokioClock, telemetry};

/// The device gate: caps and holds requests per device, so one full or sleeping
/// device is left alone while every other device and route goes on.
///
/// Connect relays each command to one device through a queue of 20 (commercial
/// accounts). A full queue answers `QUEUE_IS_FULL`; an unreachable device answers
/// `DEVICE_NOT_CONNECTED`, 502/503/504 on its route, or 423. Hammering it changes
/// nothing and costs money (every REST call is billed). For each (host, device id)
/// on a device route ([`Routes`]), the gate:
///
/// - **caps requests in flight** at [`max_in_flight`](DeviceGateBuilder::max_in_flight)
///   (20, the queue size): the 21st waits for a slot locally instead of drawing a
///   `QUEUE_IS_FULL` (never past a [`Deadline`](crate::Deadline): then [`Error::deadline_exceeded`]);
/// - **holds the device** after a device-scoped retryable outcome (`device_queue_full`,
///   `device_unreachable`): further requests to it wait until the hold ends, if it
///   ends within [`max_wait`](DeviceGateBuilder::max_wait) (5 s) and before their
///   [`Deadline`](crate::Deadline); otherwise they fail at once with [`Error::device_held`], naming the
///   device and when to ask again. Holds grow per consecutive hold (1 s, 1–2 s,
///   2–4 s, … up to 15–30 s, equal jitter from a seeded generator); a `Retry-After`
///   on the outcome is a floor (clamped to 60 s). A success from the device ends
///   the hold and resets the growth.
///
/// Host routes, requests without a device id and other devices never wait here. The
/// outcomes are classified once (once for all layers in a [`Stack`](crate::Stack)); only the
/// device's own outcomes move its state. Outcomes of requests sent before the
/// latest hold are stale and change nothing, so 20 commands answered `QUEUE_IS_FULL`
/// at once set one 1 s hold, not a 30 s one, and a late 202 from before the hold
/// (accepted while the queue still had room) does not lift it. So a hold in force
/// always runs its course; a success from a request sent after it resets the growth.
///
/// `DEVICE_NOT_FOUND` (404, `fix_request` / device) is **not** turned into a local
/// hold: the server's answer is precise and cheap to get again, and a device that is
/// re-registered would otherwise be refused by a stale local cache. The retry layer
/// does not resend it.
///
/// State is kept in a bounded [`Registry`] (100 000 devices by default); when it is
/// full, idle devices (nothing in flight, no hold in force) are forgotten first, so a
/// million device ids cannot exhaust memory. A forgotten device starts afresh.
///
/// # Defaults
///
/// | setting | value | why |
/// |---|---|---|
/// | in flight per device | 20 | the Connect queue size (spec §7) |
/// | longest wait for a hold | 5 s | a retry of a full queue (≥ 1 s later) waits out a first or second hold; longer holds fail fast |
/// | hold lengths | 1 s → 30 s, ×2, equal jitter | a queue drains in seconds; an offline device is retried about twice a minute |
/// | `Retry-After` clamp | 60 s | as the retry layer |
/// | devices tracked | 100 000 | a large fleet; about 35 MB at most (≈ 350 bytes per device, key included) |
/// | routes | [`Routes::standard`] | the spec's device routes |
///
/// # Note
///
/// Put it inside the breaker and the retry layer: each attempt, retries included,
/// takes a slot and respects the hold, and a retry that lands during a hold waits
/// for it. The wait for a slot is bounded only by the [`Deadline`](crate::Deadline) extension (set
/// one, or rely on the per-attempt timeout of the retry layer freeing slots). Errors
/// this gate raises are not classified, so the breaker ignores them.
///
/// # Example
///
/// ```
/// use resile_reqwest::DeviceGateMiddleware;
///
/// let gate = DeviceGateMiddleware::builder().max_in_flight(10).build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(gate)
///     .build();
/// # drop(client);
/// # Ok::<(), resile_policy::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct DeviceGateMiddleware {
    devices: Registry<(String, String), DeviceState>,
    routes: Routes,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    max_in_flight: usize,
    max_wait: Duration,
    max_retry_after: Duration,
    backoff: ExponentialBackoff,
    seeds: Seeds,
    counters: Arc<Counters>,
}

impl DeviceGateMiddleware {
    /// A builder with the documented defaults.
    pub fn builder() -> DeviceGateBuilder {
        DeviceGateBuilder::default()
    }

    /// Holds set so far, over every device.
    pub fn holds(&self) -> u64 {
        self.counters.holds.load(Ordering::Relaxed)
    }

    /// Tracked devices that are held, or were held and have not succeeded since.
    pub fn held_devices(&self) -> usize {
        self.counters.backing_off.load(Ordering::Relaxed)
    }

    /// Devices with state now (at most `max_devices`).
    pub fn tracked_devices(&self) -> usize {
        self.devices.len()
    }

    /// How long `device` on `host` (`host[:port]`) stays held from now; `None` if
    /// it is not held.
    pub fn hold_remaining(&self, host: &str, device: &str) -> Option<Duration> {
        let state = self.devices.get(&(host.to_owned(), device.to_owned()))?;
        let now = TokioClock.now();
        let (until, _) = state.hold().blocking(now)?;
        Some(until.saturating_duration_since(now))
    }

    fn state_for(&self, key: &(String, String)) -> Arc<DeviceState> {
        if let Some(state) = self.devices.get(key) {
            return state;
        }
        self.devices.get_or_insert_with(key, || {
            let backoff = self.backoff.reseeded(self.seeds.next());
            DeviceState::new(self.max_in_flight, backoff, Arc::clone(&self.counters))
        })
    }

    /// Passes the gate: waits out a hold (or refuses), then takes a slot. Returns
    /// the slot and the hold generation the request is sent in.
    async fn enter<'s>(
        &self,
        state: &'s DeviceState,
        host: &str,
        device: &str,
        deadline: Option<Instant>,
    ) -> Result<(Option<SemaphorePermit<'s>>, u64), Error> {
        let clock = TokioClock;
        let start = clock.now();
        let max_wait = start.checked_add(self.max_wait).unwrap_or(start);
        let hold_limit = deadline.map_or(max_wait, |d| d.min(max_wait));
        loop {
            self.wait_out_hold(state, host, device, hold_limit).await?;
            let slot = self.take_slot(state, host, deadline).await?;
            let hold = state.hold();
            if hold.blocking(clock.now()).is_none() {
                return Ok((slot, hold.generation()));
            }
            // Held while we waited for the slot: give it back and wait again.
        }
    }

    async fn wait_out_hold(
        &self,
        state: &DeviceState,
        host: &str,
        device: &str,
        limit: Instant,
    ) -> Result<(), Error> {
        let clock = TokioClock;
        loop {
            let now = clock.now();
            let Some((until, reason)) = state.hold().blocking(now) else {
                return Ok(());
            };
            let left = until.saturating_duration_since(now);
            if until > limit {
                tracing::info!(target: "resile::device_gate", host, device, reason = reason.as_str(), retry_after_ms = left.as_millis() as u64, "device held: failing fast");
                telemetry::rejected(host, "device_held");
                return Err(Error::device_held(host, device, reason.as_str(), left));
            }
            tracing::debug!(target: "resile::device_gate", host, device, reason = reason.as_str(), wait_ms = left.as_millis() as u64, "device held: waiting");
            // A hold in force is never lifted early (see `Hold`), so sleep it out,
            // then look again: another outcome may have set a new one meanwhile.
            clock.sleep_until(until).await;
        }
    }

    async fn take_slot<'s>(
        &self,
        state: &'s DeviceState,
        host: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<SemaphorePermit<'s>>, Error> {
        let acquired = match deadline {
            None => state.slots.acquire().await,
            Some(d) => match tokio::time::timeout_at(d.into(), state.slots.acquire()).await {
                Ok(acquired) => acquired,
                Err(_) => {
                    telemetry::rejected(host, "device_slot");
                    return Err(Error::deadline_exceeded(host, "a device slot"));
                }
            },
        };
        // The semaphore is never closed; were it, the request would go ungated.
        Ok(acquired.ok())
    }

    /// Moves the device's hold after an outcome of a request sent in `generation`.
    fn observe(
        &self,
        state: &DeviceState,
        generation: u64,
        c: &Classification,
        host: &str,
        device: &str,
    ) {
        let now = TokioClock.now();
        let mut hold = state.hold();
        let was = hold.is_backing_off();
        if c.scope() == Scope::Device && c.is_retryable() {
            let reason = c.reason().unwrap_or(Reason::DeviceUnreachable);
            let hint = c.retry_after().map(|h| h.min(self.max_retry_after));
            let Some(length) = hold.fail(generation, reason, hint, now) else {
                return;
            };
            let consecutive = hold.consecutive();
            drop(hold);
            state.count(was, true);
            self.counters.holds.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "resile::device_gate", host, device, reason = reason.as_str(), hold_ms = length.as_millis() as u64, consecutive, "device held");
        } else if c.is_success() && hold.succeed(generation) {
            drop(hold);
            state.count(was, false);
            tracing::debug!(target: "resile::device_gate", host, device, "device succeeded: hold growth reset");
        }
    }
}

/// A request let through the gate: its device, the slot it holds and the hold
/// generation it was sent in. Dropped, it frees the slot.
pub(crate) struct Entered {
    state: Arc<DeviceState>,
    key: (String, String),
    generation: u64,
    slot: bool,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if std::mem::take(&mut self.slot) {
            self.state.slots.add_permits(1);
        }
    }
}

/// Where [`DeviceGateMiddleware::try_enter`] left a request.
pub(crate) enum Gate {
    /// Through at once.
    Entered(Entered),
    /// Held, or no slot free: [`DeviceGateMiddleware::enter_waiting`] takes it on.
    Wait(Arc<DeviceState>, (String, String)),
}

impl DeviceGateMiddleware {
    /// The (host, device id) a request for `url` is gated by; `None` for host
    /// routes and routes without a device id.
    pub(crate) fn device_of(&self, url: &Url) -> Option<(String, String)> {
        match self.routes.route(url.path()) {
            Route::Device { id: Some(id), .. } => Some((authority(url).to_owned(), id.to_owned())),
            _ => None,
        }
    }

    /// Lets the request through at `now` when its device is not held and a slot
    /// is free, without waiting.
    pub(crate) fn try_enter(&self, key: (String, String), now: Instant) -> Gate {
        let state = self.state_for(&key);
        let generation = {
            let hold = state.hold();
            if hold.blocking(now).is_some() {
                drop(hold);
                return Gate::Wait(state, key);
            }
            hold.generation()
        };
        let slot = state
            .slots
            .try_acquire()
            .map(SemaphorePermit::forget)
            .is_ok();
        if !slot {
            return Gate::Wait(state, key);
        }
        Gate::Entered(Entered {
            state,
            key,
            generation,
            slot,
        })
    }

    /// Waits out the device's hold (or refuses), then for a slot; never past
    /// `deadline`.
    pub(crate) async fn enter_waiting(
        &self,
        state: Arc<DeviceState>,
        key: (String, String),
        deadline: Option<Instant>,
    ) -> Result<Entered, Error> {
        let (slot, generation) = self.enter(&state, &key.0, &key.1, deadline).await?;
        let slot = slot.map(SemaphorePermit::forget).is_some();
        Ok(Entered {
            state,
            key,
            generation,
            slot,
        })
    }

    /// Moves the device's hold after the outcome `seen` (`None`: unclassified),
    /// and frees the slot.
    pub(crate) fn settle(&self, entered: Entered, seen: Option<&Classification>) {
        if let Some(c) = seen {
            let (host, device) = (&entered.key.0, &entered.key.1);
            self.observe(&entered.state, entered.generation, c, host, device);
        }
        // Only now: the hold moves before the slot frees for the next request.
        drop(entered);
    }

    /// The classifier and body limit this layer judges outcomes with.
    pub(crate) fn classifier(&self) -> (&dyn Classify, usize) {
        (self.classifier.as_ref(), self.body_limit)
    }
}

crate::driver::middleware!(DeviceGateMiddleware, gate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middleware_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<DeviceGateMiddleware>();
    }
}
