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
use std::ops::Deref;

use sandglass_declare::failure_types::{ACTIVITY_ERROR, CANCELLED_ERROR, CONTINUE_AS_NEW};
use serde::Serialize;

use crate::FailureChain;
use crate::bindings::exports::sandglass::workflow::guest::ContinueAsNew;
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::failure::application_frame;
use crate::payload;

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
    cause: Option<Box<FailureChain>>,
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
        let mut error = Self::application(CONTINUE_AS_NEW, "the workflow continued as new");
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
        Self::application(CANCELLED_ERROR, message)
    }

    /// Whether this error means the run gave in to a cancellation request: made by
    /// [`cancelled`](Self::cancelled), or caused by a cancelled activity.
    pub(crate) fn is_cancellation(&self) -> bool {
        self.error_type == CANCELLED_ERROR
            || self
                .cause
                .as_ref()
                .is_some_and(|cause| cause.is_cancelled())
    }

    /// Records the failure that led to this error (Python's `raise ... from err`), so a
    /// client sees the activity's or child's whole failure chain under this error.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<FailureChain>) -> Self {
        self.cause = Some(Box::new(cause.into()));
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

    /// The failure chain that caused this error, if it came from one.
    pub fn cause(&self) -> Option<&FailureChain> {
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
            frames.extend(cause.into_frames());
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
            error_type: ACTIVITY_ERROR.to_owned(),
            non_retryable: false,
            details: Vec::new(),
            detail_error: None,
            cause: Some(Box::new(error.chain)),
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

/// How an activity failed, as Temporal reported it: its [`FailureChain`], whose
/// accessors it dereferences to, and the activity's type.
///
/// `?` turns it into a [`WorkflowError`] that keeps this chain as its cause.
#[derive(Clone, Debug)]
pub struct ActivityError {
    chain: FailureChain,
}

impl ActivityError {
    pub(crate) fn from_host(frames: Failure, cancelled: bool) -> Self {
        Self {
            chain: FailureChain::from_host(frames, cancelled),
        }
    }

    /// A local activity cancelled while it waited on a timer for its next attempt: no
    /// attempt was running, so the cancellation is the workflow's own.
    pub(crate) fn cancelled_before_retry(activity_type: &str) -> Self {
        Self {
            chain: FailureChain::cancelled(format!(
                "local activity {activity_type:?} was cancelled while waiting to retry"
            )),
        }
    }

    /// A failure found before the activity was scheduled (options Temporal would reject);
    /// it is non-retryable, since retrying cannot fix the workflow's code.
    pub(crate) fn local(error_type: &str, message: String) -> Self {
        Self {
            chain: FailureChain::local(error_type, message),
        }
    }

    /// The activity type that failed, when Temporal named it.
    pub fn activity_type(&self) -> Option<&str> {
        self.chain.activity_type()
    }
}

impl Deref for ActivityError {
    type Target = FailureChain;

    fn deref(&self) -> &FailureChain {
        &self.chain
    }
}

impl From<ActivityError> for FailureChain {
    fn from(error: ActivityError) -> Self {
        error.chain
    }
}

impl fmt::Display for ActivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chain.fmt(f)
    }
}

impl std::error::Error for ActivityError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::sandglass::workflow::types::{
        ActivityFailure, ApplicationFailure, FailureFrame, FailureInfo, TimeoutKind,
    };
    use crate::failure::SOURCE;

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
