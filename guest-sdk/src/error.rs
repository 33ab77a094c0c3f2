//! Failures: the ones a workflow raises on purpose, and the ones its activities report.
//!
//! Temporal distinguishes two ways a workflow can go wrong, and so does this crate:
//!
//! - A [`WorkflowError`] returned from [`Workflow::run`](crate::Workflow::run) *fails the
//!   workflow*: the run ends, and its failure (with any cause chain) is recorded in history
//!   for clients to read.
//! - Anything else (a payload that does not decode, a panic, a protocol violation) *fails
//!   the workflow task*: the run stays open and Temporal retries the task, so a fixed and
//!   redeployed workflow picks up where it stopped. This mirrors the Python SDK, where
//!   only `ApplicationError` (and other Temporal failures) fail a workflow.

use std::fmt;

use serde::Serialize;

use crate::bindings::exports::sandglass::workflow::guest::ContinueAsNew;
use crate::bindings::sandglass::workflow::types::{
    ApplicationFailure, Failure, FailureFrame, FailureInfo, Payload, TimeoutKind,
};
use crate::payload;

/// The `source` this SDK writes into the failures it creates.
pub(crate) const SOURCE: &str = "Sandglass";

/// A failure another error can name as its cause: an [`ActivityError`] or a
/// [`ChildWorkflowError`](crate::ChildWorkflowError).
#[derive(Clone, Debug)]
pub struct FailureCause(pub(crate) ActivityError);

impl From<ActivityError> for FailureCause {
    fn from(error: ActivityError) -> Self {
        Self(error)
    }
}

/// The error type of [`WorkflowError::cancelled`].
const CANCELLED_ERROR_TYPE: &str = "CancelledError";

/// What [`Workflow::run`](crate::Workflow::run) returns.
pub type WorkflowResult<T> = Result<T, WorkflowError>;

/// An application failure that ends the workflow run.
///
/// Becomes the run's `fail-workflow` command: one application frame (message, error type,
/// non-retryable flag, details) followed by the frames of its cause, if any. `?` on an
/// [`ActivityError`] makes one whose cause is the activity's failure, so the failure chain
/// a client sees names the activity and what went wrong in it.
///
/// ```
/// use sandglass::WorkflowError;
///
/// let error = WorkflowError::application("InvalidOrder", "order has no items")
///     .non_retryable()
///     .with_detail(&serde_json::json!({ "order": 17 }));
/// assert_eq!(error.error_type(), "InvalidOrder");
/// ```
#[derive(Clone, Debug)]
pub struct WorkflowError {
    message: String,
    error_type: String,
    non_retryable: bool,
    details: Vec<Payload>,
    /// Why a detail could not be encoded; reported as a workflow task failure.
    detail_error: Option<String>,
    /// Boxed: most errors have none, and `WorkflowResult`s should stay small.
    cause: Option<Box<ActivityError>>,
    /// Set by [`WorkflowContext::continue_as_new`](crate::WorkflowContext::continue_as_new):
    /// not a failure, but the command that ends this run and starts the next.
    continue_as_new: Option<Box<ContinueAsNew>>,
}

