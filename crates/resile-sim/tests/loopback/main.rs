//! Loopback tests: a real simulator on `127.0.0.1:0`, driven by a tiny raw HTTP/1.1
//! client that can see what higher-level clients hide (resets, short bodies).

mod auth;
mod client;
mod faults;
mod lifecycle;
mod routes;
