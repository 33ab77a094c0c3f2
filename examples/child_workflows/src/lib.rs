//! The child-workflows example's native half: the carrier's booking activity, and the
//! worker that serves it with the parent and child workflow component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use child_workflows_declarations::{BOOK_SHIPMENT, ShipmentRequest};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "child-workflows-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "CHILD_WORKFLOWS_EXAMPLE_WASM";

/// A stand-in for a carrier's booking API: a short wait, then a tracking number made
/// from the service and the order, so the example's output is the same every run.
pub async fn book_shipment(
    _ctx: ActivityContext,
    request: ShipmentRequest,
) -> Result<String, ActivityFailure> {
    if request.order.quantity == 0 {
        return Err(ActivityFailure::application("EmptyOrder", "nothing to ship").non_retryable());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let service = if request.expedited { "EXP" } else { "GND" };
    Ok(format!("{service}-{}", request.order.id))
}

/// A worker on [`TASK_QUEUE`] serving both workflows and `book_shipment`.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .async_activity(BOOK_SHIPMENT, book_shipment)
}

/// The workflow component: `$CHILD_WORKFLOWS_EXAMPLE_WASM` if set, else built from
/// `examples/child_workflows/workflows` for wasm32-wasip2 (a no-op when up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "child-workflows-workflows",
    )?)
}
