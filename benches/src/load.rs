//! Drivers for the growth bench: many distinct keys through one client, and many
//! concurrent requests on one host.

use std::sync::Arc;
use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use resile_policy::{DefaultRng, Rng};

use crate::harness::now;

/// The URL of a device request to device number `i` (a 32-hex-digit id, as the
/// simulator's fleet uses).
pub fn device_url(i: u64) -> String {
    format!("https://api.bench.test/v2/device-requests/0161b8e8a2d10a58{i:016x}?async-id={i}")
}

/// The URL of a host-route GET on host number `i`.
pub fn host_url(i: u64) -> String {
    format!("https://h{i:07}.bench.test/v3/devices")
}

/// Which keys a pass visits.
#[derive(Debug, Clone, Copy)]
pub enum Keys {
    /// `0..n` in order: every key new to a fresh client.
    Each(u64),
    /// `count` keys drawn uniformly from `0..n` (seeded): revisits.
    Random {
        /// Keys to draw from.
        n: u64,
        /// Draws.
        count: u64,
    },
}

impl Keys {
    /// How many requests the pass sends.
    pub const fn count(self) -> u64 {
        match self {
            Self::Each(n) => n,
            Self::Random { count, .. } => count,
        }
    }

    fn iter(self) -> impl Iterator<Item = u64> {
        let mut rng = DefaultRng::new(11);
        let (n, count, random) = match self {
            Self::Each(n) => (n, n, false),
            Self::Random { n, count } => (n.max(1), count, true),
        };
        (0..count).map(move |i| if random { rng.next_u64() % n } else { i })
    }
}

/// Sends one request per key (`url(key)`, POST when `post`), sequentially; panics
/// unless every answer is `expect`. Returns the time per request.
pub async fn pass(
    client: &ClientWithMiddleware,
    keys: Keys,
    url: fn(u64) -> String,
    post: bool,
    expect: u16,
) -> Duration {
    let start = now();
    for key in keys.iter() {
        let u = url(key);
        let req = if post { client.post(u) } else { client.get(u) };
        let resp = req.send().await.expect("the stub answers");
        assert_eq!(resp.status(), expect);
    }
    start.elapsed() / u32::try_from(keys.count().max(1)).unwrap_or(u32::MAX)
}

/// `total` GETs of one URL from `concurrency` tasks (each sending its share
/// sequentially) on the current tokio runtime. Returns wall time per request.
pub async fn concurrent(
    client: &ClientWithMiddleware,
    concurrency: usize,
    total: usize,
) -> Duration {
    let concurrency = concurrency.max(1);
    let each = total.div_ceil(concurrency);
    let client = Arc::new(client.clone());
    let start = now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                for _ in 0..each {
                    let resp = client
                        .get("https://api.bench.test/v3/devices")
                        .send()
                        .await
                        .expect("the stub answers");
                    assert_eq!(resp.status(), 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a request task panicked");
    }
    start.elapsed() / u32::try_from(each * concurrency).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_what_they_say() {
        assert_eq!(Keys::Each(3).iter().collect::<Vec<_>>(), [0, 1, 2]);
        let r: Vec<_> = Keys::Random { n: 10, count: 100 }.iter().collect();
        assert_eq!(r.len(), 100);
        assert!(r.iter().all(|&k| k < 10));
        assert_eq!(Keys::Random { n: 10, count: 7 }.count(), 7);
    }

    #[test]
    fn urls_name_a_device_route_and_distinct_hosts() {
        use resile_policy::classify::{Route, Routes};
        let u = reqwest::Url::parse(&device_url(5)).unwrap();
        assert_eq!(
            Routes::standard().route(u.path()),
            Route::Device {
                id: Some("0161b8e8a2d10a580000000000000005"),
                queue_429: false
            }
        );
        assert_ne!(host_url(1), host_url(2));
    }
}
