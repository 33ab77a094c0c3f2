//! Hot reload: new workflow code in a running worker without breaking the executions
//! already running.
//!
//! A worker built with [`WorkerBuilder::workflow_dir`](crate::WorkerBuilder::workflow_dir)
//! serves the `*.wasm` components of one directory. The set of modules there is a
//! **version**, named by a build id derived from the modules' digests, so the same
//! files make the same version on every worker and after every restart.
//!
//! When the directory changes (a scan every [`ReloadOptions::scan_interval`], SIGHUP, or
//! [`ReloadHandle::reload`]) the worker:
//!
//! 1. reads and compiles the changed files off the polling tasks, from the on-disk code
//!    cache when it has seen the digest before;
//! 2. validates the new version: every module implements the WIT version this host
//!    supports and lists its workflow types; no type is defined twice; and the histories
//!    of the open executions on this task queue that will move to it (those not pinned:
//!    [`VersioningPolicy::AutoUpgrade`] ones, and any started before the deployment
//!    existed) replay without nondeterminism, at most [`ReloadOptions::replay_check_limit`]
//!    per workflow type, skipping types whose module did not change;
//! 3. starts polling as the new version and makes it the deployment's current version,
//!    so new executions start on it.
//!
//! Validation also refuses a version that lacks a workflow type an open, movable
//! execution has. At startup the worker does not roll the deployment back to a version
//! the server knows and another version replaced (a restarted old worker in a rolling
//! deploy); a reload while running does, since someone changed the directory. A version
//! is made current only if the current version is still the one it was checked against.
//!
//! A file that does not load leaves its previous module in place; a version that fails
//! validation is not activated. Either way the worker logs why, the outcome says so, and
//! the previous version keeps serving.
//!
//! # Versions are Temporal worker deployment versions
//!
//! Each version polls as a [worker deployment version] (deployment name: the task queue,
//! unless [`ReloadOptions::deployment_name`] says otherwise; build id: the version's).
//! Temporal then does what pinning needs, durably and across workers: it records the
//! version each execution runs on, routes each workflow task (and the activities it
//! schedules) to pollers of that version, keeps [`VersioningPolicy::Pinned`] executions on
//! the version they started on and moves [`VersioningPolicy::AutoUpgrade`] ones to the
//! current version at their next task. A cache eviction or a restart changes nothing,
//! because the version is on the server; several workers on one task queue share it.
//! The alternative, recording the version in each run's memo and routing inside the
//! worker, cannot send a task to another worker that has the version, and would add an
//! event to every history.
//!
//! What Temporal cannot keep is the code. The worker copies each module it activates
//! into a [`ModuleStore`] by digest; when it starts, it asks the server which versions
//! of its deployment are still current or draining and polls for each one it has in the
//! store, so executions pinned to a version no longer in the directory go on after a
//! restart. A version is unloaded once the server reports it drained.
//!
//! [worker deployment version]: https://docs.temporal.io/worker-versioning

mod deployment;
mod directory;
mod host;
mod reloader;
mod replay_check;
mod retry;
mod store;
mod version;

use std::path::PathBuf;
use std::time::Duration;

use temporalio_common::worker::VersioningBehavior;
use tokio::sync::{mpsc, oneshot, watch};

use crate::sandbox::ModuleError;

pub(crate) use host::{PollAs, VersionHost};
pub(crate) use reloader::Reloader;
pub use store::ModuleStore;

/// How running executions of a workflow type move when a new version takes over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersioningPolicy {
    /// Each execution finishes on the version it started on; old versions stay loaded
    /// while they have executions. Any code change is safe.
    #[default]
    Pinned,
    /// Running executions move to the new version at their next workflow task, once it
    /// has replayed their histories cleanly. The change must be replay-compatible (or
    /// guarded by `ctx.patched`).
    AutoUpgrade,
}

impl VersioningPolicy {
    pub(crate) fn behavior(self) -> VersioningBehavior {
        match self {
            Self::Pinned => VersioningBehavior::Pinned,
            Self::AutoUpgrade => VersioningBehavior::AutoUpgrade,
        }
    }
}

impl std::str::FromStr for VersioningPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pinned" => Ok(Self::Pinned),
            "auto-upgrade" => Ok(Self::AutoUpgrade),
            other => Err(format!(
                "unknown versioning policy {other:?}; use `pinned` or `auto-upgrade`"
            )),
        }
    }
}

/// How a hot-reloading worker watches its directory and versions what it finds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReloadOptions {
    /// The worker deployment the versions belong to. Default: the task queue's name.
    /// Workers that share a task queue should share it.
    pub deployment_name: Option<String>,
    /// The policy of workflow types not listed in `policies`. Default: pinned.
    pub policy: VersioningPolicy,
    /// Policies by workflow type.
    pub policies: Vec<(String, VersioningPolicy)>,
    /// How often the directory is scanned for changes. Default 1 s; `None` reloads only
    /// when asked ([`ReloadHandle`], or SIGHUP under
    /// [`Worker::run_until_ctrl_c`](crate::Worker::run_until_ctrl_c)).
    pub scan_interval: Option<Duration>,
    /// Most open executions per workflow type whose histories a new version must replay
    /// before it may take over auto-upgrade executions. Default 100; the most recently
    /// started are checked.
    pub replay_check_limit: usize,
    /// Where activated modules are kept, so that executions pinned to a version outlive
    /// its file and a restart. Default [`ModuleStore::default_location`]; `None` keeps
    /// nothing (pinned executions of a version whose file is gone then wait for a worker
    /// that has it).
    pub module_store: Option<ModuleStore>,
}

