//! The only module that writes to stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

/// Prints `text` and a newline on stdout.
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`resile explain | head`) is not an error worth a panic.
    let _ = writeln!(out, "{text}");
}

/// Prints an error and its causes on stderr.
pub(crate) fn error(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}
