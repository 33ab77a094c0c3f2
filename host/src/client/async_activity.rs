//! Finishing an activity from outside the worker: the Python SDK's
//! `client.get_async_activity_handle()`.
//!
//! An activity that returns [`ActivityFailure::will_complete_async`] stays open on the
//! server after its function returns; whoever holds its task token (or its workflow and
//! activity ids) completes, fails, heartbeats or cancels it through an
//! [`AsyncActivityHandle`], from any process with a [`Client`].

use serde::Serialize;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    RecordActivityTaskHeartbeatByIdRequest, RecordActivityTaskHeartbeatRequest,
    RespondActivityTaskCanceledByIdRequest, RespondActivityTaskCanceledRequest,
    RespondActivityTaskCompletedByIdRequest, RespondActivityTaskCompletedRequest,
    RespondActivityTaskFailedByIdRequest, RespondActivityTaskFailedRequest,
};

use super::{Client, ClientError};
use crate::activity::ActivityFailure;
use crate::payload::to_payload;

/// Which activity an [`AsyncActivityHandle`] finishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsyncActivityId {
    /// The activity's [`ActivityInfo::task_token`](crate::ActivityInfo::task_token). It
    /// names one attempt: once that attempt has timed out and been retried, the token no
    /// longer matches.
    TaskToken(Vec<u8>),
    /// The activity `activity_id` of workflow `workflow_id`, whichever attempt is
    /// running. Without a run id, the workflow's latest run. Activity ids are the
    /// scheduling workflow's own: Sandglass workflows number them "1", "2", ... in the
    /// order they schedule activities.
    ById {
        workflow_id: String,
        run_id: Option<String>,
        activity_id: String,
    },
}

impl AsyncActivityId {
    /// The attempt whose [task token](crate::ActivityInfo::task_token) this is.
    pub fn task_token(token: impl Into<Vec<u8>>) -> Self {
        Self::TaskToken(token.into())
    }

    /// Activity `activity_id` of the latest run of workflow `workflow_id`.
    pub fn by_id(workflow_id: impl Into<String>, activity_id: impl Into<String>) -> Self {
        Self::ById {
            workflow_id: workflow_id.into(),
            run_id: None,
            activity_id: activity_id.into(),
        }
    }
}

/// What the server said in answer to [`AsyncActivityHandle::heartbeat`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatResponse {
    /// Someone (usually the workflow) asked for the activity to be cancelled: stop the
    /// work and call [`AsyncActivityHandle::report_cancellation`].
    pub cancel_requested: bool,
    /// The activity was paused through Temporal's API.
    pub paused: bool,
    /// The activity was reset through Temporal's API.
    pub reset: bool,
}

/// Completes, fails, heartbeats or cancels an activity that a worker left open with
/// [`ActivityFailure::will_complete_async`]. Made by [`Client::async_activity_handle`];
/// cheap to clone.
///
/// Each call is one request to the server and may be made from any task. The server
/// takes the first of `complete`, `fail` and `report_cancellation` and answers later
/// ones (and heartbeats after it) with [`ClientError::ActivityNotFound`], as it does when
/// the activity has timed out or its workflow has closed.
///
/// # Cancel safety
/// Dropping a call's future may or may not have delivered the request; calling again
/// is safe (a second completion is rejected with `ActivityNotFound`, never applied twice).
#[derive(Clone, Debug)]
pub struct AsyncActivityHandle {
    client: Client,
    id: AsyncActivityId,
}

impl Client {
    /// A handle to an activity that will complete asynchronously: the Python SDK's
    /// `client.get_async_activity_handle(task_token=...)` or `(workflow_id=...,
    /// run_id=..., activity_id=...)`. Makes no request until the handle is used.
    pub fn async_activity_handle(&self, id: AsyncActivityId) -> AsyncActivityHandle {
        AsyncActivityHandle {
            client: self.clone(),
            id,
        }
    }
}

/// Sends one request about the handle's activity: the task-token form of the RPC, or
/// its `_by_id` twin, with the same fields set, the reply mapped by `|reply| body`
/// (expanded into both arms, so that it types against each twin's response), and
/// `NotFound` read as [`ClientError::ActivityNotFound`].
macro_rules! send {
    ($handle:expr, $operation:literal,
     $rpc:ident($request:ident), $rpc_by_id:ident($request_by_id:ident),
     { $($field:ident: $value:expr),* }, |$reply:ident| $body:expr) => {{
        let settings = &$handle.client.settings;
        let (namespace, identity) = (settings.namespace.clone(), settings.identity.clone());
        let mut service = $handle.client.connection.workflow_service();
        let outcome = match &$handle.id {
            AsyncActivityId::TaskToken(task_token) => service
                .$rpc(tonic::Request::new($request {
                    task_token: task_token.clone(),
                    namespace,
                    identity,
                    $($field: $value,)*
                    ..Default::default()
                }))
                .await
                .map(|response| {
                    let $reply = response.into_inner();
                    $body
                }),
            AsyncActivityId::ById {
                workflow_id,
                run_id,
                activity_id,
            } => service
                .$rpc_by_id(tonic::Request::new($request_by_id {
                    namespace,
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone().unwrap_or_default(),
                    activity_id: activity_id.clone(),
                    identity,
                    $($field: $value,)*
                    ..Default::default()
                }))
                .await
                .map(|response| {
                    let $reply = response.into_inner();
                    $body
                }),
        };
        outcome.map_err(|status| activity_rpc_error($operation, status))
    }};
}