impl WorkflowError {
    /// An application error of the given type (the name retry policies match) and message.
    pub fn application(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            error_type: error_type.into(),
            non_retryable: false,
            details: Vec::new(),
            detail_error: None,
            cause: None,
            continue_as_new: None,
        }
    }

    /// The "error" that continues the run as new; its encoding problem, if any, is
    /// reported as a task failure like a bad detail.
    pub(crate) fn continue_as_new(command: Result<ContinueAsNew, String>) -> Self {
        let mut error = Self::application("ContinueAsNew", "the workflow continued as new");
        match command {
            Ok(command) => error.continue_as_new = Some(Box::new(command)),
            Err(message) => error.detail_error = Some(message),
        }
        error
    }

    /// The continue-as-new command, if this is one.
    pub(crate) fn take_continue_as_new(&mut self) -> Option<ContinueAsNew> {
        self.continue_as_new.take().map(|command| *command)
    }

    /// Ends the run as cancelled, when returned from `run` after a client asked to cancel
    /// it ([`WorkflowContext::is_cancel_requested`](crate::WorkflowContext::is_cancel_requested)).
    /// Without such a request it fails the workflow like any application error.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::application(CANCELLED_ERROR_TYPE, message)
    }

    /// Whether this error means the run gave in to a cancellation request: made by
    /// [`cancelled`](Self::cancelled), or caused by a cancelled activity.
    pub(crate) fn is_cancellation(&self) -> bool {
        self.error_type == CANCELLED_ERROR_TYPE
            || self
                .cause
                .as_ref()
                .is_some_and(|cause| cause.is_cancelled())
    }

    /// Records the failure that led to this error (Python's `raise ... from err`), so a
    /// client sees the activity's or child's whole failure chain under this error.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<FailureCause>) -> Self {
        self.cause = Some(Box::new(cause.into().0));
        self
    }

    /// Marks the error non-retryable: a workflow retry policy will not start the workflow
    /// again for it.
    #[must_use]
    pub fn non_retryable(mut self) -> Self {
        self.non_retryable = true;
        self
    }

    /// Appends a detail, encoded as a JSON payload, for clients to decode.
    ///
    /// A detail that cannot be encoded as JSON (a map with non-string keys, a failing
    /// `Serialize` impl) is a bug in the workflow: returning this error then fails the
    /// workflow task with the encoding error, rather than failing the workflow without it.
    #[must_use]
    pub fn with_detail<T: Serialize + ?Sized>(mut self, detail: &T) -> Self {
        match payload::encode(detail) {
            Ok(payload) => self.details.push(payload),
            Err(error) => {
                self.detail_error.get_or_insert_with(|| {
                    format!(
                        "could not encode a detail of workflow error {:?} as JSON: {error}",
                        self.error_type
                    )
                });
            }
        }
        self
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's type, matched by retry policies' non-retryable error types.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// Whether the error was marked [`non_retryable`](Self::non_retryable).
    pub fn is_non_retryable(&self) -> bool {
        self.non_retryable
    }

    /// The activity failure that caused this error, if it came from one.
    pub fn cause(&self) -> Option<&ActivityError> {
        self.cause.as_deref()
    }

    /// The failure frames for `fail-workflow`, outermost first; `Err` says why a detail
    /// could not be encoded.
    pub(crate) fn into_failure(self) -> Result<Failure, String> {
        if let Some(error) = self.detail_error {
            return Err(error);
        }
        let mut frames = vec![application_frame(
            self.message,
            self.error_type,
            self.non_retryable,
            self.details,
        )];
        if let Some(cause) = self.cause {
            frames.extend(cause.frames);
        }
        Ok(frames)
    }
}

impl From<ActivityError> for WorkflowError {
    fn from(error: ActivityError) -> Self {
        let message = match error.activity_type() {
            Some(activity_type) => {
                format!("activity {activity_type:?} failed: {}", error.message())
            }
            None => error.message().to_owned(),
        };
        Self {
            message,
            error_type: "ActivityError".to_owned(),
            non_retryable: false,
            details: Vec::new(),
            detail_error: None,
            cause: Some(Box::new(error)),
            continue_as_new: None,
        }
    }
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.error_type)
    }
}

impl std::error::Error for WorkflowError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|cause| cause as _)
    }
}

/// An operation (a timer, a wait) ended because its cancellation scope, or the whole
/// workflow, was cancelled. `?` turns it into a [`WorkflowError`] that, returned from
/// `run` after a cancellation request, ends the run as cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancelled {
    reason: String,
}

impl Cancelled {
    pub(crate) fn new(reason: &str) -> Self {
        Self {
            reason: reason.to_owned(),
        }
    }

    /// Why it was cancelled: the cancellation request's reason, or the scope's.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            f.write_str("cancelled")
        } else {
            write!(f, "cancelled: {}", self.reason)
        }
    }
}

impl std::error::Error for Cancelled {}

impl From<Cancelled> for WorkflowError {
    fn from(cancelled: Cancelled) -> Self {
        WorkflowError::cancelled(cancelled.to_string())
    }
}

/// How an activity failed, as Temporal reported it: a chain of failures, outermost first.
///
/// For an activity that raised an error, Temporal's chain is an activity frame ("Activity
/// task failed", naming the activity type, id and why retries stopped) caused by the
/// application error the activity raised; for a timeout, the cause is a timeout frame.
/// The accessors look through the chain so callers need not.
///
/// `?` turns it into a [`WorkflowError`] that keeps this chain as its cause.
#[derive(Clone, Debug)]
pub struct ActivityError {
    /// Never empty.
    frames: Vec<FailureFrame>,
    /// The host resolved the activity as cancelled.
    cancelled: bool,
}

impl ActivityError {
    /// Wraps a failure chain from the host. The contract says the chain is never empty; if
    /// it is, a frame saying so stands in, so the accessors always have something to show.
    pub(crate) fn from_host(mut frames: Failure, cancelled: bool) -> Self {
        if frames.is_empty() {
            frames.push(FailureFrame {
                message: "activity failed and the worker reported no failure details".to_owned(),
                source: SOURCE.to_owned(),
                stack_trace: String::new(),
                info: FailureInfo::Other,
            });
        }
        Self { frames, cancelled }
    }

