//! Child workflows: starting them, signalling and cancelling them, and their results.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use sandglass_declare::failure_types::{
    CHILD_WORKFLOW_ERROR, CHILD_WORKFLOW_NOT_STARTED, PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::exports::sandglass::workflow::guest::{
    ChildCancellationType as WitCancellationType, ChildResolution, ChildStartResolution, Command,
    ExternalWorkflow, IdReusePolicy as WitIdReusePolicy, ParentClosePolicy as WitParentClosePolicy,
    StartChild,
};
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::external::external_signal;
use crate::state::Shared;
use crate::time::to_wit_duration;
use crate::{FailureChain, RetryPolicy, SignalDefinition, WorkflowError, payload};

/// What happens to a child workflow when its parent closes. Default: `Terminate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParentClosePolicy {
    #[default]
    Terminate,
    Abandon,
    RequestCancel,
}

/// What cancelling a child does, and when its handle resolves. Default:
/// `WaitCancellationCompleted`, as in the Python SDK.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChildWorkflowCancellationType {
    /// Resolve at once; do not ask the child to cancel.
    Abandon,
    /// Ask the child to cancel and resolve at once.
    TryCancel,
    /// Ask the child to cancel and resolve once it has closed.
    #[default]
    WaitCancellationCompleted,
    /// Ask the child to cancel and resolve once the server has recorded the request.
    WaitCancellationRequested,
}

/// Whether a child may take a workflow id a closed workflow used. Default:
/// `AllowDuplicate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkflowIdReusePolicy {
    #[default]
    AllowDuplicate,
    AllowDuplicateFailedOnly,
    RejectDuplicate,
}

/// How to run a child workflow.
#[derive(Clone, Debug, Default)]
pub struct ChildWorkflowOptions {
    /// The child's workflow id. Default: a deterministic random UUID.
    pub workflow_id: Option<String>,
    /// Default: the parent's task queue.
    pub task_queue: Option<String>,
    pub execution_timeout: Option<Duration>,
    pub run_timeout: Option<Duration>,
    pub task_timeout: Option<Duration>,
    pub parent_close_policy: ParentClosePolicy,
    pub id_reuse_policy: WorkflowIdReusePolicy,
    /// Default: `None`, no retries (a workflow's default).
    pub retry_policy: Option<RetryPolicy>,
    pub cancellation_type: ChildWorkflowCancellationType,
}

impl ChildWorkflowOptions {
    /// Options with this workflow id and every other field at its default.
    pub fn with_id(workflow_id: impl Into<String>) -> Self {
        Self {
            workflow_id: Some(workflow_id.into()),
            ..Self::default()
        }
    }
}

/// How a child workflow, or a signal to or cancellation of another workflow, failed:
/// Temporal's [`FailureChain`], whose accessors it dereferences to, and why the child
/// did not start, if it did not.
#[derive(Clone, Debug)]
pub struct ChildWorkflowError {
    chain: FailureChain,
    /// The child never started, for this `StartChildWorkflowExecutionFailedCause`.
    start_failed: Option<String>,
}

impl ChildWorkflowError {
    pub(crate) fn from_host(failure: Failure, cancelled: bool) -> Self {
        Self {
            chain: FailureChain::from_host(failure, cancelled),
            start_failed: None,
        }
    }

    fn start_failed(workflow_type: &str, workflow_id: &str, cause: String) -> Self {
        let message = if cause.ends_with("WORKFLOW_ALREADY_EXISTS") {
            format!(
                "child workflow {workflow_type:?} was not started: a workflow with id \
                 {workflow_id:?} already exists"
            )
        } else {
            format!(
                "child workflow {workflow_type:?} (id {workflow_id:?}) was not started: {cause}"
            )
        };
        Self {
            chain: FailureChain::local(CHILD_WORKFLOW_NOT_STARTED, message),
            start_failed: Some(cause),
        }
    }

    /// The server's reason the child did not start (e.g.
    /// `START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS`), if it did not.
    pub fn start_failure_cause(&self) -> Option<&str> {
        self.start_failed.as_deref()
    }
}

impl Deref for ChildWorkflowError {
    type Target = FailureChain;

    fn deref(&self) -> &FailureChain {
        &self.chain
    }
}

impl fmt::Display for ChildWorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chain.fmt(f)
    }
}

impl std::error::Error for ChildWorkflowError {}

impl From<ChildWorkflowError> for FailureChain {
    fn from(error: ChildWorkflowError) -> Self {
        error.chain
    }
}

