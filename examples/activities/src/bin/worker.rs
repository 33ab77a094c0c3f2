//! Serves `ReportWorkflow` (wasm) and `fetch_chunks`, `checksum`, `upload` (native) on
//! `activities-example` until Ctrl-C, then lets running activities finish for up to
//! ten seconds before cancelling them.

use std::time::Duration;

use activities_example::{TASK_QUEUE, worker_builder, workflow_component};
use sandglass_host::{Client, ConnectionSettings, WorkerOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let component = workflow_component()?;
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let options = WorkerOptions::default()
        .with_activity_threads(8)
        .with_graceful_shutdown_period(Duration::from_secs(10));
    let worker = worker_builder(client, component)
        .options(options)
        .build()
        .await?;
    tracing::info!(task_queue = TASK_QUEUE, "worker started; Ctrl-C to stop");
    worker.run_until_ctrl_c().await?;
    Ok(())
}
