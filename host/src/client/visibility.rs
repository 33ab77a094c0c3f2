//! What the server knows about workflows: the Python SDK's `handle.describe()`,
//! `client.list_workflows()` and `client.count_workflows()`.

use std::time::SystemTime;

use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeWorkflowExecutionRequest, ListWorkflowExecutionsRequest,
};

use super::error::rpc_error;
use super::{Client, ClientError, WorkflowHandle};

/// Where a workflow run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkflowStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
    Terminated,
    ContinuedAsNew,
    TimedOut,
    /// A status this client does not know, e.g. one added by a newer server.
    Unknown,
}

impl WorkflowStatus {
    pub(super) fn from_proto(status: i32) -> Self {
        match WorkflowExecutionStatus::try_from(status) {
            Ok(WorkflowExecutionStatus::Running) => Self::Running,
            Ok(WorkflowExecutionStatus::Completed) => Self::Completed,
            Ok(WorkflowExecutionStatus::Failed) => Self::Failed,
            Ok(WorkflowExecutionStatus::Canceled) => Self::Cancelled,
            Ok(WorkflowExecutionStatus::Terminated) => Self::Terminated,
            Ok(WorkflowExecutionStatus::ContinuedAsNew) => Self::ContinuedAsNew,
            Ok(WorkflowExecutionStatus::TimedOut) => Self::TimedOut,
            _ => Self::Unknown,
        }
    }

    /// Whether the run is still open.
    pub fn is_running(self) -> bool {
        self == Self::Running
    }
}

/// One workflow run as [`Client::list_workflows`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowExecutionSummary {
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub status: WorkflowStatus,
    pub start_time: Option<SystemTime>,
    /// `None` while the run is open.
    pub close_time: Option<SystemTime>,
    pub task_queue: String,
}

impl WorkflowExecutionSummary {
    fn from_proto(info: WorkflowExecutionInfo) -> Self {
        let (workflow_id, run_id) = info
            .execution
            .map(|execution| (execution.workflow_id, execution.run_id))
            .unwrap_or_default();
        Self {
            workflow_id,
            run_id,
            workflow_type: info.r#type.map(|t| t.name).unwrap_or_default(),
            status: WorkflowStatus::from_proto(info.status),
            start_time: info.start_time.and_then(|t| SystemTime::try_from(t).ok()),
            close_time: info.close_time.and_then(|t| SystemTime::try_from(t).ok()),
            task_queue: info.task_queue,
        }
    }
}

/// One workflow run as [`WorkflowHandle::describe`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowDescription {
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub status: WorkflowStatus,
    pub start_time: Option<SystemTime>,
    /// `None` while the run is open.
    pub close_time: Option<SystemTime>,
    /// Events in the run's history so far.
    pub history_length: u64,
}

impl<O> WorkflowHandle<O> {
    /// The run's current state, from the server's records (closed runs included).
    pub async fn describe(&self) -> Result<WorkflowDescription, ClientError> {
        const OPERATION: &str = "DescribeWorkflowExecution";
        let request = DescribeWorkflowExecutionRequest {
            namespace: self.client.settings.namespace.clone(),
            execution: Some(self.execution()),
        };
        let response = self
            .client
            .connection
            .workflow_service()
            .describe_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| self.rpc_error(OPERATION, status))?
            .into_inner();
        let info =
            response
                .workflow_execution_info
                .ok_or_else(|| ClientError::MalformedResponse {
                    operation: OPERATION,
                    reason: "no workflow execution info".to_owned(),
                })?;
        let history_length = u64::try_from(info.history_length).unwrap_or_default();
        let config_task_queue = response
            .execution_config
            .and_then(|config| config.task_queue)
            .map(|queue| queue.name)
            .unwrap_or_default();
        let summary = WorkflowExecutionSummary::from_proto(info);
        Ok(WorkflowDescription {
            workflow_id: summary.workflow_id,
            run_id: summary.run_id,
            workflow_type: summary.workflow_type,
            task_queue: if summary.task_queue.is_empty() {
                config_task_queue
            } else {
                summary.task_queue
            },
            status: summary.status,
            start_time: summary.start_time,
            close_time: summary.close_time,
            history_length,
        })
    }
}

