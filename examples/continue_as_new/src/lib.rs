//! The continue-as-new example's native half: the batch activity, and the worker that
//! serves it with the `BatchProcessorWorkflow` component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use continue_as_new_declarations::{Batch, PROCESS_BATCH};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "continue-as-new-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "CONTINUE_AS_NEW_EXAMPLE_WASM";

/// Processes one batch: a short wait standing in for real work, then the sum of the
/// squares of its items.
pub async fn process_batch(_ctx: ActivityContext, batch: Batch) -> Result<u64, ActivityFailure> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    (batch.first..batch.first.saturating_add(batch.count))
        .try_fold(0u64, |sum, item| {
            item.checked_mul(item)
                .and_then(|square| sum.checked_add(square))
        })
        .ok_or_else(|| {
            ActivityFailure::application("Overflow", "the sum does not fit in 64 bits")
                .non_retryable()
        })
}

/// A worker on [`TASK_QUEUE`] serving `BatchProcessorWorkflow` and `process_batch`.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .async_activity(PROCESS_BATCH, process_batch)
}

/// The workflow component: `$CONTINUE_AS_NEW_EXAMPLE_WASM` if set, else built from
/// `examples/continue_as_new/workflows` for wasm32-wasip2 (a no-op when up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "continue-as-new-workflows",
    )?)
}
