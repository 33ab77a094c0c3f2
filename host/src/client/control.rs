//! Acting on a workflow from outside: the Python SDK's `handle.signal()`,
//! `handle.cancel()`, `handle.terminate()` and `start_workflow(start_signal=...)`.

use sandglass_declare::{SignalDefinition, WorkflowDefinition};
use serde::Serialize;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowIdConflictPolicy as ProtoIdConflictPolicy;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    RequestCancelWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
};

use crate::payload::to_arguments;

use super::error::start_error;
use super::start::Start;
use super::{Client, ClientError, WorkflowHandle, WorkflowIdConflictPolicy, WorkflowOptions};

impl<O> WorkflowHandle<O> {
    /// Sends signal `signal` to the workflow. Returns once the server has recorded it;
    /// the workflow handles it on its next workflow task.
    ///
    /// A workflow that has closed (or never existed) gives
    /// [`ClientError::WorkflowNotFound`].
    pub async fn signal<I: Serialize>(
        &self,
        signal: SignalDefinition<I>,
        input: &I,
    ) -> Result<(), ClientError> {
        let request = SignalWorkflowExecutionRequest {
            namespace: self.client.settings.namespace.clone(),
            workflow_execution: Some(self.execution()),
            signal_name: signal.name().to_owned(),
            input: Some(to_arguments(input)?),
            identity: self.client.settings.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        self.client
            .connection
            .workflow_service()
            .signal_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| self.rpc_error("SignalWorkflowExecution", status))?;
        Ok(())
    }

    /// Asks the workflow to cancel. The workflow decides what that means (it may clean
    /// up, or ignore it); await [`result`](Self::result) to see how it ended.
    ///
    /// The server accepts a request for a workflow that has already closed, and it has
    /// no effect; an unknown workflow gives [`ClientError::WorkflowNotFound`].
    pub async fn cancel(&self) -> Result<(), ClientError> {
        let request = RequestCancelWorkflowExecutionRequest {
            namespace: self.client.settings.namespace.clone(),
            workflow_execution: Some(self.execution()),
            identity: self.client.settings.identity.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        self.client
            .connection
            .workflow_service()
            .request_cancel_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| self.rpc_error("RequestCancelWorkflowExecution", status))?;
        Ok(())
    }

    /// Ends the workflow at once, without running any more of its code; `reason` is
    /// recorded in its history.
    pub async fn terminate(&self, reason: &str) -> Result<(), ClientError> {
        let request = TerminateWorkflowExecutionRequest {
            namespace: self.client.settings.namespace.clone(),
            workflow_execution: Some(self.execution()),
            reason: reason.to_owned(),
            identity: self.client.settings.identity.clone(),
            ..Default::default()
        };
        self.client
            .connection
            .workflow_service()
            .terminate_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| self.rpc_error("TerminateWorkflowExecution", status))?;
        Ok(())
    }
}

impl Client {
    /// Signals the workflow with `options.id`, starting it first (with `input`) if no run
    /// with that id is open; in one atomic request, so the signal is never lost
    /// between a start and a signal.
    ///
    /// A running workflow is signalled unless the conflict policy is
    /// [`WorkflowIdConflictPolicy::TerminateExisting`]; the default `Fail` means the same as
    /// `UseExisting` here.
    pub async fn signal_with_start<I: Serialize, O, S: Serialize>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
        signal: SignalDefinition<S>,
        signal_input: &S,
    ) -> Result<WorkflowHandle<O>, ClientError> {
        let mut request = Start::new(self, workflow, input, &options)?
            .with_signal(signal.name(), to_arguments(signal_input)?);
        // The server refuses conflict policy Fail here: signalling a running workflow is
        // the point. Unspecified lets it default to UseExisting.
        if options.id_conflict_policy == WorkflowIdConflictPolicy::Fail {
            request.workflow_id_conflict_policy = ProtoIdConflictPolicy::Unspecified as i32;
        }
        let response = self
            .connection
            .workflow_service()
            .signal_with_start_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| start_error("SignalWithStartWorkflowExecution", &options.id, status))?
            .into_inner();
        Ok(self.workflow_handle(options.id, Some(response.run_id)))
    }
}
