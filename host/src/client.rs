//! Starting workflows and reading their results: the seed's `Client`.

use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use sandglass_declare::WorkflowDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

use temporalio_client::{Connection, ConnectionOptions, Url, tonic};
use temporalio_common::protos::temporal::api::common::v1::{
    Payloads, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    HistoryEventFilterType, WorkflowIdConflictPolicy,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, StartWorkflowExecutionRequest,
};

use crate::payload::{DecodeError, from_arguments, to_payload};
use crate::settings::ConnectionSettings;

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
    #[error("workflow input does not encode as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(
        "a workflow with id {workflow_id:?} is already running; wait for it, use another id, \
         or choose a different id conflict policy"
    )]
    AlreadyStarted { workflow_id: String },
    #[error("Temporal rejected {operation}: {status}")]
    Rpc {
        operation: &'static str,
        status: Box<tonic::Status>,
    },
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
}

impl WorkflowOptions {
    pub fn new(id: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            task_queue: task_queue.into(),
            execution_timeout: None,
            run_timeout: None,
            task_timeout: None,
        }
    }
}

/// A connection to Temporal bound to one namespace. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    connection: Connection,
    settings: ConnectionSettings,
}

impl Client {
    /// Connects, failing with [`ClientError::Unreachable`] if the server does not answer
    /// within `settings.connect_timeout`.
    pub async fn connect(settings: ConnectionSettings) -> Result<Self, ClientError> {
        let url = Url::from_str(&settings.url())
            .map_err(|_| ClientError::InvalidAddress(settings.address.clone()))?;
        let options = ConnectionOptions::new(url)
            .identity(settings.identity.clone())
            .connect_timeout(settings.connect_timeout)
            .build();
        let connection =
            tokio::time::timeout(settings.connect_timeout, Connection::connect(options))
                .await
                .map_err(|elapsed| ClientError::Unreachable {
                    address: settings.address.clone(),
                    source: Box::new(elapsed),
                })?
                .map_err(|source| ClientError::Unreachable {
                    address: settings.address.clone(),
                    source: Box::new(source),
                })?;
        Ok(Self {
            connection,
            settings,
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

    /// Starts a workflow and returns a handle to it without waiting for its result.
    pub async fn start_workflow<I: Serialize, O>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
    ) -> Result<WorkflowHandle<O>, ClientError> {
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
            input: Some(Payloads {
                payloads: vec![to_payload(input)?],
            }),
            workflow_execution_timeout: options.execution_timeout.and_then(to_proto_duration),
            workflow_run_timeout: options.run_timeout.and_then(to_proto_duration),
            workflow_task_timeout: options.task_timeout.and_then(to_proto_duration),
            identity: self.settings.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            workflow_id_conflict_policy: WorkflowIdConflictPolicy::Fail as i32,
            ..Default::default()
        };
        let response = self
            .connection
            .workflow_service()
            .start_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| match status.code() {
                tonic::Code::AlreadyExists => ClientError::AlreadyStarted {
                    workflow_id: options.id.clone(),
                },
                _ => rpc_error("StartWorkflowExecution", status),
            })?
            .into_inner();
        Ok(WorkflowHandle {
            client: self.clone(),
            workflow_id: options.id,
            run_id: Some(response.run_id),
            output: PhantomData,
        })
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

impl<O> WorkflowHandle<O> {
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
            execution: Some(WorkflowExecution {
                workflow_id: self.workflow_id.clone(),
                run_id: self.run_id.clone().unwrap_or_default(),
            }),
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
    /// # Cancel safety
    /// Safe to drop: it only reads the history, and may be called again.
    pub async fn result(&self) -> Result<O, WorkflowResultError> {
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

fn to_proto_duration(duration: Duration) -> Option<prost_wkt_types::Duration> {
    prost_wkt_types::Duration::try_from(duration).ok()
}
