//! The workloads, driven through a Sandglass client (any client would do: the workers
//! under test only see the server).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use sandglass_host::{Client, History, WorkflowDefinition, WorkflowOptions};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

pub const GREETING: WorkflowDefinition<String, String> =
    WorkflowDefinition::new("GreetingWorkflow");
pub const PARKED: WorkflowDefinition<u64, String> = WorkflowDefinition::new("ParkedWorkflow");
pub const CHAIN: WorkflowDefinition<u32, u32> = WorkflowDefinition::new("ChainWorkflow");

/// Runs `count` greeting workflows, `concurrency` at a time; returns the wall time.
pub async fn greetings(
    client: &Client,
    task_queue: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| async move {
            let name = format!("bench {i}");
            let id = format!("{prefix}-greeting-{i}");
            let result = client
                .execute_workflow(GREETING, &name, WorkflowOptions::new(id, task_queue))
                .await
                .with_context(|| format!("greeting workflow {i}"))?;
            anyhow::ensure!(
                result == format!("Hello, {name}!"),
                "unexpected result {result:?}"
            );
            Ok(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(started.elapsed())
}

/// Starts `count` runs parked on an hour-long timer and waits until the worker has
/// handled their first task (a sample of them shows `TimerStarted`).
pub async fn park(
    client: &Client,
    task_queue: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-parked-{i}")).collect();
    futures::stream::iter(ids.iter())
        .map(|id| async move {
            client
                .start_workflow(PARKED, &3_600, WorkflowOptions::new(id.clone(), task_queue))
                .await
                .with_context(|| format!("start {id}"))
                .map(drop)
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let step = (count / 20).max(1);
    for id in ids.iter().step_by(step).chain(ids.last()) {
        let handle = client.workflow_handle::<String>(id.clone(), None);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let history = handle.fetch_history().await?;
            let parked = history.events.iter().any(|event| {
                matches!(
                    event.attributes,
                    Some(Attributes::TimerStartedEventAttributes(_))
                )
            });
            if parked {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "{id} never started its timer");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Runs one `ChainWorkflow(n)` and returns its history.
pub async fn chain(client: &Client, task_queue: &str, id: &str, n: u32) -> anyhow::Result<History> {
    let handle = client
        .start_workflow(CHAIN, &n, WorkflowOptions::new(id, task_queue))
        .await?;
    let result = handle.result().await.context("chain workflow")?;
    anyhow::ensure!(result == n, "chain returned {result}, expected {n}");
    Ok(handle.fetch_history().await?)
}
