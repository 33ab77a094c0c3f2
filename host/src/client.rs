//! Starting workflows and reading their results: the seed's `Client`; signalling,
//! querying, updating, cancelling, terminating, describing and listing them (the Python
//! SDK's `WorkflowHandle` and `Client.list_workflows`); and finishing activities that
//! complete asynchronously ([`AsyncActivityHandle`]).

mod async_activity;
mod control;
mod failure;
mod query;
mod time_skipping;
mod transport;
mod update;
mod visibility;

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sandglass_declare::WorkflowDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

use prost::Message;
use temporalio_client::{Connection, ConnectionOptions, Url, tonic};
use temporalio_common::protos::google::rpc::Status as RpcStatus;
use temporalio_common::protos::temporal::api::common::v1::{
    Payloads, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    HistoryEventFilterType, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use temporalio_common::protos::temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, StartWorkflowExecutionRequest,
};

use crate::payload::{DecodeError, from_arguments, to_payload};
use crate::settings::ConnectionSettings;

pub use async_activity::{AsyncActivityHandle, AsyncActivityId, HeartbeatResponse};
pub use failure::ApplicationFailure;
pub use query::{QueryError, QueryRejectCondition};
pub(crate) use time_skipping::ServerTimeLock;
use time_skipping::TimeLock;
pub use update::{UpdateError, UpdateHandle, UpdateOptions, UpdateStage};
pub use visibility::{WorkflowDescription, WorkflowExecutionSummary, WorkflowStatus};

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
    #[error(
        "a value for Temporal (workflow input, activity result or details) does not encode \
         as JSON: {0}"
    )]
    Encode(#[from] serde_json::Error),
    /// Temporal would not start the workflow: a run with its id is open and the
    /// [`IdConflictPolicy`] is `Fail`, or a closed run's id may not be reused under the
    /// [`IdReusePolicy`].
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
    /// The activity an [`AsyncActivityHandle`] names is no longer open: it was already
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
    /// [`AsyncActivityHandle::fail`] was given
    /// [`ActivityError::will_complete_async`](crate::ActivityError::will_complete_async),
    /// which is not a failure.
    #[error(
        "ActivityError::will_complete_async() is not a failure to report; complete the \
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

fn failure_chain(failure: &Failure) -> String {
    let mut parts = vec![failure.message.clone()];
    let mut cause = failure.cause.as_deref();
    while let Some(next) = cause {
        parts.push(next.message.clone());
        cause = next.cause.as_deref();
    }
    parts.join(": ")
}

/// Options for starting a workflow.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkflowOptions {
    /// The workflow id: your business identifier, unique among running workflows.
    pub id: String,
    pub task_queue: String,
    pub execution_timeout: Option<Duration>,
    pub run_timeout: Option<Duration>,
    /// Default 10 s (the server's).
    pub task_timeout: Option<Duration>,
    /// Whether the id of a closed run may be used again. Default: allow.
    pub id_reuse_policy: IdReusePolicy,
    /// What to do when a run with the id is still open. Default: fail with
    /// [`ClientError::AlreadyStarted`].
    pub id_conflict_policy: IdConflictPolicy,
}

impl WorkflowOptions {
    pub fn new(id: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            task_queue: task_queue.into(),
            execution_timeout: None,
            run_timeout: None,
            task_timeout: None,
            id_reuse_policy: IdReusePolicy::default(),
            id_conflict_policy: IdConflictPolicy::default(),
        }
    }

    pub fn with_execution_timeout(mut self, timeout: Duration) -> Self {
        self.execution_timeout = Some(timeout);
        self
    }

    pub fn with_run_timeout(mut self, timeout: Duration) -> Self {
        self.run_timeout = Some(timeout);
        self
    }

    pub fn with_task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    pub fn with_id_reuse_policy(mut self, policy: IdReusePolicy) -> Self {
        self.id_reuse_policy = policy;
        self
    }

    pub fn with_id_conflict_policy(mut self, policy: IdConflictPolicy) -> Self {
        self.id_conflict_policy = policy;
        self
    }

    /// The two policies as the server takes them on a start request.
    ///
    /// The server refuses the deprecated `TerminateIfRunning` together with any
    /// conflict policy, so with the default conflict policy (`Fail`) none is sent;
    /// `TerminateIfRunning` already decides what happens to a running workflow.
    fn start_policies(&self) -> (WorkflowIdReusePolicy, WorkflowIdConflictPolicy) {
        let conflict = match (self.id_reuse_policy, self.id_conflict_policy) {
            (IdReusePolicy::TerminateIfRunning, IdConflictPolicy::Fail) => {
                WorkflowIdConflictPolicy::Unspecified
            }
            (_, conflict) => conflict.to_proto(),
        };
        (self.id_reuse_policy.to_proto(), conflict)
    }
}

