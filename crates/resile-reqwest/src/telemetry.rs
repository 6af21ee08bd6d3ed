//! Metrics through the `metrics` facade (feature `metrics`); no-ops without it.
//! Names follow OpenTelemetry where one exists (`http.request.resend_count`).

#[cfg(feature = "metrics")]
#[allow(dead_code)] // until every layer reports
mod imp {
    pub(crate) fn attempts(host: &str, class: &'static str, attempts: u32) {
        metrics::histogram!("http.request.resend_count", "server.address" => host.to_owned(), "class" => class)
            .record(f64::from(attempts.saturating_sub(1)));
    }
    pub(crate) fn retry(host: &str, reason: &'static str) {
        metrics::counter!("resile.retries", "server.address" => host.to_owned(), "reason" => reason)
            .increment(1);
    }
    pub(crate) fn gave_up(host: &str, why: &'static str) {
        metrics::counter!("resile.retry.stops", "server.address" => host.to_owned(), "why" => why)
            .increment(1);
    }
    pub(crate) fn breaker(host: &str, to: &'static str) {
        metrics::counter!("resile.breaker.transitions", "server.address" => host.to_owned(), "to" => to)
            .increment(1);
    }
    pub(crate) fn rejected(host: &str, what: &'static str) {
        metrics::counter!("resile.rejected", "server.address" => host.to_owned(), "what" => what)
            .increment(1);
    }
    pub(crate) fn refresh(outcome: &'static str) {
        metrics::counter!("resile.token.refreshes", "outcome" => outcome).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(dead_code)] // until every layer reports
mod imp {
    pub(crate) fn attempts(_: &str, _: &'static str, _: u32) {}
    pub(crate) fn retry(_: &str, _: &'static str) {}
    pub(crate) fn gave_up(_: &str, _: &'static str) {}
    pub(crate) fn breaker(_: &str, _: &'static str) {}
    pub(crate) fn rejected(_: &str, _: &'static str) {}
    pub(crate) fn refresh(_: &'static str) {}
}

#[allow(unused_imports)] // some are used only by layers behind features
pub(crate) use imp::*;

/// Whether metrics are recorded: what only feeds them (a host's name, say) is
/// worked out only then.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");