    /// A local activity cancelled while it waited on a timer for its next attempt: no
    /// attempt was running, so the cancellation is the workflow's own.
    pub(crate) fn cancelled_before_retry(activity_type: &str) -> Self {
        Self {
            frames: vec![FailureFrame {
                message: format!(
                    "local activity {activity_type:?} was cancelled while waiting to retry"
                ),
                source: SOURCE.to_owned(),
                stack_trace: String::new(),
                info: FailureInfo::Canceled(Vec::new()),
            }],
            cancelled: true,
        }
    }

    /// A failure found before the activity was scheduled (options Temporal would reject);
    /// it is non-retryable, since retrying cannot fix the workflow's code.
    pub(crate) fn local(error_type: &str, message: String) -> Self {
        Self {
            frames: vec![application_frame(
                message,
                error_type.to_owned(),
                true,
                Vec::new(),
            )],
            cancelled: false,
        }
    }

    /// The message of the innermost failure: what the activity raised, or which timeout
    /// fired. [`Display`](fmt::Display) shows the whole chain.
    pub fn message(&self) -> &str {
        self.frames
            .last()
            .map_or("", |frame| frame.message.as_str())
    }

    /// The activity type that failed, when Temporal named it.
    pub fn activity_type(&self) -> Option<&str> {
        self.frames.iter().find_map(|frame| match &frame.info {
            FailureInfo::Activity(activity) => Some(activity.activity_type.as_str()),
            _ => None,
        })
    }

    /// The error type of the application error in the chain (what the activity raised,
    /// such as `"ValueError"` from a Python activity), if there is one.
    pub fn application_error_type(&self) -> Option<&str> {
        self.frames.iter().find_map(|frame| match &frame.info {
            FailureInfo::Application(application) => Some(application.error_type.as_str()),
            _ => None,
        })
    }

    /// The first detail of the application error in the chain, decoded as `T`: what
    /// the activity attached to its error (`ApplicationError(..., details)` in Python).
    /// `None` when there is no application error or it has no details.
    pub fn details<T: serde::de::DeserializeOwned>(&self) -> Option<Result<T, WorkflowError>> {
        let details = self.frames.iter().find_map(|frame| match &frame.info {
            FailureInfo::Application(application) => Some(&application.details),
            _ => None,
        })?;
        let first = details.first()?;
        Some(payload::decode(first).map_err(|error| {
            WorkflowError::application(
                "PayloadDecodeError",
                format!(
                    "an error detail does not decode as `{}`: {error}",
                    std::any::type_name::<T>()
                ),
            )
        }))
    }

    /// Whether the application error in the chain was marked non-retryable.
    pub fn is_non_retryable(&self) -> bool {
        self.frames.iter().any(|frame| {
            matches!(&frame.info, FailureInfo::Application(application) if application.non_retryable)
        })
    }

    /// Whether the activity timed out (any timeout: start-to-close, schedule-to-start,
    /// schedule-to-close or heartbeat).
    pub fn is_timeout(&self) -> bool {
        self.frames
            .iter()
            .any(|frame| matches!(frame.info, FailureInfo::Timeout(_)))
    }

    /// Whether the activity was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
            || self
                .frames
                .iter()
                .any(|frame| matches!(frame.info, FailureInfo::Canceled(_)))
    }
}

impl fmt::Display for ActivityError {
    /// The chain, outermost first: `Activity task failed (activity "greet", id "1") ←
    /// boom (ValueError)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, frame) in self.frames.iter().enumerate() {
            if index > 0 {
                f.write_str(" ← ")?;
            }
            f.write_str(&frame.message)?;
            match &frame.info {
                FailureInfo::Application(application) if !application.error_type.is_empty() => {
                    write!(f, " ({})", application.error_type)?;
                }
                FailureInfo::Activity(activity) => write!(
                    f,
                    " (activity {:?}, id {:?})",
                    activity.activity_type, activity.activity_id
                )?,
                FailureInfo::Timeout(kind) => write!(f, " ({} timeout)", timeout_name(*kind))?,
                FailureInfo::Canceled(_) => f.write_str(" (cancelled)")?,
                _ => {}
            }
        }
        Ok(())
    }
}

impl std::error::Error for ActivityError {}

fn timeout_name(kind: TimeoutKind) -> &'static str {
    match kind {
        TimeoutKind::StartToClose => "start-to-close",
        TimeoutKind::ScheduleToStart => "schedule-to-start",
        TimeoutKind::ScheduleToClose => "schedule-to-close",
        TimeoutKind::Heartbeat => "heartbeat",
    }
}

