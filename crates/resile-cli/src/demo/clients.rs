//! The three clients compared: bare reqwest, reqwest-retry and resile.

use std::sync::Arc;
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_reqwest::{PacingMiddleware, RetryMiddleware};

/// A fresh reqwest client with the same settings for every contender.
pub(crate) fn http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap_or_default()
}

/// No middleware at all.
pub(crate) fn bare(timeout: Duration) -> ClientWithMiddleware {
    ClientBuilder::new(http(timeout)).build()
}

/// The common choice today: reqwest-retry's transient retries, 3 retries with
/// exponential backoff (its documented setup).
pub(crate) fn reqwest_retry(timeout: Duration) -> ClientWithMiddleware {
    let policy = ExponentialBackoff::builder().build_with_max_retries(3);
    ClientBuilder::new(http(timeout))
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .build()
}

/// What the demo reads back from resile's layers.
#[derive(Debug, Clone)]
pub(crate) struct Probes {
    #[allow(dead_code)] // read once the breaker layer reports opens
    pub(crate) pacing: Arc<PacingMiddleware>,
}

/// resile's full stack for the device-management service.
pub(crate) fn resile(
    timeout: Duration,
    deadline: Duration,
    seed: u64,
) -> anyhow::Result<(ClientWithMiddleware, Probes)> {
    let retry = RetryMiddleware::builder()
        .deadline(Some(deadline))
        .attempt_timeout(Some(timeout))
        .seed(seed)
        .build()?;
    let pacing = Arc::new(PacingMiddleware::builder().build()?);
    let client = ClientBuilder::new(http(timeout))
        .with(retry)
        .with_arc(pacing.clone())
        .build();
    Ok((client, Probes { pacing }))
}
