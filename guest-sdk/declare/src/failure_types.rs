//! The error types Sandglass writes into the failures it reports, defined once for the
//! workflow side and the worker side.
//!
//! They are what a client reads as a failure's type (`ApplicationError.type` in Python),
//! what a retry policy's non-retryable error types match, and what a workflow sees as
//! an activity's application error type.

/// A payload (input, result, signal argument) did not decode as the type the code
/// expects. Fails the workflow task on the workflow side, the attempt on the activity
/// side.
pub const PAYLOAD_DECODE_ERROR: &str = "PayloadDecodeError";
/// A value did not encode as JSON.
pub const PAYLOAD_ENCODE_ERROR: &str = "PayloadEncodeError";
/// The workflow's failure when `?` propagates a failed activity; the activity's chain
/// is its cause.
pub const ACTIVITY_ERROR: &str = "ActivityError";
/// The workflow's failure when `?` propagates a failed child workflow.
pub const CHILD_WORKFLOW_ERROR: &str = "ChildWorkflowError";
/// A child workflow that Temporal did not start (its id was taken, say).
pub const CHILD_WORKFLOW_NOT_STARTED: &str = "ChildWorkflowNotStarted";
/// A workflow that gave in to a cancellation request (the Python SDK's name).
pub const CANCELLED_ERROR: &str = "CancelledError";
/// Activity options Temporal would reject, found before scheduling.
pub const INVALID_ACTIVITY_OPTIONS: &str = "InvalidActivityOptions";
/// A signal, query or update with no handler registered for its name.
pub const UNKNOWN_HANDLER: &str = "UnknownHandler";
/// An update that arrived after the workflow returned.
pub const WORKFLOW_FINISHED: &str = "WorkflowFinished";
/// A task for a workflow type the component does not export.
pub const UNKNOWN_WORKFLOW_TYPE: &str = "UnknownWorkflowType";
/// The host and the workflow disagree about the WIT contract.
pub const PROTOCOL_ERROR: &str = "SandglassProtocolError";
/// An activity type no worker on the task queue registered (the Python SDK's name).
pub const NOT_FOUND_ERROR: &str = "NotFoundError";
/// An activity cancelled because its worker shut down; retryable, so another worker
/// picks it up at once.
pub const WORKER_SHUTDOWN: &str = "WorkerShutdown";
/// An activity function that panicked; the panic's message is the failure's message.
/// Retryable, like any other failed attempt.
pub const PANIC: &str = "Panic";
/// A query answer larger than the worker's `max_payload_bytes`; fails only that query.
pub const QUERY_ANSWER_TOO_LARGE: &str = "QueryAnswerTooLarge";
/// Something in Sandglass itself went wrong (an executor panicked, say); worth a bug
/// report.
pub const SANDGLASS_BUG: &str = "SandglassBug";
/// An activity's `will_complete_async()` marker reported as a failure (a Sandglass
/// bug).
pub const WILL_COMPLETE_ASYNC: &str = "WillCompleteAsync";
/// The carrier of a continue-as-new on its way out of the workflow; never reported.
pub const CONTINUE_AS_NEW: &str = "ContinueAsNew";
