//! Pieces of the benchmark harness shared by its binaries.

pub mod args;
pub mod load;
pub mod peer;
pub mod proc_stats;
pub mod report;

/// Warnings and errors to stderr (`RUST_LOG` overrides), so stdout stays for results.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