impl From<ChildWorkflowError> for WorkflowError {
    fn from(error: ChildWorkflowError) -> Self {
        let message = format!("child workflow failed: {error}");
        WorkflowError::application(CHILD_WORKFLOW_ERROR, message).with_cause(error)
    }
}

/// Starts a child; the returned future resolves once Temporal has started it.
pub(crate) fn start<O>(
    shared: &Rc<Shared>,
    workflow_type: &'static str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
    options: ChildWorkflowOptions,
) -> StartChildWorkflow<O> {
    let workflow_id = options.workflow_id.unwrap_or_else(|| {
        let mut state = shared.state.borrow_mut();
        state.rng.uuid4()
    });
    let mut state = shared.state.borrow_mut();
    let (scope, operation) = state.scopes.enlist();
    let seq = match arguments {
        Err(error) => {
            state.fail_task(
                PAYLOAD_ENCODE_ERROR,
                format!(
                    "workflow {:?}: the input of child workflow {workflow_type:?} does not \
                     encode as JSON: {error}",
                    shared.info.workflow_type
                ),
            );
            None
        }
        Ok(arguments) => {
            let seq = state.child_starts.allocate();
            state.push_command(Command::StartChild(StartChild {
                seq,
                workflow_id: workflow_id.clone(),
                workflow_type: workflow_type.to_owned(),
                task_queue: options.task_queue,
                arguments,
                execution_timeout: options.execution_timeout.map(to_wit_duration),
                run_timeout: options.run_timeout.map(to_wit_duration),
                task_timeout: options.task_timeout.map(to_wit_duration),
                parent_close_policy: match options.parent_close_policy {
                    ParentClosePolicy::Terminate => WitParentClosePolicy::Terminate,
                    ParentClosePolicy::Abandon => WitParentClosePolicy::Abandon,
                    ParentClosePolicy::RequestCancel => WitParentClosePolicy::RequestCancel,
                },
                id_reuse_policy: match options.id_reuse_policy {
                    WorkflowIdReusePolicy::AllowDuplicate => WitIdReusePolicy::AllowDuplicate,
                    WorkflowIdReusePolicy::AllowDuplicateFailedOnly => {
                        WitIdReusePolicy::AllowDuplicateFailedOnly
                    }
                    WorkflowIdReusePolicy::RejectDuplicate => WitIdReusePolicy::RejectDuplicate,
                },
                retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_wit),
                cancellation_type: match options.cancellation_type {
                    ChildWorkflowCancellationType::Abandon => WitCancellationType::Abandon,
                    ChildWorkflowCancellationType::TryCancel => WitCancellationType::TryCancel,
                    ChildWorkflowCancellationType::WaitCancellationCompleted => {
                        WitCancellationType::WaitCancellationCompleted
                    }
                    ChildWorkflowCancellationType::WaitCancellationRequested => {
                        WitCancellationType::WaitCancellationRequested
                    }
                },
                memo: Vec::new(),
                search_attributes: Vec::new(),
            }));
            Some(seq)
        }
    };
    StartChildWorkflow {
        child: Some(ChildWorkflowHandle {
            shared: shared.clone(),
            workflow_type,
            workflow_id,
            run_id: String::new(),
            seq,
            cancel_sent: false,
            scope,
            operation,
            output: PhantomData,
        }),
    }
}

/// Waits for a child workflow to start; resolves to its handle.
#[must_use = "a child workflow start does nothing unless awaited"]
pub struct StartChildWorkflow<O> {
    /// `None` once handed out.
    child: Option<ChildWorkflowHandle<O>>,
}

impl<O> Future for StartChildWorkflow<O> {
    type Output = Result<ChildWorkflowHandle<O>, ChildWorkflowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(child) = this.child.as_mut() else {
            return Poll::Pending;
        };
        let Some(seq) = child.seq else {
            // The input did not encode; the task is failing.
            return Poll::Pending;
        };
        child.cancel_if_scope_cancelled();
        let polled = {
            let mut state = child.shared.state.borrow_mut();
            let polled = state.child_starts.poll(seq, cx);
            if polled.is_pending() {
                state.scopes.watch(child.scope, child.operation, cx.waker());
            }
            polled
        };
        let Poll::Ready(resolution) = polled else {
            return Poll::Pending;
        };
        let Some(mut child) = this.child.take() else {
            return Poll::Pending;
        };
        Poll::Ready(match resolution {
            ChildStartResolution::Started(run_id) => {
                child.run_id = run_id;
                Ok(child)
            }
            ChildStartResolution::Failed(cause) => {
                child.seq = None;
                Err(ChildWorkflowError::start_failed(
                    child.workflow_type,
                    &child.workflow_id,
                    cause,
                ))
            }
            ChildStartResolution::Cancelled(failure) => {
                child.seq = None;
                Err(ChildWorkflowError::from_host(failure, true))
            }
        })
    }
}