/// Whether a new workflow may take the id of a closed one (the Python SDK's
/// `WorkflowIDReusePolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdReusePolicy {
    /// Any closed run's id may be used again (the server's default).
    #[default]
    AllowDuplicate,
    /// Only if the last run did not complete successfully (failed, was cancelled or
    /// terminated, or timed out): retry a failed business operation, never redo a done one.
    AllowDuplicateFailedOnly,
    /// Never: the id names one run for the namespace's retention period.
    RejectDuplicate,
    /// Terminate a running workflow with the id and start anew. Deprecated by
    /// Temporal in favour of [`IdConflictPolicy::TerminateExisting`]; it cannot be
    /// combined with a conflict policy other than the default.
    TerminateIfRunning,
}

impl IdReusePolicy {
    fn to_proto(self) -> WorkflowIdReusePolicy {
        match self {
            Self::AllowDuplicate => WorkflowIdReusePolicy::AllowDuplicate,
            Self::AllowDuplicateFailedOnly => WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
            Self::RejectDuplicate => WorkflowIdReusePolicy::RejectDuplicate,
            #[allow(deprecated)]
            Self::TerminateIfRunning => WorkflowIdReusePolicy::TerminateIfRunning,
        }
    }
}

/// What starting a workflow does when a run with its id is still open (the Python
/// SDK's `WorkflowIDConflictPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdConflictPolicy {
    /// Fail with [`ClientError::AlreadyStarted`]. For
    /// [`Client::signal_with_start`] this means [`UseExisting`](Self::UseExisting):
    /// signalling the running workflow is what signal-with-start is for.
    #[default]
    Fail,
    /// Return a handle to the running workflow instead of starting another.
    UseExisting,
    /// Terminate the running workflow and start a new run.
    TerminateExisting,
}

impl IdConflictPolicy {
    fn to_proto(self) -> WorkflowIdConflictPolicy {
        match self {
            Self::Fail => WorkflowIdConflictPolicy::Fail,
            Self::UseExisting => WorkflowIdConflictPolicy::UseExisting,
            Self::TerminateExisting => WorkflowIdConflictPolicy::TerminateExisting,
        }
    }
}

/// A connection to Temporal bound to one namespace. Cheap to clone.
///
/// A client made by [`TimeSkippingServer::client`](crate::testing::TimeSkippingServer::client)
/// is *time-skipping*: [`WorkflowHandle::result`] lets the test server skip time
/// while it waits, and [`Client::sleep`] skips time on request. Clones share that
/// behaviour; see [`Client::is_time_skipping`].
#[derive(Clone, Debug)]
pub struct Client {
    connection: Connection,
    settings: ConnectionSettings,
    /// Set for clients of a time-skipping test server.
    time_lock: Option<TimeLock>,
}

impl Client {
    /// Connects, failing with [`ClientError::Unreachable`] if the server does not answer
    /// within `settings.connect_timeout`.
    pub async fn connect(settings: ConnectionSettings) -> Result<Self, ClientError> {
        Self::connect_with(settings, None).await
    }

    /// Connects to a time-skipping test server whose lock state is `server`.
    pub(crate) async fn connect_time_skipping(
        settings: ConnectionSettings,
        server: Arc<ServerTimeLock>,
    ) -> Result<Self, ClientError> {
        Self::connect_with(settings, Some(server)).await
    }

