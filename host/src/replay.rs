//! Replaying recorded histories against workflow modules, in process.
//!
//! Replay is how a change to workflow code is proven safe: core feeds the recorded
//! events to the module and compares the commands it produces with the ones in the
//! history. A mismatch is nondeterminism, reported with core's description of the
//! event and command that differ.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use temporalio_common::protos::coresdk::workflow_activation::remove_from_cache::EvictionReason;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::replay::{HistoryForReplay, ReplayWorkerInput};
use temporalio_sdk_core::{WorkerConfig, WorkerVersioningStrategy, init_replay_worker};

use crate::runner::WorkflowRunner;
use crate::sandbox::{Sandbox, WorkflowModule};

const REPLAY_NAMESPACE: &str = "ReplayNamespace";
const REPLAY_TASK_QUEUE: &str = "ReplayTaskQueue";

/// Why a history did not replay cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The module made different decisions than the ones recorded: the code changed in
    /// a way that breaks running workflows (use patching, or a new workflow type).
    #[error("nondeterminism: {message}")]
    Nondeterminism { message: String },
    /// The module failed a workflow task (a trap, a panic, bad input); not a
    /// determinism problem.
    #[error("workflow task failed during replay: {message}")]
    WorkflowTaskFailed { message: String },
    #[error("replay stopped unexpectedly ({reason}): {message}")]
    Internal { reason: String, message: String },
    #[error("could not set up replay: {0:#}")]
    Setup(#[source] anyhow::Error),
}

/// Replays histories against a fixed set of modules.
pub struct Replayer {
    sandbox: Sandbox,
    modules: BTreeMap<String, WorkflowModule>,
}

impl Replayer {
    /// `modules` must come from `sandbox`; a workflow type defined twice keeps the first.
    pub fn new(sandbox: Sandbox, modules: impl IntoIterator<Item = WorkflowModule>) -> Self {
        let mut by_type = BTreeMap::new();
        for module in modules {
            for workflow_type in module.workflow_types() {
                by_type
                    .entry(workflow_type.clone())
                    .or_insert_with(|| module.clone());
            }
        }
        Self {
            sandbox,
            modules: by_type,
        }
    }

    /// Replays one history. Must be called within a tokio runtime.
    pub async fn replay(
        &self,
        history: History,
        workflow_id: impl Into<String>,
    ) -> Result<(), ReplayError> {
        let config = WorkerConfig::builder()
            .namespace(REPLAY_NAMESPACE)
            .task_queue(REPLAY_TASK_QUEUE)
            .max_outstanding_workflow_tasks(2usize)
            .max_outstanding_activities(1usize)
            .max_outstanding_local_activities(1usize)
            .max_outstanding_nexus_tasks(1usize)
            .task_types(WorkerTaskTypes {
                enable_workflows: true,
                enable_local_activities: false,
                enable_remote_activities: false,
                enable_nexus: false,
            })
            .versioning_strategy(WorkerVersioningStrategy::None {
                build_id: "sandglass-replay".into(),
            })
            .build()
            .map_err(|message| ReplayError::Setup(anyhow::anyhow!(message)))?;
        let histories = futures::stream::iter([HistoryForReplay::new(history, workflow_id)]);
        let core = init_replay_worker(ReplayWorkerInput::new(config, histories))
            .map_err(ReplayError::Setup)?;
        let core = Arc::new(core);

        let failures: Arc<Mutex<Vec<ReplayError>>> = Arc::default();
        let observer = {
            let failures = failures.clone();
            Arc::new(
                move |_run_id: &str, reason: EvictionReason, message: &str| {
                    let failure = match reason {
                        EvictionReason::CacheFull | EvictionReason::LangRequested => return,
                        EvictionReason::Nondeterminism => ReplayError::Nondeterminism {
                            message: core_failure_message(message).to_owned(),
                        },
                        EvictionReason::LangFail => ReplayError::WorkflowTaskFailed {
                            message: message.to_owned(),
                        },
                        other => ReplayError::Internal {
                            reason: format!("{other:?}"),
                            message: message.to_owned(),
                        },
                    };
                    failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(failure);
                },
            )
        };
        let runner = Arc::new(
            WorkflowRunner::new(
                self.sandbox.clone(),
                self.modules.clone(),
                REPLAY_TASK_QUEUE.into(),
                REPLAY_NAMESPACE.into(),
            )
            .observe_evictions(observer)
            .run_guest_inline(),
        );
        let polled = runner.run(core.clone()).await;
        core.shutdown().await;
        if let Err(error) = polled {
            return Err(ReplayError::Setup(error.into()));
        }
        let mut failures = failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.drain(..).next() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

/// Core reports a nondeterministic replay as the debug form of the failure it sent
/// (`... Failure { message: "[TMPRL1100] ...", source: ... }`); the quoted message is
/// the part that names the event and the command that differ.
fn core_failure_message(text: &str) -> &str {
    const START: &str = "message: \"";
    let Some(start) = text.find(START).map(|i| i + START.len()) else {
        return text;
    };
    match text[start..].find("\", source: ") {
        Some(len) => &text[start..start + len],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_cores_nondeterminism_message() {
        let text = "Workflow activation completion failed: Failure { failure: Some(Failure { \
                    message: \"[TMPRL1100] Nondeterminism error: Timer machine does not handle \
                    this event: HistoryEvent(id: 5, ActivityTaskScheduled)\", source: \"\" }) }";
        assert_eq!(
            core_failure_message(text),
            "[TMPRL1100] Nondeterminism error: Timer machine does not handle this event: \
             HistoryEvent(id: 5, ActivityTaskScheduled)"
        );
        assert_eq!(core_failure_message("plain"), "plain");
    }
}
