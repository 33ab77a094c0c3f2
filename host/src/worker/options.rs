//! A worker's settings.

use std::time::Duration;

use crate::sandbox::{CodeCache, SandboxLimits};

/// Worker settings, with the Python SDK's defaults where it has one.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Workflow runs kept in memory between tasks (sticky cache). Default 1000; an
    /// evicted run is rebuilt by replaying its history.
    pub max_cached_workflows: usize,
    /// Workflow tasks processed at once. Default 100; must be at least 2 while caching.
    pub max_concurrent_workflow_tasks: usize,
    /// The number of activities (sync and async together) the worker accepts at once,
    /// and as many local activities again; the sync pool has a thread for each of
    /// those slots (spawned as needed), so a sync activity never waits for a thread.
    /// Default 100, like the Python SDK's `ThreadPoolExecutor(max_workers=100)`.
    pub activity_threads: usize,
    /// Per-instance sandbox limits.
    pub sandbox: SandboxLimits,
    /// Where compiled modules are cached across restarts. Default:
    /// [`CodeCache::default_location`] (`~/.cache/sandglass/code`, moved or turned
    /// `off` by `SANDGLASS_CODE_CACHE`); `None` compiles every module on load.
    pub code_cache: Option<CodeCache>,
    /// On shutdown, how long running activities may go on before they are cancelled.
    /// Default `None`: no limit, [`Worker::run`](crate::Worker::run) waits for them however long they take.
    ///
    /// When the period passes, each activity still running is cancelled with
    /// [`CancellationReason::WorkerShutdown`](crate::CancellationReason::WorkerShutdown);
    /// what it returns then is still reported, a cancellation as a retryable
    /// `WorkerShutdown` failure so that Temporal retries it (on another worker) at once
    /// instead of after its timeout. Cancellation is cooperative: an activity that never
    /// checks [`ActivityContext::is_cancelled`](crate::ActivityContext::is_cancelled) keeps `run` waiting past the period.
    /// Workflow tasks are short and always finish; this period does not apply to them.
    pub graceful_shutdown_period: Option<Duration>,
    /// Fail the workflow, rather than its task, when replay finds nondeterminism (the
    /// Python SDK's `workflow_failure_exception_types`). Default `false`: the task fails
    /// and Temporal retries it, so deploying fixed code lets the workflow carry on.
    pub nondeterminism_fails_workflow: bool,
}

with_setters!(WorkerOptions {
    with_max_cached_workflows(max_cached_workflows: usize),
    with_max_concurrent_workflow_tasks(max_concurrent_workflow_tasks: usize),
    with_activity_threads(activity_threads: usize),
    with_sandbox(sandbox: SandboxLimits),
    with_code_cache(code_cache: Option<CodeCache>),
    with_graceful_shutdown_period(graceful_shutdown_period: Some(Duration)),
    with_nondeterminism_fails_workflow(nondeterminism_fails_workflow: bool),
});

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            max_cached_workflows: 1000,
            max_concurrent_workflow_tasks: 100,
            activity_threads: 100,
            sandbox: SandboxLimits::default(),
            code_cache: CodeCache::default_location(),
            graceful_shutdown_period: None,
            nondeterminism_fails_workflow: false,
        }
    }
}
