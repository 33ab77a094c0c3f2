//! Reading the application error inside a [`Failure`]: the Python SDK's
//! `ApplicationError` as a client sees it (`err.cause.type`, `err.cause.details`).

use serde::de::DeserializeOwned;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::failure::v1::{ApplicationFailureInfo, Failure};

use crate::payload::{DecodeError, from_arguments};

/// An application failure: an error a workflow, activity or update handler raised on
/// purpose, with a type the caller can branch on and details it can decode.
///
/// Get one from [`WorkflowResultError::application_failure`](super::WorkflowResultError::application_failure),
/// [`UpdateError::application_failure`](super::UpdateError::application_failure), or any
/// [`Failure`] with [`from_failure`](Self::from_failure) / [`in_chain`](Self::in_chain).
#[derive(Clone, Copy, Debug)]
pub struct ApplicationFailure<'a> {
    failure: &'a Failure,
    info: &'a ApplicationFailureInfo,
}

impl<'a> ApplicationFailure<'a> {
    /// `failure` itself, if it is an application failure.
    pub fn from_failure(failure: &'a Failure) -> Option<Self> {
        match &failure.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => Some(Self { failure, info }),
            _ => None,
        }
    }

    /// The first (outermost) application failure in `failure`'s cause chain, starting
    /// with `failure`: the error closest to what the caller called.
    pub fn in_chain(failure: &'a Failure) -> Option<Self> {
        Self::chain(failure).next()
    }

    /// Every application failure in `failure`'s cause chain, outermost first. A
    /// workflow that fails because an activity failed reports its own error, caused by
    /// an activity failure, caused by the activity's application error: find that one
    /// by its [`error_type`](Self::error_type).
    pub fn chain(failure: &'a Failure) -> impl Iterator<Item = Self> + 'a {
        std::iter::successors(Some(failure), |failure| failure.cause.as_deref())
            .filter_map(Self::from_failure)
    }

    /// The error type the raiser chose (what retry policies' non-retryable types match).
    pub fn error_type(&self) -> &'a str {
        &self.info.r#type
    }

    pub fn message(&self) -> &'a str {
        &self.failure.message
    }

    /// Whether the raiser marked the error as not worth retrying.
    pub fn non_retryable(&self) -> bool {
        self.info.non_retryable
    }

    /// Decodes the failure's details as `T`: its first detail, or JSON `null` when it
    /// has none (so `()` and `Option<T>` fit a failure without details).
    pub fn details<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        let payloads = self
            .info
            .details
            .as_ref()
            .map(|details| details.payloads.as_slice())
            .unwrap_or_default();
        from_arguments(payloads)
    }

    /// The whole failure, with its stack trace and cause.
    pub fn failure(&self) -> &'a Failure {
        self.failure
    }
}

#[cfg(test)]
mod tests {
    use temporalio_common::protos::temporal::api::common::v1::Payloads;
    use temporalio_common::protos::temporal::api::failure::v1::ActivityFailureInfo;

    use super::*;
    use crate::payload::to_payload;

    fn application(error_type: &str, detail: Option<u32>) -> Failure {
        Failure {
            message: "out of stock".to_owned(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: error_type.to_owned(),
                    non_retryable: true,
                    details: detail.map(|d| Payloads {
                        payloads: vec![to_payload(&d).expect("encode")],
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn reads_type_message_and_details() {
        let failure = application("OutOfStock", Some(7));
        let app = ApplicationFailure::from_failure(&failure).expect("application failure");
        assert_eq!(app.error_type(), "OutOfStock");
        assert_eq!(app.message(), "out of stock");
        assert!(app.non_retryable());
        assert_eq!(app.details::<u32>().expect("details"), 7);
        assert!(app.details::<String>().is_err());
    }

    #[test]
    fn no_details_decode_as_none() {
        let failure = application("OutOfStock", None);
        let app = ApplicationFailure::from_failure(&failure).expect("application failure");
        assert_eq!(app.details::<Option<u32>>().expect("details"), None);
    }

    #[test]
    fn finds_the_cause_of_an_activity_failure() {
        let failure = Failure {
            message: "activity failed".to_owned(),
            failure_info: Some(FailureInfo::ActivityFailureInfo(
                ActivityFailureInfo::default(),
            )),
            cause: Some(Box::new(application("OutOfStock", Some(1)))),
            ..Default::default()
        };
        assert!(ApplicationFailure::from_failure(&failure).is_none());
        let app = ApplicationFailure::in_chain(&failure).expect("cause");
        assert_eq!(app.error_type(), "OutOfStock");
    }

    #[test]
    fn chain_lists_every_application_failure_outermost_first() {
        let mut outer = application("ActivityError", None);
        outer.cause = Some(Box::new(Failure {
            failure_info: Some(FailureInfo::ActivityFailureInfo(
                ActivityFailureInfo::default(),
            )),
            cause: Some(Box::new(application("OutOfStock", Some(1)))),
            ..Default::default()
        }));
        let types: Vec<_> = ApplicationFailure::chain(&outer)
            .map(|app| app.error_type())
            .collect();
        assert_eq!(types, ["ActivityError", "OutOfStock"]);
        assert_eq!(
            ApplicationFailure::in_chain(&outer).map(|app| app.error_type()),
            Some("ActivityError")
        );
    }
}
