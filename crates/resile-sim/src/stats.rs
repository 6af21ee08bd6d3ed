//! What the simulator saw and did: counters, and their serialisable snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{FaultKind, RouteKind};

/// A snapshot of the simulator's counters, from [`SimHandle::stats`](crate::SimHandle::stats)
/// or `GET /__sim/stats` (same JSON).
///
/// Reading the stats (and `POST /__sim/reset`) is not counted. Map keys are the snake-case
/// names of [`RouteKind`] and [`FaultKind`], status codes as strings (`"503"`), and 401
/// error types (`"invalid_token"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Stats {
    /// Milliseconds since start (or the last full reset) when the snapshot was taken.
    pub elapsed_ms: u64,
    /// Requests received (excluding stats reads and resets).
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Requests by route kind, e.g. `{"list_devices": 12}`.
    pub route: BTreeMap<String, u64>,
    /// Responses by status, e.g. `{"200": 10, "503": 2}` (resets have no status; see
    /// [`no_response`](Self::no_response)).
    pub status: BTreeMap<String, u64>,
    /// 401 responses by error type (`invalid_auth`, `invalid_token`, `invalid_apikey`).
    pub unauthorized: BTreeMap<String, u64>,
    /// Faults injected, by kind, e.g. `{"outage": 4, "lost_response": 1}`.
    pub faults: BTreeMap<String, u64>,
    /// Requests that arrived while an [`Fault::Outage`](crate::Fault::Outage) window (a
    /// storm) was active for them, whatever their answer.
    pub during_outage: u64,
    /// Requests carrying an `Idempotency-Key` header.
    pub with_idempotency_key: u64,
    /// Access tokens issued by `POST /__sim/token` or [`SimHandle::issue_token`](crate::SimHandle::issue_token).
    pub tokens_issued: u64,
    /// Device commands queued (executions of `POST /v2/device-requests/..`).
    pub commands_accepted: u64,
    /// Devices created (executions of `POST /v3/devices`).
    pub devices_created: u64,
    /// Commands executed again with a `(device, async-id)` already executed.
    pub duplicate_commands: u64,
    /// Creates without an id executed again with the same body.
    pub duplicate_creates: u64,
    /// Successful answers replaced by an error or a reset by [`Fault::LostResponse`](crate::Fault::LostResponse).
    pub lost_responses: u64,
    /// Requests answered by closing the connection (resets).
    pub no_response: u64,
    /// Commands refused with `QUEUE_IS_FULL`.
    pub queue_full: u64,
    /// The deepest any device's command queue has been.
    pub max_queue_depth: u32,
}

impl Stats {
    /// Requests received: the same as [`requests`](Self::requests).
    pub const fn total(&self) -> u64 {
        self.requests
    }

    /// Responses sent with `status`.
    pub fn status_count(&self, status: u16) -> u64 {
        self.status
            .get(status.to_string().as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Requests that hit `route`.
    pub fn route_count(&self, route: RouteKind) -> u64 {
        self.route.get(route.as_str()).copied().unwrap_or(0)
    }

    /// Faults of `kind` injected.
    pub fn fault_count(&self, kind: FaultKind) -> u64 {
        self.faults.get(kind.as_str()).copied().unwrap_or(0)
    }

    /// 401 responses with error type `kind`.
    pub fn unauthorized_count(&self, kind: &str) -> u64 {
        self.unauthorized.get(kind).copied().unwrap_or(0)
    }

    /// Non-idempotent requests executed more than once: the harm blind retries do.
    pub const fn duplicate_executions(&self) -> u64 {
        self.duplicate_commands + self.duplicate_creates
    }

    /// State-changing executions: commands queued plus devices created.
    pub const fn executions(&self) -> u64 {
        self.commands_accepted + self.devices_created
    }
}

/// The live counters, cheap to bump under the simulator's lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: u64,
    pub(crate) connections: u64,
    pub(crate) route: BTreeMap<RouteKind, u64>,
    pub(crate) status: BTreeMap<u16, u64>,
    pub(crate) unauthorized: BTreeMap<&'static str, u64>,
    pub(crate) faults: BTreeMap<FaultKind, u64>,
    pub(crate) during_outage: u64,
    pub(crate) with_idempotency_key: u64,
    pub(crate) tokens_issued: u64,
    pub(crate) commands_accepted: u64,
    pub(crate) devices_created: u64,
    pub(crate) duplicate_commands: u64,
    pub(crate) duplicate_creates: u64,
    pub(crate) lost_responses: u64,
    pub(crate) no_response: u64,
    pub(crate) queue_full: u64,
    pub(crate) max_queue_depth: u32,
}

impl Counters {
    /// Counts one injected fault of `kind`.
    pub(crate) fn fault(&mut self, kind: FaultKind) {
        *self.faults.entry(kind).or_default() += 1;
    }

    /// The snapshot, stamped with `elapsed_ms`.
    pub(crate) fn snapshot(&self, elapsed_ms: u64) -> Stats {
        Stats {
            elapsed_ms,
            requests: self.requests,
            connections: self.connections,
            route: self
                .route
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            status: self
                .status
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            unauthorized: self
                .unauthorized
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            faults: self
                .faults
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            during_outage: self.during_outage,
            with_idempotency_key: self.with_idempotency_key,
            tokens_issued: self.tokens_issued,
            commands_accepted: self.commands_accepted,
            devices_created: self.devices_created,
            duplicate_commands: self.duplicate_commands,
            duplicate_creates: self.duplicate_creates,
            lost_responses: self.lost_responses,
            no_response: self.no_response,
            queue_full: self.queue_full,
            max_queue_depth: self.max_queue_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_through_json_and_answers_lookups() {
        let mut c = Counters {
            requests: 3,
            ..Counters::default()
        };
        c.status.insert(503, 2);
        c.route.insert(RouteKind::DeviceRequest, 3);
        c.fault(FaultKind::LostResponse);
        c.unauthorized.insert("invalid_token", 1);
        c.duplicate_commands = 1;
        c.commands_accepted = 2;
        let s = c.snapshot(42);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["status"]["503"], 2);
        assert_eq!(json["route"]["device_request"], 3);
        assert_eq!(json["faults"]["lost_response"], 1);
        let back: Stats = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            (s.total(), s.status_count(503), s.status_count(200)),
            (3, 2, 0)
        );
        assert_eq!(s.route_count(RouteKind::DeviceRequest), 3);
        assert_eq!(s.fault_count(FaultKind::LostResponse), 1);
        assert_eq!(s.unauthorized_count("invalid_token"), 1);
        assert_eq!((s.duplicate_executions(), s.executions()), (1, 2));
        let partial: Stats = serde_json::from_str(r#"{"requests": 5}"#).unwrap();
        assert_eq!(partial.total(), 5);
    }
}
