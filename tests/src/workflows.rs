//! Client-side declarations of the workflows in `tests/workflows`, for the tests that
//! start them.

use sandglass_host::WorkflowDefinition;
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
