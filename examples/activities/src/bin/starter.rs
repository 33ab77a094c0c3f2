//! Runs one `ReportWorkflow` (6 chunks, or the number given) and prints its summary.

use activities_example::TASK_QUEUE;
use activities_example_declarations::REPORT_WORKFLOW;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let chunks: u32 = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|_| anyhow::anyhow!("{arg:?} is not a number of chunks"))?,
        None => 6,
    };
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let id = format!("report-{}", uuid::Uuid::new_v4());
    let summary = client
        .execute_workflow(
            REPORT_WORKFLOW,
            &chunks,
            WorkflowOptions::new(id, TASK_QUEUE),
        )
        .await?;
    println!(
        "Fetched {} chunks (attempt {}, resumed at chunk {}), checksum {}, upload: {}",
        summary.fetch.chunks,
        summary.fetch.attempt,
        summary.fetch.resumed_at,
        summary.checksum,
        summary.upload
    );
    Ok(())
}
