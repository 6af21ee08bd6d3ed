//! The scenario matrix: bare reqwest, reqwest-retry and resile against the
//! loopback simulator, under every preset, open and closed loop.
//!
//! # What is measured, and how
//!
//! Each (client, scenario, mode) run gets a **fresh simulator** with the same seed,
//! so no run inherits another's queues, tokens or breaker state. The server's
//! counters ([`resile_sim::Stats`]) give the load each client caused: API requests
//! (token requests excluded), requests during outage windows, tokens issued,
//! duplicate executions of non-idempotent requests. The client's side comes from
//! the logical requests themselves (success, latency) and from a [`Recorder`]
//! placed **innermost** in every client, just before the network, which timestamps
//! every attempt really sent: it checks that each retry after a `Retry-After` waited
//! at least the hint (a lower bound on the gap the server saw).
//!
//! # Open and closed loop
//!
//! Open loop starts requests on a fixed schedule whatever the client does, so a
//! client that waits (backoff, holds, an open breaker's refusals are instant) is
//! still offered the same work and its load on the server is directly comparable.
//! Closed loop runs a few workers that each send the next request after the
//! previous one ended: a client that waits is offered less work, which is how most
//! batch jobs behave, and why closed-loop numbers alone can hide amplification.
//!
//! # Fairness
//!
//! Every client gets the same reqwest settings (3 s per attempt) and the same
//! caller deadline (6 s per logical request, enforced by the harness for all, and
//! given to resile's retry layer). Bare reqwest and reqwest-retry send a token
//! fetched once from the simulator's token endpoint (they have no refresh hook);
//! resile's auth layer asks the same endpoint through a `FnSource`. Everything else
//! in resile is a documented default.

mod case;
mod clients;
mod recorder;
mod report;
mod run;
mod table;
mod targets;
mod workload;

/// The error type of the harness.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub use case::{Case, FULL, Mode, quick};
pub use clients::{ClientKind, Contender, Limits, build, fetch_token};
pub use recorder::{AttemptRecord, GapCheck, Recorder, Trace};
pub use report::{Count, LayerCounts, RunReport, recovery};
pub use run::{Settings, run_matrix, run_one};
pub use table::render;
pub use targets::{Limits as TargetLimits, Verdict, judge};
pub use workload::{Done, End, Kind, Plan, closed_loop, open_loop};
