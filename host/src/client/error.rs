//! Why a client call failed, and how gRPC errors map onto that.

use std::time::Duration;

use prost::Message;
use temporalio_client::tonic;
use temporalio_common::protos::google::rpc::Status as RpcStatus;
use temporalio_common::protos::temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure;
use temporalio_common::protos::temporal::api::failure::v1::Failure;

use crate::payload::DecodeError;
use crate::settings::SettingsError;

use super::ApplicationFailure;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("{0:?} is not a valid Temporal address; use host:port, e.g. localhost:7233")]
    InvalidAddress(String),
    #[error(
        "cannot reach the Temporal server at {address} ({source}); start one with \
         `temporal server start-dev`, or set TEMPORAL_ADDRESS to where yours listens"
    )]
    Unreachable {
        address: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The settings do not describe a usable connection (a missing profile, a bad
    /// certificate file, a header HTTP cannot carry).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The TLS handshake failed for a reason the settings can fix.
    #[error("TLS to the Temporal server at {address} failed: {reason}")]
    Tls { address: String, reason: String },
    /// The server (or a proxy in front of it) refused this client's credentials.
    #[error(
        "the Temporal server at {address} refused this client's credentials ({message}); \
         check the API key (TEMPORAL_API_KEY, --api-key), its namespace, or the client \
         certificate"
    )]
    Unauthenticated { address: String, message: String },
    #[error(
        "a value for Temporal (workflow input, activity result or details) does not encode \
         as JSON: {0}"
    )]
    Encode(#[from] serde_json::Error),
    /// Temporal would not start the workflow: a run with its id is open and the
    /// [`WorkflowIdConflictPolicy`](crate::WorkflowIdConflictPolicy) is `Fail`, or a closed run's id may not be reused under the
    /// [`WorkflowIdReusePolicy`](crate::WorkflowIdReusePolicy).
    #[error(
        "Temporal will not start workflow {workflow_id:?} ({message}): a run with that id \
         is still running (id conflict policy Fail), or the id reuse policy forbids reusing \
         the id of a closed run; wait for it, use another id, or choose other id policies \
         in WorkflowOptions"
    )]
    AlreadyStarted {
        workflow_id: String,
        /// The run that holds the id, when the server names it.
        run_id: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The workflow a handle names is not open (or, for `describe`, does not exist): it
    /// has already closed, or no workflow with that id ever ran in this namespace.
    #[error(
        "{operation}: Temporal has no open workflow {workflow_id:?} in this namespace \
         ({message}); it has already closed, or it never existed (check the workflow id \
         and the namespace)"
    )]
    WorkflowNotFound {
        operation: &'static str,
        workflow_id: String,
        /// The server's explanation.
        message: String,
    },
    #[error("Temporal rejected {operation}: {status}")]
    Rpc {
        operation: &'static str,
        status: Box<tonic::Status>,
    },
    #[error(
        "Temporal answered {operation} with a response we cannot use ({reason}); check that \
         the address points at the server you meant"
    )]
    MalformedResponse {
        operation: &'static str,
        reason: String,
    },
    /// The activity an [`AsyncActivityHandle`](crate::AsyncActivityHandle) names is no longer open: it was already
    /// completed, failed or cancelled, it timed out (a task token also stops matching
    /// once its attempt is retried), or its workflow closed. Nothing is left to report;
    /// if the work should still count, the workflow has to schedule it again.
    #[error(
        "{operation}: Temporal has no open activity for that token or id ({}): it was \
         already completed, failed or cancelled, it timed out (or its attempt was retried \
         under a new token), or its workflow closed",
        .status.message()
    )]
    ActivityNotFound {
        operation: &'static str,
        status: Box<tonic::Status>,
    },
    /// [`AsyncActivityHandle::fail`](crate::AsyncActivityHandle::fail) was given
    /// [`ActivityFailure::will_complete_async`](crate::ActivityFailure::will_complete_async),
    /// which is not a failure.
    #[error(
        "ActivityFailure::will_complete_async() is not a failure to report; complete the \
         activity, fail it with an application error, or report its cancellation"
    )]
    NotAFailure,
    #[error("{0:?} is longer than a Temporal duration can be; pass a shorter one")]
    DurationOutOfRange(Duration),
    #[error(
        "the tokio runtime shut down while a time-skipping call was running; \
         keep the runtime alive until the call returns"
    )]
    RuntimeShutDown,
}

/// Why a workflow did not return a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowResultError {
    #[error("workflow failed: {}", failure_chain(.0))]
    Failed(Box<Failure>),
    #[error("workflow was cancelled")]
    Cancelled,
    #[error("workflow was terminated: {reason}")]
    Terminated { reason: String },
    #[error("workflow timed out")]
    TimedOut,
    #[error("workflow result does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl WorkflowResultError {
    /// The first application failure in the workflow's failure chain: the error the
    /// workflow (or, through it, an activity) raised, with its type and details.
    pub fn application_failure(&self) -> Option<ApplicationFailure<'_>> {
        match self {
            Self::Failed(failure) => ApplicationFailure::in_chain(failure),
            _ => None,
        }
    }
}