impl Default for ReloadOptions {
    fn default() -> Self {
        Self {
            deployment_name: None,
            policy: VersioningPolicy::Pinned,
            policies: Vec::new(),
            scan_interval: Some(Duration::from_secs(1)),
            replay_check_limit: 100,
            module_store: ModuleStore::default_location(),
        }
    }
}

with_setters!(ReloadOptions {
    with_deployment_name(deployment_name: Some(String)),
    with_policy(policy: VersioningPolicy),
    with_policies(policies: Vec<(String, VersioningPolicy)>),
    with_scan_interval(scan_interval: Option<Duration>),
    with_replay_check_limit(replay_check_limit: usize),
    with_module_store(module_store: Option<ModuleStore>),
});

impl ReloadOptions {
    /// The policy of `workflow_type`.
    pub fn policy_of(&self, workflow_type: &str) -> VersioningPolicy {
        self.policies
            .iter()
            .find(|(name, _)| name == workflow_type)
            .map_or(self.policy, |(_, policy)| *policy)
    }
}

/// Why a hot-reloading worker could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    #[error("workflow directory {dir} is not a readable directory: {source}")]
    Directory {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the worker stopped before the reload ran")]
    Stopped,
}

/// Something a reload could not take on; the worker goes on with what it had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadProblem {
    #[error("cannot scan workflow directory {dir}: {source}")]
    Directory {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} was not loaded, so its previous module (if any) stays: {source}")]
    BrokenModule {
        path: PathBuf,
        #[source]
        source: ModuleError,
    },
    #[error(
        "workflow type {workflow_type:?} is defined by both {first} and {second}; a version \
         defines each type once, so remove it from one module"
    )]
    DuplicateType {
        workflow_type: String,
        first: String,
        second: String,
    },
    #[error(
        "version {build_id} was rejected: open execution {workflow_id} (run {run_id}) of \
         {workflow_type:?}, an auto-upgrade type, does not replay on it: {message}. The \
         previous version keeps serving; make the change compatible (guard it with \
         `ctx.patched`), or make the type pinned"
    )]
    Incompatible {
        build_id: String,
        workflow_type: String,
        workflow_id: String,
        run_id: String,
        message: String,
    },
    #[error(
        "version {build_id} was rejected: could not check it against the open executions \
         of {workflow_type:?}: {message}"
    )]
    ReplayCheck {
        build_id: String,
        workflow_type: String,
        message: String,
    },
    #[error(
        "version {build_id} was rejected: it does not define {workflow_type:?}, but open \
         execution {workflow_id} of that type would move to it and fail every task. The \
         previous version keeps serving; keep the type until its executions finish, or \
         make them pinned"
    )]
    Stranded {
        build_id: String,
        workflow_type: String,
        workflow_id: String,
    },
    #[error(
        "the directory holds version {build_id}, which the deployment knows but another \
         version, {current}, replaced; not rolling back at startup. Touch the file or \
         send SIGHUP to make it current anyway"
    )]
    Superseded { build_id: String, current: String },
    #[error(
        "version {build_id} was not made current: another worker made {now} current \
         meanwhile; it is checked again against that version at the next reload"
    )]
    Conflict { build_id: String, now: String },
    #[error("version {build_id} could not start serving (retried with backoff): {message}")]
    Activation { build_id: String, message: String },
}

impl ReloadProblem {
    /// Whether trying again later, without any change, may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Directory { .. }
                | Self::ReplayCheck { .. }
                | Self::Conflict { .. }
                | Self::Activation { .. }
        )
    }
}

/// What one reload did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ReloadOutcome {
    /// The version serving new executions afterwards, if any.
    pub current: Option<String>,
    /// Whether a new version took over in this reload.
    pub activated: bool,
    /// Histories replayed to validate the new version.
    pub replayed: usize,
    pub problems: Vec<ReloadProblem>,
}

/// A version the worker serves, for logs, metrics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionReport {
    pub build_id: String,
    /// Whether new executions start on it.
    pub current: bool,
    /// `(origin, digest)` of each module.
    pub modules: Vec<(String, String)>,
    pub workflow_types: Vec<String>,
    /// Runs of this version whose instances are cached on this worker now.
    pub cached_runs: usize,
    /// Open executions on this version across all workers, by the server's visibility,
    /// as of the last check (every 10 s); `None` before the first.
    pub open_executions: Option<u64>,
}

/// Asks a hot-reloading worker to rescan its directory now. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReloadHandle {
    requests: mpsc::UnboundedSender<Option<oneshot::Sender<ReloadOutcome>>>,
    started: watch::Receiver<bool>,
}

impl ReloadHandle {
    /// Rescans in the background; see the worker's log for the outcome.
    pub fn trigger(&self) {
        let _ = self.requests.send(None);
    }

    /// Resolves once the running worker has restored its versions and loaded its
    /// directory (whatever came of it).
    pub async fn started(&self) -> Result<(), ReloadError> {
        let mut started = self.started.clone();
        started
            .wait_for(|started| *started)
            .await
            .map(|_| ())
            .map_err(|_| ReloadError::Stopped)
    }

    /// Rescans and returns what happened, once the new version (if any) serves.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let (reply, outcome) = oneshot::channel();
        self.requests
            .send(Some(reply))
            .map_err(|_| ReloadError::Stopped)?;
        outcome.await.map_err(|_| ReloadError::Stopped)
    }
}