impl AsyncActivityHandle {
    pub fn id(&self) -> &AsyncActivityId {
        &self.id
    }

    /// Completes the activity with `result`, which the workflow receives as the
    /// activity's output.
    pub async fn complete<T: Serialize + ?Sized>(&self, result: &T) -> Result<(), ClientError> {
        let result = Some(payloads(result)?);
        send!(
            self,
            "RespondActivityTaskCompleted",
            respond_activity_task_completed(RespondActivityTaskCompletedRequest),
            respond_activity_task_completed_by_id(RespondActivityTaskCompletedByIdRequest),
            { result: result },
            |_reply| ()
        )
    }

    /// Fails the activity with `error`, built as an activity would build it
    /// ([`ActivityFailure::application`], `.non_retryable()`, `.with_detail()`); the retry
    /// policy then decides, as for a failure returned by the activity itself. A
    /// [`cancelled`](ActivityFailure::cancelled) error reports cancellation instead, as a
    /// worker would; [`will_complete_async`](ActivityFailure::will_complete_async) is not a
    /// failure and is refused with [`ClientError::NotAFailure`].
    pub async fn fail(&self, error: ActivityFailure) -> Result<(), ClientError> {
        if error.is_will_complete_async() {
            return Err(ClientError::NotAFailure);
        }
        if error.is_cancelled() {
            return self.report_cancellation(&()).await;
        }
        let failure = Some(error.into_failure());
        send!(
            self,
            "RespondActivityTaskFailed",
            respond_activity_task_failed(RespondActivityTaskFailedRequest),
            respond_activity_task_failed_by_id(RespondActivityTaskFailedByIdRequest),
            { failure: failure },
            |_reply| ()
        )
    }

    /// Records progress and keeps the activity's heartbeat timeout from firing; the next
    /// attempt, if there is one, reads `details` as
    /// [`ActivityContext::last_heartbeat_details`](crate::ActivityContext::last_heartbeat_details).
    /// Pass `&()` for none.
    ///
    /// Check [`HeartbeatResponse::cancel_requested`]: the server has no other way to tell
    /// whoever holds the handle that the workflow wants the activity cancelled.
    pub async fn heartbeat<T: Serialize + ?Sized>(
        &self,
        details: &T,
    ) -> Result<HeartbeatResponse, ClientError> {
        let details = Some(payloads(details)?);
        send!(
            self,
            "RecordActivityTaskHeartbeat",
            record_activity_task_heartbeat(RecordActivityTaskHeartbeatRequest),
            record_activity_task_heartbeat_by_id(RecordActivityTaskHeartbeatByIdRequest),
            { details: details },
            |response| HeartbeatResponse {
                cancel_requested: response.cancel_requested,
                paused: response.activity_paused,
                reset: response.activity_reset,
            }
        )
    }

    /// Confirms that the activity stopped because cancellation was requested (see
    /// [`HeartbeatResponse::cancel_requested`]); the workflow sees it cancelled, with
    /// `details` attached. Pass `&()` for none.
    pub async fn report_cancellation<T: Serialize + ?Sized>(
        &self,
        details: &T,
    ) -> Result<(), ClientError> {
        let details = Some(payloads(details)?);
        send!(
            self,
            "RespondActivityTaskCanceled",
            respond_activity_task_canceled(RespondActivityTaskCanceledRequest),
            respond_activity_task_canceled_by_id(RespondActivityTaskCanceledByIdRequest),
            { details: details },
            |_reply| ()
        )
    }
}

fn payloads<T: Serialize + ?Sized>(value: &T) -> Result<Payloads, ClientError> {
    Ok(Payloads {
        payloads: vec![to_payload(value)?],
    })
}

/// `NotFound` is the server saying the activity is no longer open, which callers
/// handle differently from a failed call.
fn activity_rpc_error(operation: &'static str, status: tonic::Status) -> ClientError {
    match status.code() {
        tonic::Code::NotFound => ClientError::ActivityNotFound {
            operation,
            status: Box::new(status),
        },
        _ => super::error::rpc_error(operation, status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<AsyncActivityHandle>();
        assert_send_sync::<AsyncActivityId>();
    }

    #[test]
    fn by_id_targets_the_latest_run() {
        assert_eq!(
            AsyncActivityId::by_id("order-1", "1"),
            AsyncActivityId::ById {
                workflow_id: "order-1".into(),
                run_id: None,
                activity_id: "1".into(),
            }
        );
    }

    #[test]
    fn not_found_says_the_activity_is_gone() {
        let error = activity_rpc_error(
            "RespondActivityTaskCompleted",
            tonic::Status::not_found("workflow execution already completed"),
        );
        assert!(matches!(error, ClientError::ActivityNotFound { .. }));
        let message = error.to_string();
        assert!(message.contains("no open activity"), "{message}");
        assert!(
            message.contains("workflow execution already completed"),
            "{message}"
        );
    }
}