    async fn connect_with(
        settings: ConnectionSettings,
        time_skipping: Option<Arc<ServerTimeLock>>,
    ) -> Result<Self, ClientError> {
        let url = Url::from_str(&settings.url())
            .map_err(|_| ClientError::InvalidAddress(settings.address.clone()))?;
        let unreachable =
            |source: Box<dyn std::error::Error + Send + Sync>| ClientError::Unreachable {
                address: settings.address.clone(),
                source,
            };
        let connecting = async {
            let transport = transport::connect(url.as_str(), settings.connect_timeout)
                .await
                .map_err(|e| unreachable(Box::new(e)))?;
            let options = ConnectionOptions::new(url)
                .identity(settings.identity.clone())
                .service_override(transport)
                // The override is the transport; the client's own DNS balancing is off.
                .dns_load_balancing(None)
                .build();
            Connection::connect(options)
                .await
                .map_err(|e| unreachable(Box::new(e)))
        };
        let connection = tokio::time::timeout(settings.connect_timeout, connecting)
            .await
            .map_err(|elapsed| unreachable(Box::new(elapsed)))??;
        let time_lock =
            time_skipping.map(|server| TimeLock::new(connection.test_service(), server));
        Ok(Self {
            connection,
            settings,
            time_lock,
        })
    }

    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether this client belongs to a time-skipping test server (it was made by
    /// [`TimeSkippingServer::client`](crate::testing::TimeSkippingServer::client)).
    pub fn is_time_skipping(&self) -> bool {
        self.time_lock.is_some()
    }

    /// Lets `duration` of server time pass: the seed's `env.sleep()`.
    ///
    /// On a time-skipping test server this skips ahead (timers that fall due fire,
    /// and their workflow tasks run) and returns once the server's clock has moved
    /// by `duration`, usually within milliseconds. Any other client sleeps for
    /// `duration` of real time, so a test can run against either server.
    ///
    /// # Cancel safety
    /// Safe to drop. On a test server the skip runs to its end on a task of its
    /// own, and the server takes back its lock on time by itself once `duration`
    /// has passed; other time-skipping calls wait until it has.
    pub async fn sleep(&self, duration: Duration) -> Result<(), ClientError> {
        match &self.time_lock {
            Some(lock) => lock.sleep(duration).await,
            None => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
        }
    }

    /// The server's clock: the seed's `env.get_current_time()`. On a time-skipping
    /// test server it runs ahead of the wall clock by all the time skipped so far;
    /// any other client returns the local wall clock.
    ///
    /// # Cancel safety
    /// Safe to drop: it only reads.
    pub async fn current_time(&self) -> Result<SystemTime, ClientError> {
        match &self.time_lock {
            Some(lock) => lock.current_time().await,
            None => Ok(SystemTime::now()),
        }
    }

    /// Starts a workflow and returns a handle to it without waiting for its result.
    ///
    /// With [`IdConflictPolicy::UseExisting`] and a run with the id still open, the
    /// handle is that run's.
    pub async fn start_workflow<I: Serialize, O>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
    ) -> Result<WorkflowHandle<O>, ClientError> {
        let (reuse, conflict) = options.start_policies();
        let request = StartWorkflowExecutionRequest {
            namespace: self.settings.namespace.clone(),
            workflow_id: options.id.clone(),
            workflow_type: Some(WorkflowType {
                name: workflow.name().to_owned(),
            }),
            task_queue: Some(TaskQueue {
                name: options.task_queue,
                ..Default::default()
            }),
            input: Some(encode_arguments(input)?),
            workflow_execution_timeout: options.execution_timeout.and_then(to_proto_duration),
            workflow_run_timeout: options.run_timeout.and_then(to_proto_duration),
            workflow_task_timeout: options.task_timeout.and_then(to_proto_duration),
            identity: self.settings.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            workflow_id_reuse_policy: reuse as i32,
            workflow_id_conflict_policy: conflict as i32,
            ..Default::default()
        };
        let response = self
            .connection
            .workflow_service()
            .start_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| start_error("StartWorkflowExecution", &options.id, status))?
            .into_inner();
        Ok(self.workflow_handle(options.id, Some(response.run_id)))
    }

    /// Starts a workflow and waits for its result: the seed's `client.execute_workflow`.
    pub async fn execute_workflow<I: Serialize, O: DeserializeOwned>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
    ) -> Result<O, WorkflowResultError> {
        self.start_workflow(workflow, input, options)
            .await?
            .result()
            .await
    }

    /// A handle to an existing workflow; without a run id it follows the latest run.
    pub fn workflow_handle<O>(
        &self,
        workflow_id: impl Into<String>,
        run_id: Option<String>,
    ) -> WorkflowHandle<O> {
        WorkflowHandle {
            client: self.clone(),
            workflow_id: workflow_id.into(),
            run_id,
            output: PhantomData,
        }
    }
}

