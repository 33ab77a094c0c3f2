//! Runs the batch processor over 20 items (or as many as the first argument says),
//! three per batch and two batches per run, then prints the final progress and the runs
//! the chain left behind.

use std::time::Duration;

use anyhow::Context as _;
use continue_as_new_declarations::{BATCH_PROCESSOR_WORKFLOW, ProcessorInput, Progress};
use continue_as_new_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions, WorkflowStatus};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let items = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .with_context(|| format!("the item count must be a number, not {arg:?}"))?,
        None => 20,
    };
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let id = format!("batch-processor-{}", uuid::Uuid::new_v4());
    let input = ProcessorInput {
        items,
        batch_size: 3,
        batches_per_run: 2,
        progress: Progress::default(),
    };
    let handle = client
        .start_workflow(
            BATCH_PROCESSOR_WORKFLOW,
            &input,
            WorkflowOptions::new(id.clone(), TASK_QUEUE),
        )
        .await?;
    // `result` follows the chain of runs to the last one.
    let progress = handle.result().await?;
    println!(
        "Processed {} items in {} batches over {} runs: sum of squares {}",
        progress.processed, progress.batches, progress.runs, progress.sum_of_squares
    );

    // Visibility is eventually consistent: wait until it has caught up with every run.
    let query = format!("WorkflowId = '{id}'");
    let mut runs = Vec::new();
    for _ in 0..50 {
        runs = client.list_workflows(&query).await?;
        let settled =
            runs.len() == progress.runs as usize && runs.iter().all(|run| !run.status.is_running());
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let count = |status| runs.iter().filter(|run| run.status == status).count();
    println!(
        "Visibility lists {} runs: {} continued as new, {} completed",
        runs.len(),
        count(WorkflowStatus::ContinuedAsNew),
        count(WorkflowStatus::Completed)
    );
    Ok(())
}
