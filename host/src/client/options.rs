//! How a workflow is started: its id, task queue, timeouts and id policies.

use std::time::Duration;

use temporalio_common::protos::temporal::api::enums::v1::{
    WorkflowIdConflictPolicy as ProtoIdConflictPolicy, WorkflowIdReusePolicy as ProtoIdReusePolicy,
};

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
    pub id_reuse_policy: WorkflowIdReusePolicy,
    /// What to do when a run with the id is still open. Default: fail with
    /// [`ClientError::AlreadyStarted`](crate::ClientError::AlreadyStarted).
    pub id_conflict_policy: WorkflowIdConflictPolicy,
}

impl WorkflowOptions {
    pub fn new(id: impl Into<String>, task_queue: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            task_queue: task_queue.into(),
            execution_timeout: None,
            run_timeout: None,
            task_timeout: None,
            id_reuse_policy: WorkflowIdReusePolicy::default(),
            id_conflict_policy: WorkflowIdConflictPolicy::default(),
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

    pub fn with_id_reuse_policy(mut self, policy: WorkflowIdReusePolicy) -> Self {
        self.id_reuse_policy = policy;
        self
    }

    pub fn with_id_conflict_policy(mut self, policy: WorkflowIdConflictPolicy) -> Self {
        self.id_conflict_policy = policy;
        self
    }

    /// The two policies as the server takes them on a start request.
    ///
    /// The server refuses the deprecated `TerminateIfRunning` together with any
    /// conflict policy, so with the default conflict policy (`Fail`) none is sent;
    /// `TerminateIfRunning` already decides what happens to a running workflow.
    pub(super) fn start_policies(&self) -> (ProtoIdReusePolicy, ProtoIdConflictPolicy) {
        let conflict = match (self.id_reuse_policy, self.id_conflict_policy) {
            (WorkflowIdReusePolicy::TerminateIfRunning, WorkflowIdConflictPolicy::Fail) => {
                ProtoIdConflictPolicy::Unspecified
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
pub enum WorkflowIdReusePolicy {
    /// Any closed run's id may be used again (the server's default).
    #[default]
    AllowDuplicate,
    /// Only if the last run did not complete successfully (failed, was cancelled or
    /// terminated, or timed out): retry a failed business operation, never redo a done one.
    AllowDuplicateFailedOnly,
    /// Never: the id names one run for the namespace's retention period.
    RejectDuplicate,
    /// Terminate a running workflow with the id and start anew. Deprecated by
    /// Temporal in favour of [`WorkflowIdConflictPolicy::TerminateExisting`](crate::WorkflowIdConflictPolicy::TerminateExisting); it cannot be
    /// combined with a conflict policy other than the default.
    TerminateIfRunning,
}

impl WorkflowIdReusePolicy {
    fn to_proto(self) -> ProtoIdReusePolicy {
        match self {
            Self::AllowDuplicate => ProtoIdReusePolicy::AllowDuplicate,
            Self::AllowDuplicateFailedOnly => ProtoIdReusePolicy::AllowDuplicateFailedOnly,
            Self::RejectDuplicate => ProtoIdReusePolicy::RejectDuplicate,
            #[allow(deprecated)]
            Self::TerminateIfRunning => ProtoIdReusePolicy::TerminateIfRunning,
        }
    }
}

/// What starting a workflow does when a run with its id is still open (the Python
/// SDK's `WorkflowIDConflictPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkflowIdConflictPolicy {
    /// Fail with [`ClientError::AlreadyStarted`](crate::ClientError::AlreadyStarted). For
    /// [`Client::signal_with_start`](crate::Client::signal_with_start) this means [`UseExisting`](Self::UseExisting):
    /// signalling the running workflow is what signal-with-start is for.
    #[default]
    Fail,
    /// Return a handle to the running workflow instead of starting another.
    UseExisting,
    /// Terminate the running workflow and start a new run.
    TerminateExisting,
}

impl WorkflowIdConflictPolicy {
    fn to_proto(self) -> ProtoIdConflictPolicy {
        match self {
            Self::Fail => ProtoIdConflictPolicy::Fail,
            Self::UseExisting => ProtoIdConflictPolicy::UseExisting,
            Self::TerminateExisting => ProtoIdConflictPolicy::TerminateExisting,
        }
    }
}

pub(super) fn to_proto_duration(duration: Duration) -> Option<prost_wkt_types::Duration> {
    prost_wkt_types::Duration::try_from(duration).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_default_to_allow_duplicate_and_fail() {
        let options = WorkflowOptions::new("id", "queue");
        assert_eq!(
            options.start_policies(),
            (
                ProtoIdReusePolicy::AllowDuplicate,
                ProtoIdConflictPolicy::Fail
            )
        );
        let options = options
            .with_id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .with_id_conflict_policy(WorkflowIdConflictPolicy::UseExisting);
        assert_eq!(
            options.start_policies(),
            (
                ProtoIdReusePolicy::RejectDuplicate,
                ProtoIdConflictPolicy::UseExisting
            )
        );
    }

    #[test]
    #[allow(deprecated)]
    fn terminate_if_running_sends_no_default_conflict_policy() {
        let options = WorkflowOptions::new("id", "queue")
            .with_id_reuse_policy(WorkflowIdReusePolicy::TerminateIfRunning);
        assert_eq!(
            options.start_policies(),
            (
                ProtoIdReusePolicy::TerminateIfRunning,
                ProtoIdConflictPolicy::Unspecified
            )
        );
    }
}