/// A started workflow. `O` is its result type.
#[derive(Debug)]
pub struct WorkflowHandle<O> {
    client: Client,
    workflow_id: String,
    run_id: Option<String>,
    output: PhantomData<fn() -> O>,
}

// Manual impl: a derive would needlessly require `O: Clone`.
impl<O> Clone for WorkflowHandle<O> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            output: PhantomData,
        }
    }
}

impl<O> WorkflowHandle<O> {
    /// The client this handle calls through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The execution this handle names; an empty run id means the latest run.
    fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
        }
    }

    /// Maps an error of an RPC on this handle's workflow.
    fn rpc_error(&self, operation: &'static str, status: tonic::Status) -> ClientError {
        workflow_rpc_error(operation, &self.workflow_id, status)
    }

    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The run this handle was started with, if known.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The full event history of the run.
    pub async fn fetch_history(&self) -> Result<History, ClientError> {
        let mut events = Vec::new();
        let mut next_page_token = Vec::new();
        loop {
            let response = self
                .history_page(next_page_token, false, HistoryEventFilterType::AllEvent)
                .await?;
            events.extend(response.history.map(|h| h.events).unwrap_or_default());
            if response.next_page_token.is_empty() {
                return Ok(History { events });
            }
            next_page_token = response.next_page_token;
        }
    }

    async fn history_page(
        &self,
        next_page_token: Vec<u8>,
        wait_new_event: bool,
        filter: HistoryEventFilterType,
    ) -> Result<
        temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryResponse,
        ClientError,
    >{
        let request = GetWorkflowExecutionHistoryRequest {
            namespace: self.client.settings.namespace.clone(),
            execution: Some(self.execution()),
            next_page_token,
            wait_new_event,
            history_event_filter_type: filter as i32,
            ..Default::default()
        };
        Ok(self
            .client
            .connection
            .workflow_service()
            .get_workflow_execution_history(tonic::Request::new(request))
            .await
            .map_err(|status| rpc_error("GetWorkflowExecutionHistory", status))?
            .into_inner())
    }
}

impl<O: DeserializeOwned> WorkflowHandle<O> {
    /// Waits for the workflow to close and returns its result, following
    /// continue-as-new to the final run.
    ///
    /// On a [time-skipping](Client::is_time_skipping) client the server may skip
    /// time while this waits, like the Python SDK's time-skipping environment: time
    /// skipping is unlocked when the first concurrent `result()` begins and locked
    /// again when the last one ends, so a workflow that sleeps for days completes
    /// in seconds. If locking again fails, this returns that error (the workflow's
    /// own failure takes precedence), and the next time-skipping call retries it.
    ///
    /// # Cancel safety
    /// Safe to drop, and may be called again: it only reads the history. On a
    /// time-skipping client, a dropped call still counts itself out; time is
    /// locked again on a task of its own, so do not rely on time standing still
    /// the very moment after dropping it.
    pub async fn result(&self) -> Result<O, WorkflowResultError> {
        let Some(time_lock) = &self.client.time_lock else {
            return self.wait_for_result().await;
        };
        let waiting = time_lock.begin_wait().await?;
        let result = self.wait_for_result().await;
        let locked = waiting.finish().await;
        let value = result?;
        locked?;
        Ok(value)
    }

