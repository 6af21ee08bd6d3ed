//! Nothing here: the package exists for its examples (`cargo run -p
//! resile-examples --example classify_only`, ...), each of which runs against the
//! embedded simulator and needs no network.
