//! A started workflow: waiting for its result and reading its history.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::HistoryEventFilterType;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;

use crate::payload::from_arguments;

use super::error::{rpc_error, workflow_rpc_error};
use super::{Client, ClientError, WorkflowResultError};

/// A started workflow. `O` is its result type.
#[derive(Debug)]
pub struct WorkflowHandle<O> {
    pub(super) client: Client,
    pub(super) workflow_id: String,
    pub(super) run_id: Option<String>,
    pub(super) output: PhantomData<fn() -> O>,
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
    pub(super) fn execution(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone().unwrap_or_default(),
        }
    }

    /// Maps an error of an RPC on this handle's workflow.
    pub(super) fn rpc_error(&self, operation: &'static str, status: tonic::Status) -> ClientError {
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

    pub(super) async fn history_page(
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