impl Client {
    /// The workflow runs that match a visibility `query`, e.g.
    /// `WorkflowType = 'GreetingWorkflow' AND ExecutionStatus = 'Running'` (an empty
    /// query lists all), reading every page.
    ///
    /// Visibility is eventually consistent: a workflow started or closed a moment ago
    /// may not show yet, or show its old status.
    pub async fn list_workflows(
        &self,
        query: &str,
    ) -> Result<Vec<WorkflowExecutionSummary>, ClientError> {
        self.list_workflows_up_to(query, usize::MAX).await
    }

    /// Like [`list_workflows`](Self::list_workflows), reading only the first `limit`
    /// runs (the most recently started first).
    pub async fn list_workflows_up_to(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<WorkflowExecutionSummary>, ClientError> {
        let mut summaries = Vec::new();
        let mut next_page_token = Vec::new();
        while summaries.len() < limit {
            let request = ListWorkflowExecutionsRequest {
                namespace: self.settings.namespace.clone(),
                // 0 is the server's default page size.
                page_size: i32::try_from(limit - summaries.len()).unwrap_or(0),
                next_page_token,
                query: query.to_owned(),
            };
            let response = self
                .connection
                .workflow_service()
                .list_workflow_executions(tonic::Request::new(request))
                .await
                .map_err(|status| rpc_error("ListWorkflowExecutions", status))?
                .into_inner();
            summaries.extend(
                response
                    .executions
                    .into_iter()
                    .map(WorkflowExecutionSummary::from_proto),
            );
            if response.next_page_token.is_empty() {
                break;
            }
            next_page_token = response.next_page_token;
        }
        summaries.truncate(limit);
        Ok(summaries)
    }

    /// How many workflow runs match a visibility `query` (eventually consistent, like
    /// [`list_workflows`](Self::list_workflows)).
    pub async fn count_workflows(&self, query: &str) -> Result<u64, ClientError> {
        let request = CountWorkflowExecutionsRequest {
            namespace: self.settings.namespace.clone(),
            query: query.to_owned(),
        };
        let response = self
            .connection
            .workflow_service()
            .count_workflow_executions(tonic::Request::new(request))
            .await
            .map_err(|status| rpc_error("CountWorkflowExecutions", status))?
            .into_inner();
        u64::try_from(response.count).map_err(|_| ClientError::MalformedResponse {
            operation: "CountWorkflowExecutions",
            reason: format!("a negative count ({})", response.count),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_from_the_proto() {
        let cases = [
            (WorkflowExecutionStatus::Running, WorkflowStatus::Running),
            (
                WorkflowExecutionStatus::Completed,
                WorkflowStatus::Completed,
            ),
            (WorkflowExecutionStatus::Failed, WorkflowStatus::Failed),
            (WorkflowExecutionStatus::Canceled, WorkflowStatus::Cancelled),
            (
                WorkflowExecutionStatus::Terminated,
                WorkflowStatus::Terminated,
            ),
            (
                WorkflowExecutionStatus::ContinuedAsNew,
                WorkflowStatus::ContinuedAsNew,
            ),
            (WorkflowExecutionStatus::TimedOut, WorkflowStatus::TimedOut),
            (
                WorkflowExecutionStatus::Unspecified,
                WorkflowStatus::Unknown,
            ),
        ];
        for (proto, ours) in cases {
            assert_eq!(WorkflowStatus::from_proto(proto as i32), ours, "{proto:?}");
        }
        assert_eq!(WorkflowStatus::from_proto(999), WorkflowStatus::Unknown);
    }
}
