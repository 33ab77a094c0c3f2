//! The patching example's native half: the order activities, and the worker that
//! serves them with the `OrderWorkflow` component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use patching_declarations::{CHARGE, Order, SEND_RECEIPT, SHIP};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "patching-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "PATCHING_EXAMPLE_WASM";

/// How long each service takes to answer.
const SERVICE_TIME: Duration = Duration::from_millis(100);

/// A stand-in payment service; the reference is derived from the order id, so a retried
/// attempt charges the same payment (an idempotency key, in a real service).
pub fn charge(_ctx: &ActivityContext, order: Order) -> Result<String, ActivityFailure> {
    std::thread::sleep(SERVICE_TIME);
    let cents = order.amount_cents;
    tracing::info!(order = %order.id, "charged {} {}.{:02}", order.customer, cents / 100, cents % 100);
    Ok(format!("PAY-{}", order.id))
}

/// A stand-in mailer: the activity the change added.
pub fn send_receipt(_ctx: &ActivityContext, order: Order) -> Result<String, ActivityFailure> {
    std::thread::sleep(SERVICE_TIME);
    tracing::info!(order = %order.id, "sent the receipt to {}", order.email);
    Ok(format!("RCPT-{}", order.id))
}

/// A stand-in carrier.
pub fn ship(_ctx: &ActivityContext, order: Order) -> Result<String, ActivityFailure> {
    std::thread::sleep(SERVICE_TIME);
    tracing::info!(order = %order.id, "shipped to {}", order.customer);
    Ok(format!("TRACK-{}", order.id))
}

/// A worker on [`TASK_QUEUE`] serving the order workflow and its three activities.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .sync_activity(CHARGE, charge)
        .sync_activity(SEND_RECEIPT, send_receipt)
        .sync_activity(SHIP, ship)
}

/// The workflow component: `$PATCHING_EXAMPLE_WASM` if set, else built from
/// `examples/patching/workflows` for wasm32-wasip2 (a no-op when up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "patching-workflows",
    )?)
}
