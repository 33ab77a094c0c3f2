//! Other workflows, by id: signals to them and requests to cancel them.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use sandglass_declare::failure_types::PAYLOAD_ENCODE_ERROR;
use serde::Serialize;

use crate::bindings::exports::sandglass::workflow::guest::{
    CancelExternal, Command, ExternalWorkflow, SignalExternal,
};
use crate::bindings::sandglass::workflow::types::Payload;
use crate::state::Shared;
use crate::{ChildWorkflowError, SignalDefinition, payload};

/// Another workflow, by id: signal it or ask it to cancel.
#[derive(Clone)]
pub struct ExternalWorkflowHandle {
    shared: Rc<Shared>,
    workflow: ExternalWorkflow,
}

impl ExternalWorkflowHandle {
    pub(crate) fn new(shared: &Rc<Shared>, workflow_id: String, run_id: Option<String>) -> Self {
        Self {
            shared: shared.clone(),
            workflow: ExternalWorkflow {
                workflow_id,
                run_id: run_id.unwrap_or_default(),
            },
        }
    }

    pub fn workflow_id(&self) -> &str {
        &self.workflow.workflow_id
    }

    /// Signals the workflow; resolves once the server has delivered it, or with why not
    /// (e.g. the workflow does not exist or has closed).
    pub fn signal<I: Serialize>(
        &self,
        signal: SignalDefinition<I>,
        input: &I,
    ) -> impl Future<Output = Result<(), ChildWorkflowError>> + use<I> {
        external_signal(
            &self.shared,
            self.workflow.clone(),
            signal.name(),
            payload::encode_arguments(input),
        )
    }

    /// Asks the workflow to cancel; resolves once the server has recorded the request.
    pub fn cancel(&self, reason: &str) -> impl Future<Output = Result<(), ChildWorkflowError>> {
        let mut state = self.shared.state.borrow_mut();
        let seq = state.externals.allocate();
        state.push_command(Command::CancelExternal(CancelExternal {
            seq,
            workflow: self.workflow.clone(),
            reason: reason.to_owned(),
        }));
        ExternalDone {
            shared: self.shared.clone(),
            seq: Some(seq),
        }
    }
}

pub(crate) fn external_signal(
    shared: &Rc<Shared>,
    workflow: ExternalWorkflow,
    signal_name: &str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
) -> ExternalDone {
    let mut state = shared.state.borrow_mut();
    let arguments = match arguments {
        Ok(arguments) => arguments,
        Err(error) => {
            state.fail_task(
                PAYLOAD_ENCODE_ERROR,
                format!(
                    "workflow {:?}: the input of signal {signal_name:?} does not encode as \
                     JSON: {error}",
                    shared.info.workflow_type
                ),
            );
            return ExternalDone {
                shared: shared.clone(),
                seq: None,
            };
        }
    };
    let seq = state.externals.allocate();
    state.push_command(Command::SignalExternal(SignalExternal {
        seq,
        workflow,
        signal_name: signal_name.to_owned(),
        arguments,
    }));
    ExternalDone {
        shared: shared.clone(),
        seq: Some(seq),
    }
}

/// Waits for a signal to, or a cancellation request of, another workflow to be recorded.
pub(crate) struct ExternalDone {
    shared: Rc<Shared>,
    /// `None` once resolved, or when nothing was sent (the task is failing).
    seq: Option<u32>,
}

impl Future for ExternalDone {
    type Output = Result<(), ChildWorkflowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(seq) = this.seq else {
            return Poll::Pending;
        };
        let polled = this.shared.state.borrow_mut().externals.poll(seq, cx);
        let Poll::Ready(failure) = polled else {
            return Poll::Pending;
        };
        this.seq = None;
        Poll::Ready(match failure {
            None => Ok(()),
            Some(failure) => Err(ChildWorkflowError::from_host(failure, false)),
        })
    }
}

impl Drop for ExternalDone {
    fn drop(&mut self) {
        if let (Some(seq), Ok(mut state)) = (self.seq, self.shared.state.try_borrow_mut()) {
            state.externals.abandon(seq);
        }
    }
}
