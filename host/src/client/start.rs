//! What starting a workflow sends, in one place: `StartWorkflowExecution` and
//! `SignalWithStartWorkflowExecution` carry the same fields.

use sandglass_declare::WorkflowDefinition;
use serde::Serialize;
use temporalio_common::protos::temporal::api::common::v1::{Payloads, WorkflowType};
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    SignalWithStartWorkflowExecutionRequest, StartWorkflowExecutionRequest,
};

use crate::payload::to_arguments;

use super::options::to_proto_duration;
use super::{Client, ClientError, WorkflowOptions};

/// The fields of a start request, filled from the client, the workflow and its options.
pub(super) struct Start {
    request: StartWorkflowExecutionRequest,
}

impl Start {
    pub fn new<I: Serialize, O>(
        client: &Client,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: &WorkflowOptions,
    ) -> Result<Self, ClientError> {
        let (reuse, conflict) = options.start_policies();
        let request = StartWorkflowExecutionRequest {
            namespace: client.namespace().to_owned(),
            workflow_id: options.id.clone(),
            workflow_type: Some(WorkflowType {
                name: workflow.name().to_owned(),
            }),
            task_queue: Some(TaskQueue {
                name: options.task_queue.clone(),
                ..Default::default()
            }),
            input: Some(to_arguments(input)?),
            workflow_execution_timeout: options.execution_timeout.and_then(to_proto_duration),
            workflow_run_timeout: options.run_timeout.and_then(to_proto_duration),
            workflow_task_timeout: options.task_timeout.and_then(to_proto_duration),
            identity: client.settings().identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            workflow_id_reuse_policy: reuse as i32,
            workflow_id_conflict_policy: conflict as i32,
            ..Default::default()
        };
        Ok(Self { request })
    }

    pub fn request(self) -> StartWorkflowExecutionRequest {
        self.request
    }

    /// The same start, with signal `signal_name` and its input sent along.
    pub fn with_signal(
        self,
        signal_name: &str,
        signal_input: Payloads,
    ) -> SignalWithStartWorkflowExecutionRequest {
        let start = self.request;
        SignalWithStartWorkflowExecutionRequest {
            namespace: start.namespace,
            workflow_id: start.workflow_id,
            workflow_type: start.workflow_type,
            task_queue: start.task_queue,
            input: start.input,
            workflow_execution_timeout: start.workflow_execution_timeout,
            workflow_run_timeout: start.workflow_run_timeout,
            workflow_task_timeout: start.workflow_task_timeout,
            identity: start.identity,
            request_id: start.request_id,
            workflow_id_reuse_policy: start.workflow_id_reuse_policy,
            workflow_id_conflict_policy: start.workflow_id_conflict_policy,
            signal_name: signal_name.to_owned(),
            signal_input: Some(signal_input),
            ..Default::default()
        }
    }
}