pub(super) fn failure_chain(failure: &Failure) -> String {
    let mut parts = vec![failure.message.clone()];
    let mut cause = failure.cause.as_deref();
    while let Some(next) = cause {
        parts.push(next.message.clone());
        cause = next.cause.as_deref();
    }
    parts.join(": ")
}

pub(super) fn rpc_error(operation: &'static str, status: tonic::Status) -> ClientError {
    ClientError::Rpc {
        operation,
        status: Box::new(status),
    }
}

/// Maps an error of an RPC on workflow `workflow_id`: `NotFound` means no open workflow
/// has that id (or, for a given run id, that run is gone).
pub(super) fn workflow_rpc_error(
    operation: &'static str,
    workflow_id: &str,
    status: tonic::Status,
) -> ClientError {
    match status.code() {
        tonic::Code::NotFound => ClientError::WorkflowNotFound {
            operation,
            workflow_id: workflow_id.to_owned(),
            message: status.message().to_owned(),
        },
        _ => rpc_error(operation, status),
    }
}

/// Maps an error of a request that starts workflow `workflow_id`.
pub(super) fn start_error(
    operation: &'static str,
    workflow_id: &str,
    status: tonic::Status,
) -> ClientError {
    match status.code() {
        tonic::Code::AlreadyExists => ClientError::AlreadyStarted {
            workflow_id: workflow_id.to_owned(),
            run_id: status_detail::<WorkflowExecutionAlreadyStartedFailure>(&status)
                .map(|detail| detail.run_id)
                .filter(|run_id| !run_id.is_empty()),
            message: status.message().to_owned(),
        },
        _ => rpc_error(operation, status),
    }
}

/// The detail of type `T` in a gRPC error, if the server attached one.
///
/// Temporal puts a typed message (`temporal.api.errordetails.v1.*`) in the status's
/// `google.rpc.Status` details; it is matched by its type name, not decoded blindly,
/// since protobuf would parse many unrelated messages without complaint.
pub(super) fn status_detail<T: prost::Message + prost::Name + Default>(
    status: &tonic::Status,
) -> Option<T> {
    let details = RpcStatus::decode(status.details()).ok()?;
    let full_name = T::full_name();
    details
        .details
        .iter()
        .find(|any| {
            any.type_url
                .rsplit('/')
                .next()
                .is_some_and(|name| name == full_name)
        })
        .and_then(|any| T::decode(any.value.as_slice()).ok())
}

#[cfg(test)]
mod tests {
    use prost::Name;

    use super::*;

    #[test]
    fn already_exists_names_the_running_run() {
        let details = RpcStatus {
            code: tonic::Code::AlreadyExists as i32,
            message: "Workflow execution is already running".to_owned(),
            details: vec![prost_wkt_types::Any {
                type_url: WorkflowExecutionAlreadyStartedFailure::type_url(),
                value: WorkflowExecutionAlreadyStartedFailure {
                    start_request_id: "request".to_owned(),
                    run_id: "run-1".to_owned(),
                    ..Default::default()
                }
                .encode_to_vec(),
            }],
        };
        let status = tonic::Status::with_details(
            tonic::Code::AlreadyExists,
            "Workflow execution is already running",
            details.encode_to_vec().into(),
        );
        match start_error("StartWorkflowExecution", "wf", status) {
            ClientError::AlreadyStarted {
                workflow_id,
                run_id,
                message,
            } => {
                assert_eq!(workflow_id, "wf");
                assert_eq!(run_id.as_deref(), Some("run-1"));
                assert_eq!(message, "Workflow execution is already running");
            }
            other => panic!("expected AlreadyStarted, got {other:?}"),
        }
    }

    #[test]
    fn a_detail_of_another_type_is_ignored() {
        let details = RpcStatus {
            code: tonic::Code::AlreadyExists as i32,
            message: String::new(),
            details: vec![prost_wkt_types::Any {
                type_url: "type.googleapis.com/temporal.api.errordetails.v1.Other".to_owned(),
                value: vec![0x0a, 0x01, b'x'],
            }],
        };
        let status = tonic::Status::with_details(
            tonic::Code::AlreadyExists,
            "",
            details.encode_to_vec().into(),
        );
        assert!(status_detail::<WorkflowExecutionAlreadyStartedFailure>(&status).is_none());
        assert!(
            status_detail::<WorkflowExecutionAlreadyStartedFailure>(&tonic::Status::internal(
                "no details"
            ))
            .is_none()
        );
    }

    #[test]
    fn not_found_names_the_workflow() {
        let error = workflow_rpc_error(
            "SignalWorkflowExecution",
            "order-1",
            tonic::Status::not_found("workflow execution already completed"),
        );
        let message = error.to_string();
        assert!(
            matches!(error, ClientError::WorkflowNotFound { .. }),
            "{message}"
        );
        assert!(message.contains("order-1"), "{message}");
        assert!(message.contains("already completed"), "{message}");
        assert!(matches!(
            workflow_rpc_error("X", "w", tonic::Status::unavailable("down")),
            ClientError::Rpc { .. }
        ));
    }
}
