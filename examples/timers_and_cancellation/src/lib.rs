//! The timers example's native half: the reminder's three activities, and the worker
//! that serves them with the `ReminderWorkflow` component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sandglass_host::{
    ActivityContext, ActivityFailure, Client, ClientError, Worker, WorkerBuilder, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use timers_declarations::{CALL_ON_CALL, POST_REMINDER, WITHDRAW_REMINDER};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "timers-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "TIMERS_EXAMPLE_WASM";

/// How long the stand-in on-call engineer takes to pick up the phone.
pub const PICK_UP_AFTER: Duration = Duration::from_secs(5);

/// Who picks up.
pub const ON_CALL: &str = "the on-call engineer";

/// A stand-in for posting to the team's chat.
pub async fn post_reminder(_ctx: ActivityContext, task: String) -> Result<(), ActivityFailure> {
    tracing::info!(task, "posted reminder");
    Ok(())
}

/// Rings until the engineer picks up after [`PICK_UP_AFTER`], heartbeating every 200 ms
/// so that a cancellation reaches it; cancelled, it hangs up.
pub async fn call_on_call(ctx: ActivityContext, task: String) -> Result<String, ActivityFailure> {
    let ring = async {
        let mut rings = 0u32;
        let mut waited = Duration::ZERO;
        while waited < PICK_UP_AFTER {
            rings += 1;
            ctx.heartbeat(&rings);
            tokio::time::sleep(Duration::from_millis(200)).await;
            waited += Duration::from_millis(200);
        }
    };
    tokio::select! {
        () = ring => {
            tracing::info!(task, "on-call picked up");
            Ok(ON_CALL.to_owned())
        }
        () = ctx.cancelled() => {
            tracing::info!(task, "call cancelled; hanging up");
            Err(ActivityFailure::cancelled())
        }
    }
}

/// A stand-in for deleting the chat post; safe to run twice.
pub async fn withdraw_reminder(_ctx: ActivityContext, task: String) -> Result<(), ActivityFailure> {
    tracing::info!(task, "withdrew reminder");
    Ok(())
}

/// Whether the run's history shows `withdraw_reminder` scheduled after the cancellation
/// request and completed: proof that the cleanup ran although the workflow was cancelled.
pub async fn withdrawn_after_cancel<O>(handle: &WorkflowHandle<O>) -> Result<bool, ClientError> {
    let history = handle.fetch_history().await?;
    let mut cancel_requested = false;
    let mut withdraw_scheduled = None;
    for event in history.events {
        match event.attributes {
            Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(_)) => {
                cancel_requested = true;
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled))
                if cancel_requested
                    && scheduled
                        .activity_type
                        .as_ref()
                        .is_some_and(|activity| activity.name == WITHDRAW_REMINDER.name()) =>
            {
                withdraw_scheduled = Some(event.event_id);
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(completed))
                if Some(completed.scheduled_event_id) == withdraw_scheduled =>
            {
                return Ok(true);
            }
            _ => {}
        }
    }
    Ok(false)
}

/// A worker on [`TASK_QUEUE`] serving `ReminderWorkflow` and its activities.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .async_activity(POST_REMINDER, post_reminder)
        .async_activity(CALL_ON_CALL, call_on_call)
        .async_activity(WITHDRAW_REMINDER, withdraw_reminder)
}

/// The workflow component: `$TIMERS_EXAMPLE_WASM` if set, else built from
/// `examples/timers_and_cancellation/workflows` for wasm32-wasip2 (a no-op when up to
/// date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "timers-workflows",
    )?)
}
