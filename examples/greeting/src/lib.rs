//! Shared by the greeting app's worker and starter binaries.

use std::path::{Path, PathBuf};

/// The task queue the Python SDK guide's app uses.
pub const TASK_QUEUE: &str = "my-task-queue";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "GREETING_WORKFLOWS_WASM";

/// The greeting workflow component: `$GREETING_WORKFLOWS_WASM` if set, else built from
/// `examples/greeting/workflows` for wasm32-wasip2 (a no-op when it is up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "greeting-workflows",
    )?)
}
