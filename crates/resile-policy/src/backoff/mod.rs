//! How long to wait before the next attempt.
//!
//! # Why jitter
//!
//! When a server fails, it fails for every client at once. If each client waits a fixed
//! or purely exponential time before retrying, they all come back at the same instants:
//! a *thundering herd* that hits the server in synchronised waves just as it tries to
//! recover, and the waves repeat at every step of the backoff. Growing the delay
//! exponentially lowers the average load but keeps the waves; randomising the delay
//! (jitter) is what spreads the retries out over time.
//!
//! Marc Brooker's post "Exponential Backoff And Jitter" on the AWS Architecture Blog
//! simulated clients contending for one resource and compared plain exponential
//! backoff with three kinds of jitter, all provided here as [`Jitter`]:
//!
//! - **no jitter** did by far the most work (calls) and took the longest, because the
//!   clients kept colliding;
//! - **full jitter** (uniform between the floor and the exponential ceiling) did the
//!   least work and finished among the quickest;
//! - **decorrelated jitter** (each delay drawn from the previous one, up to three times
//!   it) was close to full jitter;
//! - **equal jitter** (half fixed, half random) was the weakest of the jittered kinds: it
//!   keeps a guaranteed minimum wait at the price of more collisions.
//!
//! Hence the default is [`Jitter::Full`]. Every kind keeps each delay within
//! `[min, max]` of the [`ExponentialBackoff`] that uses it.
//!
//! # Why not the `backoff` crate
//!
//! The `backoff` crate is unmaintained (advisory RUSTSEC-2025-0012). Its policy also
//! reads time and randomness itself: its constructor and elapsed-time limit read
//! `Instant::now()`, and each delay is drawn from the thread RNG (`rand::random`), which
//! cannot be seeded. Nothing built on it runs in virtual time or replays the same way
//! twice. [`ExponentialBackoff`] is sans-I/O: it never reads a clock, and its
//! randomness comes from a seedable [`Rng`](crate::Rng) type parameter, so a test that
//! fixes the seed sees exactly the same delays every run.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use resile_policy::{ExponentialBackoff, Jitter};
//!
//! let template = ExponentialBackoff::builder()
//!     .min(Duration::from_millis(100))
//!     .max(Duration::from_secs(5))
//!     .jitter(Jitter::None)
//!     .build()?;
//!
//! // Each request gets its own sequence (and, with jitter, its own seed).
//! let mut backoff = template.reseeded(42);
//! let delays: Vec<Duration> = (0..4).map(|_| backoff.next_delay()).collect();
//! assert_eq!(delays, [100, 200, 400, 800].map(Duration::from_millis));
//! # Ok::<(), resile_policy::ConfigError>(())
//! ```

mod exponential;
mod jitter;
#[cfg(test)]
mod proptests;

pub use exponential::{ExponentialBackoff, ExponentialBackoffBuilder};
pub use jitter::Jitter;
