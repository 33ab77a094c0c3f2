//! Why a workflow task failed on this worker, and the failure Temporal records for it.

use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowTaskFailedCause;

use crate::bridge::activation::RouteError;
use crate::bridge::failure::host_failure;
use crate::bridge::sequence::MalformedOutput;
use crate::sandbox::{ActivationError, shorten};

/// The largest task completion sent: Temporal's frontend takes gRPC messages of 4 MiB,
/// and core adds the task token, identity and metadata around the commands.
pub(crate) const MAX_COMPLETION_BYTES: usize = (4 << 20) - (64 << 10);

/// Most of a task failure's message sent to Temporal (and logged): what the guest wrote
/// into it (a panic message, its own failure) is bounded before, this bounds the whole.
const MAX_TASK_FAILURE_MESSAGE: usize = 16 << 10;

/// Why a workflow task failed on this worker. The task is reported failed to Temporal,
/// which retries it (on this or another worker); nothing else is affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowTaskError {
    #[error(
        "workflow type {workflow_type:?} is not registered on this worker (task queue \
         {task_queue:?}); it serves {known:?}. Load a module that defines it, or start the \
         workflow on a task queue whose workers do"
    )]
    UnknownWorkflowType {
        workflow_type: String,
        task_queue: String,
        known: Vec<String>,
    },
    #[error(
        "run {run_id} has no cached instance (it was evicted, for example to free memory for \
         other runs) and this activation does not start it; Temporal retries the task and \
         the run is rebuilt by replaying its history"
    )]
    MissingInstance { run_id: String },
    #[error(
        "run {run_id}: a query handler issued a `{command}` command; queries must only read \
         the workflow's state (change it in a signal or an update)"
    )]
    QueryIssuedCommand {
        run_id: String,
        command: &'static str,
    },
    #[error(
        "run {run_id}: the task completion would be {size} bytes once encoded, more than the \
         {MAX_COMPLETION_BYTES} Temporal accepts; start fewer commands at once, or pass \
         references instead of large values (`SandboxLimits::max_commands_bytes` bounds the \
         guest's share)"
    )]
    CompletionTooLarge { run_id: String, size: usize },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error("workflow {workflow_type} (run {run_id}) produced malformed output: {source}")]
    MalformedOutput {
        workflow_type: String,
        run_id: String,
        #[source]
        source: MalformedOutput,
    },
    #[error("the sandbox thread running run {run_id} stopped unexpectedly: {message}")]
    Crashed { run_id: String, message: String },
}

/// `error`'s message, bounded for Temporal and the log.
pub(crate) fn task_failure_message(error: &impl std::fmt::Display) -> String {
    let mut message = error.to_string();
    shorten(&mut message, MAX_TASK_FAILURE_MESSAGE);
    message
}

/// The completion that fails `run_id`'s workflow task with `message`.
pub(crate) fn task_failure(run_id: &str, message: String) -> WorkflowActivationCompletion {
    WorkflowActivationCompletion::fail(
        run_id,
        host_failure(message),
        Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
    )
}
