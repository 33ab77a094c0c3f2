//! The Python SDK guide's `worker.py`: serves `GreetingWorkflow` (wasm) and `greet` (native) on
//! `my-task-queue` until Ctrl-C.

use greeting::{TASK_QUEUE, workflow_component};
use greeting_activities::{GREET, greet};
use sandglass_host::{Client, ConnectionSettings, Worker, WorkerOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let component = workflow_component()?;
    let client = Client::connect(ConnectionSettings::from_env()?).await?;

    // The Python SDK guide's `ThreadPoolExecutor(max_workers=100)` for sync activities.
    let options = WorkerOptions::default().with_activity_threads(100);

    let worker = Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
        .options(options)
        .build()
        .await?;
    tracing::info!(task_queue = TASK_QUEUE, workflow_types = ?worker.workflow_types(), "worker started; Ctrl-C to stop");
    worker.run_until_ctrl_c().await?;
    Ok(())
}
