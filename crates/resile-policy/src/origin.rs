//! Time as a plain `u64` that atomics can hold: nanoseconds since the first
//! instant a structure was given. No clock is read; the caller's `now` sets it.

use std::sync::OnceLock;
use std::time::Instant;

/// The first `now` a structure saw, from which it counts nanoseconds.
#[derive(Debug, Default)]
pub(crate) struct Origin(OnceLock<Instant>);

impl Origin {
    pub(crate) const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// Nanoseconds from the first `now` passed in to `now`: 0 for earlier
    /// instants, `u64::MAX` past 584 years.
    pub(crate) fn nanos(&self, now: Instant) -> u64 {
        let origin = *self.0.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Clock, ManualClock};

    #[test]
    fn counts_from_the_first_instant_and_never_below_it() {
        let t0 = ManualClock::new().now();
        let o = Origin::new();
        assert_eq!(o.nanos(t0 + Duration::from_secs(1)), 0, "the first sets it");
        assert_eq!(o.nanos(t0 + Duration::from_millis(1500)), 500_000_000);
        assert_eq!(o.nanos(t0), 0, "earlier");
    }
}