impl<O> Drop for StartChildWorkflow<O> {
    fn drop(&mut self) {
        let Some(child) = &self.child else {
            return;
        };
        if let (Some(seq), Ok(mut state)) = (child.seq, child.shared.state.try_borrow_mut()) {
            state.child_starts.abandon(seq);
        }
    }
}

/// A started child workflow: await it for its result, signal it, or cancel it.
#[must_use = "a child workflow handle does nothing unless awaited"]
pub struct ChildWorkflowHandle<O> {
    shared: Rc<Shared>,
    workflow_type: &'static str,
    workflow_id: String,
    run_id: String,
    /// `None` once resolved, or if it never started.
    seq: Option<u32>,
    cancel_sent: bool,
    scope: usize,
    operation: u64,
    output: PhantomData<fn() -> O>,
}

impl<O> ChildWorkflowHandle<O> {
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The child's first run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Asks Temporal to cancel the child, as its cancellation type says; the handle still
    /// resolves (with a cancelled error, or the child's own result if it ended first).
    pub fn cancel(&mut self) {
        if self.cancel_sent {
            return;
        }
        self.cancel_sent = true;
        let Some(seq) = self.seq else {
            return;
        };
        let mut state = self.shared.state.borrow_mut();
        // A child that already ended (or never started) has nothing left to cancel, and
        // cancelling it anyway would be a command for a closed sequence number.
        let start_failed = matches!(
            state.child_starts.ready(seq),
            Some(ChildStartResolution::Failed(_) | ChildStartResolution::Cancelled(_))
        );
        if !start_failed && state.children.ready(seq).is_none() {
            state.push_command(Command::CancelChild(seq));
        }
    }

    /// Signals the child.
    pub fn signal<I: Serialize>(
        &self,
        signal: SignalDefinition<I>,
        input: &I,
    ) -> impl Future<Output = Result<(), ChildWorkflowError>> + use<O, I> {
        external_signal(
            &self.shared,
            ExternalWorkflow {
                workflow_id: self.workflow_id.clone(),
                run_id: self.run_id.clone(),
            },
            signal.name(),
            payload::encode_arguments(input),
        )
    }

    fn cancel_if_scope_cancelled(&mut self) {
        let cancelled = self
            .shared
            .state
            .borrow()
            .scopes
            .cancelled(self.scope)
            .is_some();
        if cancelled {
            self.cancel();
        }
    }
}

impl<O: DeserializeOwned> Future for ChildWorkflowHandle<O> {
    type Output = Result<O, ChildWorkflowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(seq) = this.seq else {
            return Poll::Pending;
        };
        this.cancel_if_scope_cancelled();
        let polled = {
            let mut state = this.shared.state.borrow_mut();
            let polled = state.children.poll(seq, cx);
            if polled.is_pending() {
                state.scopes.watch(this.scope, this.operation, cx.waker());
            } else {
                state.scopes.unwatch(this.scope, this.operation);
            }
            polled
        };
        let Poll::Ready(resolution) = polled else {
            return Poll::Pending;
        };
        this.seq = None;
        match resolution {
            ChildResolution::Completed(result) => {
                match payload::decode_optional::<O>(result.as_ref()) {
                    Ok(output) => Poll::Ready(Ok(output)),
                    Err(error) => {
                        let message = format!(
                            "workflow {:?}: the result of child workflow {:?} does not decode \
                             as `{}`: {error}",
                            this.shared.info.workflow_type,
                            this.workflow_type,
                            std::any::type_name::<O>(),
                        );
                        this.shared
                            .state
                            .borrow_mut()
                            .fail_task(PAYLOAD_DECODE_ERROR, message);
                        Poll::Pending
                    }
                }
            }
            ChildResolution::Failed(failure) => {
                Poll::Ready(Err(ChildWorkflowError::from_host(failure, false)))
            }
            ChildResolution::Cancelled(failure) => {
                Poll::Ready(Err(ChildWorkflowError::from_host(failure, true)))
            }
        }
    }
}

impl<O> Drop for ChildWorkflowHandle<O> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.try_borrow_mut() {
            state.scopes.unwatch(self.scope, self.operation);
            if let Some(seq) = self.seq {
                state.children.abandon(seq);
            }
        }
    }
}