    async fn wait_for_result(&self) -> Result<O, WorkflowResultError> {
        let mut handle = WorkflowHandle::<O> {
            client: self.client.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            output: PhantomData,
        };
        loop {
            let response = handle
                .history_page(Vec::new(), true, HistoryEventFilterType::CloseEvent)
                .await?;
            let Some(event) = response.history.and_then(|h| h.events.into_iter().next()) else {
                // The long poll ended before the workflow closed; poll again.
                continue;
            };
            match event.attributes {
                Some(Attributes::WorkflowExecutionCompletedEventAttributes(done)) => {
                    let payloads = done.result.map(|p| p.payloads).unwrap_or_default();
                    return Ok(from_arguments(&payloads)?);
                }
                Some(Attributes::WorkflowExecutionFailedEventAttributes(failed)) => {
                    return Err(WorkflowResultError::Failed(Box::new(
                        failed.failure.unwrap_or_default(),
                    )));
                }
                Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => {
                    return Err(WorkflowResultError::Cancelled);
                }
                Some(Attributes::WorkflowExecutionTerminatedEventAttributes(terminated)) => {
                    return Err(WorkflowResultError::Terminated {
                        reason: terminated.reason,
                    });
                }
                Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => {
                    return Err(WorkflowResultError::TimedOut);
                }
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(next)) => {
                    handle.run_id = Some(next.new_execution_run_id);
                }
                _ => continue,
            }
        }
    }
}

fn rpc_error(operation: &'static str, status: tonic::Status) -> ClientError {
    ClientError::Rpc {
        operation,
        status: Box::new(status),
    }
}

/// Maps an error of an RPC on workflow `workflow_id`: `NotFound` means no open workflow
/// has that id (or, for a given run id, that run is gone).
fn workflow_rpc_error(
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
fn start_error(operation: &'static str, workflow_id: &str, status: tonic::Status) -> ClientError {
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
fn status_detail<T: prost::Message + prost::Name + Default>(status: &tonic::Status) -> Option<T> {
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

/// Encodes a value as an argument list, as the guest SDK does: none for a zero-sized
/// value that is `null` (`()`, a unit struct), so an argument-less handler or workflow
/// in another SDK accepts it, and one payload otherwise.
fn encode_arguments<T: Serialize>(value: &T) -> Result<Payloads, serde_json::Error> {
    if size_of::<T>() == 0 && serde_json::to_value(value)?.is_null() {
        return Ok(Payloads::default());
    }
    Ok(Payloads {
        payloads: vec![to_payload(value)?],
    })
}

fn to_proto_duration(duration: Duration) -> Option<prost_wkt_types::Duration> {
    prost_wkt_types::Duration::try_from(duration).ok()
}

#[cfg(test)]
mod tests {
    use prost::Name;

    use super::*;

    #[test]
    fn unit_is_no_argument_and_a_value_one() {
        assert!(encode_arguments(&()).expect("encode").payloads.is_empty());
        let one = encode_arguments(&"x").expect("encode").payloads;
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].data, b"\"x\"");
        // `None` is a value of a non-zero-sized type: one `null` argument.
        assert_eq!(
            encode_arguments(&None::<u32>)
                .expect("encode")
                .payloads
                .len(),
            1
        );
    }

    #[test]
    fn policies_default_to_allow_duplicate_and_fail() {
        let options = WorkflowOptions::new("id", "queue");
        assert_eq!(
            options.start_policies(),
            (
                WorkflowIdReusePolicy::AllowDuplicate,
                WorkflowIdConflictPolicy::Fail
            )
        );
        let options = options
            .with_id_reuse_policy(IdReusePolicy::RejectDuplicate)
            .with_id_conflict_policy(IdConflictPolicy::UseExisting);
        assert_eq!(
            options.start_policies(),
            (
                WorkflowIdReusePolicy::RejectDuplicate,
                WorkflowIdConflictPolicy::UseExisting
            )
        );
    }

    #[test]
    #[allow(deprecated)]
    fn terminate_if_running_sends_no_default_conflict_policy() {
        let options = WorkflowOptions::new("id", "queue")
            .with_id_reuse_policy(IdReusePolicy::TerminateIfRunning);
        assert_eq!(
            options.start_policies(),
            (
                WorkflowIdReusePolicy::TerminateIfRunning,
                WorkflowIdConflictPolicy::Unspecified
            )
        );
    }

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
