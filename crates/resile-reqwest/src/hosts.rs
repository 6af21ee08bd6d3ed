//! Per-host state in one table, so a request finds its host once for every layer.
//!
//! The retry budget, the circuit breaker and the pacing of a host live side by
//! side in one [`Host`]. Each layer owns a [`Hosts`] table; a service's layers
//! share one ([`Hosts::share`]), so a request through
//! [`Stack`](crate::Stack) hashes and looks up its host once, not once per layer.
//! The hosts a service names ([`ServiceBuilder::hosts`](crate::ServiceBuilder::hosts))
//! are pinned: kept outside the bounded part for the service's life, never
//! evicted, and found without a lock.

use std::fmt;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use url::Url;

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

/// A table of [`Host`]s keyed by `host[:port]` (as in a URL): a layer's own, or
/// one shared by a service's layers. The service's named hosts are pinned; any
/// other host goes to a bounded part.
#[derive(Clone)]
pub(crate) struct Hosts {
    /// The service's own hosts, by authority: a few, compared in order.
    pinned: Arc<[(String, Host)]>,
    table: Arc<Registry<String, Host>>,
}

/// A host's state as a request holds it: borrowed when pinned, shared when in
/// the bounded part (eviction must not pull it from under the request).
pub(crate) enum HostRef<'h> {
    Pinned(&'h Host),
    Tracked(Arc<Host>),
}

impl Deref for HostRef<'_> {
    type Target = Host;
    fn deref(&self) -> &Host {
        match self {
            Self::Pinned(host) => host,
            Self::Tracked(host) => host,
        }
    }
}

impl Hosts {
    /// An empty table of at most `capacity` hosts; busy hosts (an open breaker, a
    /// hold) are evicted last.
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            pinned: Arc::new([]),
            table: Arc::new(Registry::with_idle(capacity, Host::is_idle)),
        }
    }

    fn pinned(&self, host: &str) -> Option<&Host> {
        self.pinned
            .iter()
            .find_map(|(name, state)| (name == host).then_some(state))
    }

    /// `host`'s state, made if absent.
    pub(crate) fn entry(&self, host: &str) -> HostRef<'_> {
        match self.pinned(host) {
            Some(state) => HostRef::Pinned(state),
            None => HostRef::Tracked(self.table.get_or_insert_by(host, Host::default)),
        }
    }

    /// `host`'s state, if tracked.
    pub(crate) fn get(&self, host: &str) -> Option<HostRef<'_>> {
        match self.pinned(host) {
            Some(state) => Some(HostRef::Pinned(state)),
            None => self.table.get(host).map(HostRef::Tracked),
        }
    }

    /// Hosts tracked now: the pinned ones and the others.
    pub(crate) fn len(&self) -> usize {
        self.pinned.len() + self.table.len()
    }

    /// The most hosts the bounded part keeps (the pinned ones come on top).
    pub(crate) fn capacity(&self) -> NonZeroUsize {
        self.table.capacity()
    }

    /// Whether `self` and `other` are the same table.
    #[cfg(test)]
    pub(crate) fn is(&self, other: &Hosts) -> bool {
        Arc::ptr_eq(&self.table, &other.table)
    }

    /// One table for several layers, as large as the largest of theirs, with
    /// `named` (a service's `host` or `host:port` names) pinned.
    pub(crate) fn share<'a>(
        tables: impl IntoIterator<Item = &'a Hosts>,
        named: &[String],
    ) -> Option<Hosts> {
        let mut one = tables
            .into_iter()
            .map(Hosts::capacity)
            .max()
            .map(Hosts::new)?;
        let mut pinned: Vec<String> = named.iter().flat_map(|n| authorities(n)).collect();
        pinned.sort_unstable();
        pinned.dedup();
        one.pinned = pinned
            .into_iter()
            .map(|name| (name, Host::default()))
            .collect();
        Some(one)
    }
}

/// The authorities a URL to `name` (`host` or `host:port`) has: as `https` and as
/// `http` (the two differ when the port is one's default). None for a name that
/// is not a host (a pattern).
fn authorities(name: &str) -> Vec<String> {
    if name.contains('*') {
        return Vec::new();
    }
    ["https", "http"]
        .iter()
        .filter_map(|scheme| Url::parse(&format!("{scheme}://{name}/")).ok())
        .filter(|url| url.has_host())
        .map(|url| crate::parts::authority(&url).to_owned())
        .collect()
}

impl fmt::Debug for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pinned: Vec<&str> = self.pinned.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Hosts")
            .field("pinned", &pinned)
            .field("others", &self.table)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use resile_policy::breaker::Feedback;

    use super::*;

    #[test]
    fn a_services_own_hosts_are_pinned_as_urls_name_them_and_never_evicted() {
        let named = [
            "API.example.com",
            "localhost:8080",
            "api.example.com:443",
            "*.wild.example",
        ]
        .map(String::from);
        let small = Hosts::new(NonZeroUsize::new(2).unwrap());
        let hosts = Hosts::share([&small], &named).unwrap();
        let pinned = |h: &str| matches!(hosts.get(h), Some(HostRef::Pinned(_)));
        // As a URL's authority reads: lower case, no default port.
        assert!(pinned("api.example.com"));
        assert!(pinned("localhost:8080"));
        assert!(pinned("api.example.com:443"), "an http URL keeps port 443");
        assert!(!pinned("API.example.com"));
        assert!(!pinned("*.wild.example") && !pinned("a.wild.example"));
        assert_eq!(hosts.len(), 3);
        // The same state every time, however many other hosts come and go.
        let first: *const Host = &*hosts.entry("api.example.com");
        for i in 0..100 {
            assert!(matches!(
                hosts.entry(&format!("other{i}.example")),
                HostRef::Tracked(_)
            ));
        }
        assert_eq!(hosts.len(), 3 + 2, "the others stay within the bound");
        assert!(std::ptr::eq(first, &*hosts.entry("api.example.com")));
    }

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
