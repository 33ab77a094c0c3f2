//! Serves the greeting workflows from the workflow directory, reloading it while it
//! runs, and the `compose_greeting` activity, on `hot-reload-example` until Ctrl-C.

use hot_reload_example::{TASK_QUEUE, reload_options, worker_builder, workflow_dir};
use sandglass_host::{Client, ConnectionSettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let dir = workflow_dir();
    std::fs::create_dir_all(&dir)?;
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let worker = worker_builder(client, &dir, reload_options())
        .build()
        .await?;
    tracing::info!(task_queue = TASK_QUEUE, dir = %dir.display(), "worker started; Ctrl-C to stop");
    worker.run_until_ctrl_c().await?;
    Ok(())
}
