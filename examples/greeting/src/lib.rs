//! Shared by the greeting app's worker and starter binaries.

use std::path::PathBuf;

/// The task queue the seed's app uses.
pub const TASK_QUEUE: &str = "my-task-queue";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "GREETING_WORKFLOWS_WASM";

/// The greeting workflow component: `$GREETING_WORKFLOWS_WASM` if set, else built from
/// `examples/greeting/workflows` for wasm32-wasip2 (a no-op when it is up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(WASM_ENV) {
        return Ok(PathBuf::from(path));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::build_workflow_crate(
        &dir,
        "greeting-workflows",
    )?)
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
