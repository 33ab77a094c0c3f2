//! What the worker and the starter share.

use std::path::{Path, PathBuf};

/// The task queue the worker polls and the starter starts workflows on.
pub const TASK_QUEUE: &str = "{{name}}";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "{{env}}_WORKFLOWS_WASM";

/// The workflow component: `${{env}}_WORKFLOWS_WASM` if set, else `workflows/` built for
/// wasm32-wasip2 (a no-op when it is up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "{{name}}-workflows",
    )?)
}
