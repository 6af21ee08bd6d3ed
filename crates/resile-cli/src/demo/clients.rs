//! The three clients compared: bare reqwest, reqwest-retry and resile.

use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resile_reqwest::{FnSource, Resilience, RetryMiddleware, Service, Token};

/// A fresh reqwest client with the same settings for every contender.
pub(crate) fn http(timeout: Duration) -> reqwest::Client {
    http_builder(timeout).build().unwrap_or_default()
}

/// The reqwest client every contender builds on: `timeout` per request.
fn http_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
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

/// resile's full stack for the device-management service, its token from the
/// simulator's token endpoint (the stand-in for a real credential provider).
pub(crate) fn resile(
    base: &str,
    authority: &str,
    timeout: Duration,
    deadline: Duration,
    seed: u64,
) -> anyhow::Result<(ClientWithMiddleware, Service)> {
    let token_url = format!("{base}/__sim/token");
    let tokens = reqwest::Client::new();
    let source = FnSource::new(move || {
        let (tokens, url) = (tokens.clone(), token_url.clone());
        async move {
            let v: serde_json::Value = tokens
                .post(url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let secret = v["access_token"]
                .as_str()
                .ok_or("no access_token in the answer")?;
            let mut token = Token::new(secret);
            if let Some(secs) = v["expires_in"].as_u64() {
                token = token.expires_in(Duration::from_secs(secs));
            }
            Ok(token)
        }
    });
    let resilience = Resilience::builder()
        .service("device-management", |s| {
            s.hosts([authority])
                .allow_loopback_http(true)
                .auth(source)
                .retry(
                    RetryMiddleware::builder()
                        .deadline(Some(deadline))
                        .attempt_timeout(Some(timeout)),
                )
                .seed(seed)
        })
        .build()?;
    let service = resilience
        .service("device-management")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the service was just configured"))?;
    // reqwest's own timeout is the per-attempt timeout (`timeout`, as for the
    // others): no attempt needs one of its own unless its deadline is closer.
    Ok((service.build_client(http_builder(timeout))?, service))
}
