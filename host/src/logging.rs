//! The log set-up of Sandglass binaries: the `sandglass` CLI, the examples' workers and
//! starters, the benchmark. Workers narrate what they serve through `tracing`; without a
//! subscriber none of it (nor a guest's `println!`) would be seen.

/// Sends `tracing` output to stderr at `default_level` (`"info"`, `"warn"`, a full
/// `EnvFilter` directive), unless `RUST_LOG` says otherwise. A second call does nothing,
/// so tests and binaries can both call it.
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
