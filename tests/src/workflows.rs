//! Client-side declarations of the workflows in `tests/workflows`, for the tests that
//! start them.

use sandglass_host::{
    ActivityDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};
use serde::{Deserialize, Serialize};

/// Input of `RemoteGreetingWorkflow`: whom to greet, and the task queue whose worker
/// serves the `greet` activity.
#[derive(Debug, Serialize)]
pub struct RemoteGreeting {
    pub name: String,
    pub task_queue: String,
}

/// Runs `greet` on another task queue, e.g. one served by a Python worker.
pub const REMOTE_GREETING: WorkflowDefinition<RemoteGreeting, String> =
    WorkflowDefinition::new("RemoteGreetingWorkflow");

/// Result of `TimerWorkflow`: how far workflow time moved across its timer, and a
/// random number drawn from the run's seed.
#[derive(Debug, Deserialize)]
pub struct TimerReport {
    pub slept_ms: u64,
    pub random: u64,
}

/// Sleeps on a durable timer for the given number of milliseconds.
pub const TIMER_WORKFLOW: WorkflowDefinition<u64, TimerReport> =
    WorkflowDefinition::new("TimerWorkflow");

/// Calls `flaky_until_third` with 100 ms flat retries; returns the activity's result.
pub const ACTIVITY_RETRY_WORKFLOW: WorkflowDefinition<(), u32> =
    WorkflowDefinition::new("ActivityRetryWorkflow");

/// Calls `fails_non_retryable` (with a policy that would retry) and propagates its error.
pub const NON_RETRYABLE_ACTIVITY_WORKFLOW: WorkflowDefinition<(), u32> =
    WorkflowDefinition::new("NonRetryableActivityWorkflow");

/// Calls `heartbeat_then_stall` with a 1 s heartbeat timeout and quick retries.
pub const HEARTBEAT_RESUME_WORKFLOW: WorkflowDefinition<(), u32> =
    WorkflowDefinition::new("HeartbeatResumeWorkflow");

/// Starts the given number of `pool_probe` activities at once and awaits them all.
pub const ACTIVITY_FAN_OUT_WORKFLOW: WorkflowDefinition<u32, Vec<u32>> =
    WorkflowDefinition::new("ActivityFanOutWorkflow");

/// What `CancelActivityWorkflow` saw when it cancelled its activity.
#[derive(Debug, Deserialize)]
pub struct CancelReport {
    pub cancelled: bool,
    pub outcome: String,
}

/// Starts `heartbeat_until_cancelled`, cancels it after the given milliseconds of
/// workflow time and waits until the activity confirms.
pub const CANCEL_ACTIVITY_WORKFLOW: WorkflowDefinition<u64, CancelReport> =
    WorkflowDefinition::new("CancelActivityWorkflow");

/// Runs `local_flaky` as a local activity with up to 3 attempts 1.5 s apart; `true`
/// makes the retries wait on workflow timers (local retry threshold 1 s).
pub const LOCAL_ACTIVITY_WORKFLOW: WorkflowDefinition<bool, u32> =
    WorkflowDefinition::new("LocalActivityWorkflow");

/// The activities those workflows call; the tests register them on their workers.
pub const FLAKY_UNTIL_THIRD: ActivityDefinition<(), u32> =
    ActivityDefinition::new("flaky_until_third");
pub const FAILS_NON_RETRYABLE: ActivityDefinition<(), u32> =
    ActivityDefinition::new("fails_non_retryable");
pub const HEARTBEAT_THEN_STALL: ActivityDefinition<(), u32> =
    ActivityDefinition::new("heartbeat_then_stall");
pub const POOL_PROBE: ActivityDefinition<u32, u32> = ActivityDefinition::new("pool_probe");
pub const HEARTBEAT_UNTIL_CANCELLED: ActivityDefinition<(), String> =
    ActivityDefinition::new("heartbeat_until_cancelled");
pub const LOCAL_FLAKY: ActivityDefinition<(), u32> = ActivityDefinition::new("local_flaky");

/// A running total: `add` and `finish` signals, `total` query, `add_checked` update
/// (validator rejects negatives) and `add_after_timer` update (waits half a second).
pub const MESSAGES_WORKFLOW: WorkflowDefinition<(), i64> =
    WorkflowDefinition::new("MessagesWorkflow");
pub const ADD: SignalDefinition<i64> = SignalDefinition::new("add");
pub const FINISH: SignalDefinition<()> = SignalDefinition::new("finish");
pub const TOTAL: QueryDefinition<(), i64> = QueryDefinition::new("total");
pub const ADD_CHECKED: UpdateDefinition<i64, i64> = UpdateDefinition::new("add_checked");
pub const ADD_AFTER_TIMER: UpdateDefinition<i64, i64> = UpdateDefinition::new("add_after_timer");

/// Input of `ParentWorkflow`.
#[derive(Debug, Serialize)]
pub struct ParentInput {
    pub name: String,
    /// Run the Python `PythonChildWorkflow` on this task queue instead.
    pub python_task_queue: Option<String>,
    /// Run `PythonDeepFailureWorkflow` there instead, which fails with 90 causes.
    pub python_deep_failure: bool,
}

/// Runs `ChildWorkflow` (or the Python child) and returns "parent got: ...".
pub const PARENT_WORKFLOW: WorkflowDefinition<ParentInput, String> =
    WorkflowDefinition::new("ParentWorkflow");
/// Continues as new `n` times, then says whether it continued.
pub const COUNTDOWN_WORKFLOW: WorkflowDefinition<u32, String> =
    WorkflowDefinition::new("CountdownWorkflow");
/// Waits an hour; cancelled, runs a non-cancellable `greet("cleanup")` first.
pub const CANCELLABLE_WORKFLOW: WorkflowDefinition<(), String> =
    WorkflowDefinition::new("CancellableWorkflow");
pub const PRE_PATCH_WORKFLOW: WorkflowDefinition<(), String> =
    WorkflowDefinition::new("PrePatchWorkflow");
pub const PATCHED_WORKFLOW: WorkflowDefinition<(), String> =
    WorkflowDefinition::new("PatchedWorkflow");
/// Signals `add(5)` then `finish` to the workflow id it is given.
pub const SIGNAL_OTHER_WORKFLOW: WorkflowDefinition<String, ()> =
    WorkflowDefinition::new("SignalOtherWorkflow");
/// Upserts `SandglassStage = "shipped"` and memo `note = "hello"`; returns both read back.
pub const UPSERT_WORKFLOW: WorkflowDefinition<(), String> =
    WorkflowDefinition::new("UpsertWorkflow");
/// Asks the workflow with the id it is given to cancel.
pub const CANCEL_OTHER_WORKFLOW: WorkflowDefinition<String, ()> =
    WorkflowDefinition::new("CancelOtherWorkflow");
