//! Pieces of the benchmark harness shared by its binaries.

pub mod args;
pub mod load;
pub mod peer;
pub mod proc_stats;
pub mod report;

/// Warnings and errors to stderr (`RUST_LOG` overrides), so stdout stays for results.
pub fn init_logging() {
    sandglass_host::logging::init("warn");
}
