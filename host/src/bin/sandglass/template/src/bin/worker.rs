//! The worker: serves `GreetingWorkflow` (WebAssembly) and `greet` (native) until Ctrl-C.
//! The Python SDK's `worker.py`.

use sandglass_host::{Client, ConnectionSettings, Worker};
use {{crate}}::{TASK_QUEUE, workflow_component};
use {{crate}}_activities::{GREET, greet};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let component = workflow_component()?;
    // TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, or localhost:7233 and `default`.
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let worker = Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
        .build()
        .await?;
    println!("worker started on task queue {TASK_QUEUE}; Ctrl-C to stop");
    worker.run_until_ctrl_c().await?;
    Ok(())
}