/// One application failure frame written by this SDK.
pub(crate) fn application_frame(
    message: String,
    error_type: String,
    non_retryable: bool,
    details: Vec<Payload>,
) -> FailureFrame {
    FailureFrame {
        message,
        source: SOURCE.to_owned(),
        stack_trace: String::new(),
        info: FailureInfo::Application(ApplicationFailure {
            error_type,
            non_retryable,
            details,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::sandglass::workflow::types::ActivityFailure;

    /// The chain Temporal reports for an activity that raised `ValueError("boom")`.
    fn raised_value_error() -> Failure {
        vec![
            FailureFrame {
                message: "Activity task failed".to_owned(),
                source: String::new(),
                stack_trace: String::new(),
                info: FailureInfo::Activity(ActivityFailure {
                    activity_type: "greet".to_owned(),
                    activity_id: "1".to_owned(),
                    retry_state: "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED".to_owned(),
                }),
            },
            FailureFrame {
                message: "boom".to_owned(),
                source: "PythonSDK".to_owned(),
                stack_trace: "Traceback ...".to_owned(),
                info: FailureInfo::Application(ApplicationFailure {
                    error_type: "ValueError".to_owned(),
                    non_retryable: false,
                    details: Vec::new(),
                }),
            },
        ]
    }

    #[test]
    fn activity_error_accessors_look_through_the_chain() {
        let error = ActivityError::from_host(raised_value_error(), false);
        assert_eq!(error.message(), "boom");
        assert_eq!(error.activity_type(), Some("greet"));
        assert_eq!(error.application_error_type(), Some("ValueError"));
        assert!(!error.is_timeout());
        assert!(!error.is_cancelled());
        assert_eq!(
            error.to_string(),
            "Activity task failed (activity \"greet\", id \"1\") ← boom (ValueError)"
        );
    }

    #[test]
    fn details_and_the_non_retryable_flag_come_from_the_application_frame() {
        let mut chain = raised_value_error();
        assert!(
            ActivityError::from_host(chain.clone(), false)
                .details::<u32>()
                .is_none()
        );
        if let FailureInfo::Application(application) = &mut chain[1].info {
            application.non_retryable = true;
            application.details = vec![payload::encode(&42u32).unwrap()];
        }
        let error = ActivityError::from_host(chain, false);
        assert!(error.is_non_retryable());
        assert_eq!(error.details::<u32>().unwrap().unwrap(), 42);
        assert!(error.details::<String>().unwrap().is_err());
    }

    #[test]
    fn a_cause_keeps_the_activitys_chain_under_the_workflows_error() {
        let activity = ActivityError::from_host(raised_value_error(), false);
        let frames = WorkflowError::application("TripFailed", "no flight")
            .with_cause(activity)
            .into_failure()
            .unwrap();
        let messages: Vec<&str> = frames.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, ["no flight", "Activity task failed", "boom"]);
    }

    #[test]
    fn timeouts_and_cancellation_are_recognised() {
        let mut chain = raised_value_error();
        chain[1].info = FailureInfo::Timeout(TimeoutKind::StartToClose);
        chain[1].message = "activity timeout".to_owned();
        let timed_out = ActivityError::from_host(chain.clone(), false);
        assert!(timed_out.is_timeout());
        assert!(timed_out.to_string().ends_with("(start-to-close timeout)"));
        assert!(ActivityError::from_host(chain, true).is_cancelled());
    }

    #[test]
    fn empty_chain_from_host_still_has_a_message() {
        let error = ActivityError::from_host(Vec::new(), false);
        assert!(error.message().contains("no failure details"));
    }

    #[test]
    fn workflow_error_keeps_the_activity_failure_as_its_cause() {
        let error = WorkflowError::from(ActivityError::from_host(raised_value_error(), false));
        assert_eq!(error.error_type(), "ActivityError");
        assert_eq!(error.message(), "activity \"greet\" failed: boom");
        assert!(std::error::Error::source(&error).is_some());
        let frames = error.into_failure().unwrap();
        let messages: Vec<&str> = frames.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "activity \"greet\" failed: boom",
                "Activity task failed",
                "boom"
            ]
        );
        assert!(
            matches!(&frames[0].info, FailureInfo::Application(a) if a.error_type == "ActivityError")
        );
        assert_eq!(frames[0].source, SOURCE);
    }

    #[test]
    fn application_error_becomes_one_frame_with_details() {
        let frames = WorkflowError::application("Bad", "no")
            .non_retryable()
            .with_detail(&3)
            .into_failure()
            .unwrap();
        assert_eq!(frames.len(), 1);
        let FailureInfo::Application(application) = &frames[0].info else {
            panic!("expected an application frame: {frames:?}");
        };
        assert_eq!(application.error_type, "Bad");
        assert!(application.non_retryable);
        assert_eq!(application.details[0].data, b"3");
    }

    #[test]
    fn detail_that_does_not_encode_is_reported() {
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let error = WorkflowError::application("Bad", "no").with_detail(&bad);
        let message = error.into_failure().unwrap_err();
        assert!(message.contains("\"Bad\""), "{message}");
    }
}
