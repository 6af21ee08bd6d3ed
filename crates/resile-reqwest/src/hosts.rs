//! Per-host state in one table, so a request finds its host once for every layer.
//!
//! The retry budget, the circuit breaker and the pacing of a host live side by
//! side in one [`Host`]. Each layer owns a [`Hosts`] table; a service's layers
//! share one ([`Hosts::share`]), so a request through
//! [`Stack`](crate::Stack) hashes and looks up its host once, not once per layer.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use resile_policy::{CircuitBreaker, Clock, Evict, Registry, RetryBudget};

use crate::TokioClock;
use crate::pace::HostPace;

/// One host's state, each part made by the first layer that needs it.
#[derive(Debug, Default)]
pub(crate) struct Host {
    /// The retry layer's budget.
    pub(crate) budget: OnceLock<RetryBudget>,
    /// The breaker layer's circuit.
    pub(crate) breaker: OnceLock<CircuitBreaker>,
    /// The pacing layer's hold and adaptive pace.
    pub(crate) pace: OnceLock<HostPace>,
}

impl Host {
    /// Forgetting the host loses nothing that changes a decision soon: a closed,
    /// quiet breaker and no hold or lowered pace. (A budget's deposits are cheap to
    /// lose: an evicted host starts again from the budget's floor.)
    fn is_idle(&self) -> bool {
        self.breaker.get().is_none_or(Evict::is_idle)
            && self.pace.get().is_none_or(|p| p.is_idle(TokioClock.now()))
    }
}

/// A bounded table of [`Host`]s keyed by `host[:port]`: a layer's own, or one
/// shared by a service's layers.
#[derive(Clone)]
pub(crate) struct Hosts(Arc<Registry<String, Host>>);

impl Hosts {
    /// An empty table of at most `capacity` hosts; busy hosts (an open breaker, a
    /// hold) are evicted last.
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self(Arc::new(Registry::with_idle(capacity, Host::is_idle)))
    }

    /// `host`'s state, made if absent.
    pub(crate) fn entry(&self, host: &str) -> Arc<Host> {
        self.0.get_or_insert_by(host, Host::default)
    }

    /// `host`'s state, if tracked.
    pub(crate) fn get(&self, host: &str) -> Option<Arc<Host>> {
        self.0.get(host)
    }

    /// Hosts tracked now.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The most hosts it keeps.
    pub(crate) fn capacity(&self) -> NonZeroUsize {
        self.0.capacity()
    }

    /// Whether `self` and `other` are the same table.
    #[cfg(test)]
    pub(crate) fn is(&self, other: &Hosts) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// One table for several layers, as large as the largest of theirs.
    pub(crate) fn share<'a>(tables: impl IntoIterator<Item = &'a Hosts>) -> Option<Hosts> {
        tables
            .into_iter()
            .map(Hosts::capacity)
            .max()
            .map(Hosts::new)
    }
}

impl fmt::Debug for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use resile_policy::breaker::Feedback;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_table_forgets_quiet_hosts_before_an_open_breaker_or_a_hold() {
        let hosts = Hosts::new(NonZeroUsize::new(8).unwrap());
        let now = TokioClock.now();
        let down = hosts.entry("down.example");
        let breaker = down.breaker.get_or_init(|| {
            CircuitBreaker::builder()
                .consecutive_failures(1)
                .build()
                .unwrap()
        });
        let permit = breaker.try_acquire(now).unwrap();
        assert!(
            breaker
                .record(permit, Feedback::Failure, Duration::ZERO, now)
                .is_some()
        );
        let held = hosts.entry("held.example");
        assert!(
            held.pace
                .get_or_init(HostPace::default)
                .hold(now + Duration::from_secs(60))
        );
        // Nothing outside the table holds them now: only their state keeps them.
        drop((down, held));
        for i in 0..100 {
            hosts.entry(&format!("quiet{i}.example"));
        }
        assert!(hosts.len() <= 8, "{} hosts", hosts.len());
        assert!(hosts.get("down.example").is_some());
        assert!(hosts.get("held.example").is_some());
        assert!(hosts.get("quiet0.example").is_none());
    }
}
