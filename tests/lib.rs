//! Nothing here: this package exists for its one integration-test binary,
//! `main.rs`, which links the whole workspace once.
