//! Shared pieces of resile's benchmarks.
//!
//! The crate replaces the global allocator with `allocation-counter`'s (thread-local
//! counts), so benches can prove a path allocates nothing.

pub mod clients;
pub mod decision;
pub mod harness;
pub mod load;
pub mod scenario;
pub mod stub;
