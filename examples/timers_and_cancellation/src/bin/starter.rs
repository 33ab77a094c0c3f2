//! Runs three reminders: one acknowledged in time, one nobody acknowledges (so the
//! on-call call is cut off by its deadline), and one the client cancels.

use std::time::Duration;

use sandglass_host::{
    Client, ConnectionSettings, WorkflowHandle, WorkflowOptions, WorkflowResultError,
};
use timers_declarations::{
    ACKNOWLEDGE, Acknowledgement, Outcome, REMINDER_WORKFLOW, Reminder, STAGE, Stage,
};
use timers_example::{TASK_QUEUE, withdrawn_after_cancel};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let client = Client::connect(ConnectionSettings::from_env()?).await?;

    // Acknowledged as soon as it is waiting, well before the ten-second deadline.
    let task = "review the release notes";
    let handle = start(&client, task, Duration::from_secs(10)).await?;
    wait_for_stage(&handle, Stage::WaitingForAcknowledgement).await?;
    let acknowledgement = Acknowledgement {
        by: "Ana".to_owned(),
    };
    handle.signal(ACKNOWLEDGE, &acknowledgement).await?;
    println!("{task}: {}", describe(&handle.result().await?));

    // Nobody acknowledges within a second; on-call does not pick up in time either.
    let task = "renew the TLS certificate";
    let handle = start(&client, task, Duration::from_secs(1)).await?;
    println!("{task}: {}", describe(&handle.result().await?));

    // Cancelled while it waits for an acknowledgement.
    let task = "water the plants";
    let handle = start(&client, task, Duration::from_secs(60)).await?;
    wait_for_stage(&handle, Stage::WaitingForAcknowledgement).await?;
    handle.cancel().await?;
    match handle.result().await {
        Err(error @ WorkflowResultError::Cancelled) => println!("{task}: {error}"),
        Ok(outcome) => anyhow::bail!("{task}: expected a cancellation, got {outcome:?}"),
        Err(error) => return Err(error.into()),
    }
    if !withdrawn_after_cancel(&handle).await? {
        anyhow::bail!("{task}: the history shows no withdraw_reminder after the cancellation");
    }
    println!("{task}: cleanup ran: withdraw_reminder completed after the cancel request");
    Ok(())
}

/// Starts a reminder whose on-call call may ring for 1.5 s.
async fn start(
    client: &Client,
    task: &str,
    acknowledge_within: Duration,
) -> anyhow::Result<WorkflowHandle<Outcome>> {
    let reminder = Reminder {
        task: task.to_owned(),
        acknowledge_within,
        ring_for: Duration::from_millis(1500),
    };
    let id = format!("reminder-{}", uuid::Uuid::new_v4());
    Ok(client
        .start_workflow(
            REMINDER_WORKFLOW,
            &reminder,
            WorkflowOptions::new(id, TASK_QUEUE),
        )
        .await?)
}

/// Asks the workflow where it is until it reaches `stage` (ten seconds at most).
async fn wait_for_stage(handle: &WorkflowHandle<Outcome>, stage: Stage) -> anyhow::Result<()> {
    for _ in 0..100 {
        if handle.query(STAGE, &()).await? == stage {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the workflow did not reach {stage:?} within ten seconds")
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Acknowledged { by } => format!("acknowledged by {by}"),
        Outcome::Escalated { answered_by } => {
            format!("not acknowledged in time; {answered_by} answered the call")
        }
        Outcome::Unanswered => {
            "not acknowledged in time; nobody answered, so the call was cancelled".to_owned()
        }
    }
}
