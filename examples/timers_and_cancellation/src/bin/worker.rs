//! Serves `ReminderWorkflow` (wasm) and its three activities
//! (native) on `timers-example` until Ctrl-C.

use sandglass_host::{Client, ConnectionSettings};
use timers_example::{TASK_QUEUE, worker_builder, workflow_component};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let component = workflow_component()?;
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let worker = worker_builder(client, component).build().await?;
    tracing::info!(task_queue = TASK_QUEUE, "worker started; Ctrl-C to stop");
    worker.run_until_ctrl_c().await?;
    Ok(())
}
