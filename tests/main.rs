//! resile's integration tests: one binary, one link.
//!
//! Rules run against the scripted terminal in paused tokio time; socket-level
//! behaviour runs against real loopback servers in real time.

mod auth;
mod breaker;
mod device_gate;
mod loopback;
mod pace;
mod retry;
mod stack;
