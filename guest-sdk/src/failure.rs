//! Failures as Temporal reports them: the chain an activity or child workflow failed
//! with, which a [`WorkflowError`](crate::WorkflowError) can also name as its cause.

use std::fmt;

use sandglass_declare::failure_types::PAYLOAD_DECODE_ERROR;
use serde::de::DeserializeOwned;

use crate::WorkflowError;
use crate::bindings::sandglass::workflow::types::{
    ApplicationFailure, Failure, FailureFrame, FailureInfo, Payload, TimeoutKind,
};
use crate::payload;

/// The `source` this SDK writes into the failures it creates.
pub(crate) const SOURCE: &str = "Sandglass";

/// A chain of failures, outermost first, as Temporal recorded it.
///
/// For an activity that raised an error, the chain is an activity frame ("Activity task
/// failed", naming the activity type, id and why retries stopped) caused by the
/// application error the activity raised; for a timeout, the cause is a timeout frame.
/// The accessors look through the chain so callers need not.
///
/// [`ActivityError`](crate::ActivityError) and
/// [`ChildWorkflowError`](crate::ChildWorkflowError) hold one (and dereference to it);
/// [`WorkflowError::with_cause`] takes one, so a client sees the whole chain under the
/// workflow's own error.
#[derive(Clone, Debug)]
pub struct FailureChain {
    /// Never empty.
    frames: Vec<FailureFrame>,
    /// The host resolved the operation as cancelled.
    cancelled: bool,
}

impl FailureChain {
    /// Wraps a failure chain from the host. The contract says the chain is never empty; if
    /// it is, a frame saying so stands in, so the accessors always have something to show.
    pub(crate) fn from_host(mut frames: Failure, cancelled: bool) -> Self {
        if frames.is_empty() {
            frames.push(FailureFrame {
                message: "the operation failed and the worker reported no failure details"
                    .to_owned(),
                source: SOURCE.to_owned(),
                stack_trace: String::new(),
                info: FailureInfo::Other,
            });
        }
        Self { frames, cancelled }
    }

    /// One non-retryable application frame, for failures found in the workflow before
    /// Temporal saw anything (retrying cannot fix the workflow's code).
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

    /// One cancellation frame, for an operation the workflow cancelled on its own.
    pub(crate) fn cancelled(message: String) -> Self {
        Self {
            frames: vec![FailureFrame {
                message,
                source: SOURCE.to_owned(),
                stack_trace: String::new(),
                info: FailureInfo::Canceled(Vec::new()),
            }],
            cancelled: true,
        }
    }

    pub(crate) fn into_frames(self) -> Failure {
        self.frames
    }

    /// The message of the innermost failure: what the activity or child raised, or
    /// which timeout fired. [`Display`](fmt::Display) shows the whole chain.
    pub fn message(&self) -> &str {
        self.frames
            .last()
            .map_or("", |frame| frame.message.as_str())
    }

    /// The error type of the application error in the chain (what the activity raised,
    /// such as `"ValueError"` from a Python activity), if there is one.
    pub fn application_error_type(&self) -> Option<&str> {
        self.application()
            .map(|application| application.error_type.as_str())
    }

    /// The first detail of the application error in the chain, decoded as `T`: what
    /// the activity attached to its error (`ApplicationError(..., details)` in Python).
    /// `None` when there is no application error or it has no details.
    pub fn details<T: DeserializeOwned>(&self) -> Option<Result<T, WorkflowError>> {
        let first = self.application()?.details.first()?;
        Some(payload::decode(first).map_err(|error| {
            WorkflowError::application(
                PAYLOAD_DECODE_ERROR,
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

    /// Whether a timeout ended it (for an activity: start-to-close, schedule-to-start,
    /// schedule-to-close or heartbeat).
    pub fn is_timeout(&self) -> bool {
        self.frames
            .iter()
            .any(|frame| matches!(frame.info, FailureInfo::Timeout(_)))
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
            || self
                .frames
                .iter()
                .any(|frame| matches!(frame.info, FailureInfo::Canceled(_)))
    }

    /// The activity type in the chain, when Temporal named one.
    pub(crate) fn activity_type(&self) -> Option<&str> {
        self.frames.iter().find_map(|frame| match &frame.info {
            FailureInfo::Activity(activity) => Some(activity.activity_type.as_str()),
            _ => None,
        })
    }

    fn application(&self) -> Option<&ApplicationFailure> {
        self.frames.iter().find_map(|frame| match &frame.info {
            FailureInfo::Application(application) => Some(application),
            _ => None,
        })
    }
}

impl fmt::Display for FailureChain {
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

impl std::error::Error for FailureChain {}

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
