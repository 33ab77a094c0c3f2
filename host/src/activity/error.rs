//! How an activity says it failed.

use std::fmt;

use serde::Serialize;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::failure::v1::{
    ApplicationFailureInfo, CanceledFailureInfo, Failure, failure::FailureInfo,
};

use sandglass_declare::failure_types::WILL_COMPLETE_ASYNC;

use crate::failure_chain::FAILURE_SOURCE;
use crate::payload::to_payload;

/// An activity failure, reported to Temporal as an application failure.
///
/// Any `std::error::Error` converts into a retryable one whose type is the error's type
/// name, so `?` works in activity code; build one explicitly to choose the type, mark it
/// non-retryable or attach details. (It deliberately does not implement
/// `std::error::Error` itself, which is what makes the blanket conversion possible.)
pub struct ActivityFailure {
    kind: Kind,
}

enum Kind {
    Application {
        error_type: String,
        message: String,
        non_retryable: bool,
        details: Vec<Payload>,
    },
    Cancelled,
    WillCompleteAsync,
}

impl ActivityFailure {
    /// A retryable failure of type `error_type`.
    pub fn application(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Application {
                error_type: error_type.into(),
                message: message.into(),
                non_retryable: false,
                details: Vec::new(),
            },
        }
    }

    /// The activity stopped because cancellation was requested.
    pub fn cancelled() -> Self {
        Self {
            kind: Kind::Cancelled,
        }
    }

    /// Not a failure: the activity has handed its task token (in
    /// [`ActivityInfo::task_token`](crate::ActivityInfo::task_token)) to someone who will
    /// finish it later through
    /// [`Client::async_activity_handle`](crate::Client::async_activity_handle), so the
    /// worker reports nothing and frees the slot. The Python SDK's
    /// `activity.raise_complete_async()`.
    ///
    /// Until then the activity's timeouts still run on the server: set a start-to-close
    /// timeout long enough for whoever completes it, and a heartbeat timeout only if
    /// they will heartbeat through the handle.
    pub fn will_complete_async() -> Self {
        Self {
            kind: Kind::WillCompleteAsync,
        }
    }

    /// Temporal will not retry this failure, whatever the retry policy says.
    pub fn non_retryable(mut self) -> Self {
        if let Kind::Application { non_retryable, .. } = &mut self.kind {
            *non_retryable = true;
        }
        self
    }

    /// Attaches a detail value the workflow can read; values that do not encode as JSON
    /// are dropped with a warning.
    pub fn with_detail<T: Serialize + ?Sized>(mut self, detail: &T) -> Self {
        if let Kind::Application { details, .. } = &mut self.kind {
            match to_payload(detail) {
                Ok(payload) => details.push(payload),
                Err(error) => {
                    tracing::warn!(%error, "activity error detail does not encode as JSON; dropped")
                }
            }
        }
        self
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// Whether this is [`will_complete_async`](Self::will_complete_async) rather than a
    /// failure.
    pub fn is_will_complete_async(&self) -> bool {
        matches!(self.kind, Kind::WillCompleteAsync)
    }

    /// The failure to report. Callers check
    /// [`is_will_complete_async`](Self::is_will_complete_async) first, because that one
    /// reports nothing; should one slip through, it becomes a failure naming the mistake
    /// rather than a panic.
    pub(crate) fn into_failure(self) -> Failure {
        match self.kind {
            Kind::Application {
                error_type,
                message,
                non_retryable,
                details,
            } => Failure {
                message,
                source: FAILURE_SOURCE.into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: error_type,
                        non_retryable,
                        details: (!details.is_empty()).then_some(Payloads { payloads: details }),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
            Kind::Cancelled => Failure {
                message: "activity cancelled".into(),
                source: FAILURE_SOURCE.into(),
                failure_info: Some(FailureInfo::CanceledFailureInfo(
                    CanceledFailureInfo::default(),
                )),
                ..Default::default()
            },
            Kind::WillCompleteAsync => Failure {
                message: "ActivityFailure::will_complete_async() was reported as a failure; it \
                          is not one (a Sandglass bug)"
                    .into(),
                source: FAILURE_SOURCE.into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: WILL_COMPLETE_ASYNC.into(),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            },
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ActivityFailure {
    fn from(error: E) -> Self {
        let type_name = std::any::type_name::<E>();
        let short = type_name.rsplit("::").next().unwrap_or(type_name);
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::application(short, message)
    }
}

impl fmt::Debug for ActivityFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ActivityFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Application {
                error_type,
                message,
                non_retryable,
                ..
            } => {
                write!(f, "{error_type}: {message}")?;
                if *non_retryable {
                    f.write_str(" (non-retryable)")?;
                }
                Ok(())
            }
            Kind::Cancelled => f.write_str("activity cancelled"),
            Kind::WillCompleteAsync => f.write_str("activity will complete asynchronously"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_errors_become_retryable_failures_named_by_type() {
        let io = std::io::Error::other("disk on fire");
        let failure = ActivityFailure::from(io).into_failure();
        assert_eq!(failure.message, "disk on fire");
        match failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => {
                assert_eq!(info.r#type, "Error");
                assert!(!info.non_retryable);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_retryable_with_details() {
        let failure = ActivityFailure::application("InvalidInput", "no name")
            .non_retryable()
            .with_detail(&42)
            .into_failure();
        match failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => {
                assert!(info.non_retryable);
                assert_eq!(info.details.unwrap().payloads[0].data, b"42");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn will_complete_async_is_not_a_failure() {
        let error = ActivityFailure::will_complete_async().non_retryable();
        assert!(error.is_will_complete_async());
        assert!(!error.is_cancelled());
        assert!(error.to_string().contains("asynchronously"));
    }
}
