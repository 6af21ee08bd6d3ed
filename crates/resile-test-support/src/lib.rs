//! Test helpers for resile.
//!
//! [`Scripted`] is a terminal middleware: put it last in a
//! `reqwest_middleware::ClientBuilder` and it answers every request itself, from a
//! script, without touching the network, recording what it received. Pair it with
//! `#[tokio::test(start_paused = true)]` so backoffs take no real time.
//! [`FutureSize`] measures the per-request state the next layer keeps.

mod failure;
mod probe;
mod scripted;

pub use failure::{connect_error, reset_error};
pub use probe::FutureSize;
pub use scripted::{Received, Reply, Scripted};
