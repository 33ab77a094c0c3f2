//! A Sandglass worker: the seed's `Worker(client, task_queue, workflows, activities,
//! activity_executor)`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sandglass_declare::ActivityDefinition;
//! use sandglass_host::{Client, ConnectionSettings, Worker};
//!
//! const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
//!
//! let client = Client::connect(ConnectionSettings::from_env()).await?;
//! let worker = Worker::builder(client, "my-task-queue")
//!     .workflow_module("target/wasm32-wasip2/release/greeting_workflows.wasm")
//!     .sync_activity(GREET, |_ctx, name: String| Ok(format!("Hello, {name}!")))
//!     .build()
//!     .await?;
//! worker.run_until_ctrl_c().await?;
//! # Ok(()) }
//! ```

mod activities;
mod stats;
mod workflows;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sandglass_declare::ActivityDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    CoreRuntime, PollError, RuntimeOptions, Worker as CoreWorker, WorkerConfig,
    WorkerVersioningStrategy, WorkflowErrorType, init_worker,
};

use crate::activity::{ActivityContext, ActivityError, ActivityRegistry, ActivityThreadPool};
use crate::client::Client;
use crate::sandbox::{CodeCache, ModuleError, Sandbox, SandboxLimits, WorkflowModule};
use stats::StatsRecorder;

pub use stats::WorkerStats;
pub(crate) use workflows::WorkflowRunner;
pub use workflows::WorkflowTaskError;

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
    /// Default 100, like the seed's `ThreadPoolExecutor(max_workers=100)`.
    pub activity_threads: usize,
    /// Per-instance sandbox limits.
    pub sandbox: SandboxLimits,
    /// Where compiled modules are cached across restarts. Default:
    /// [`CodeCache::default_location`] (`~/.cache/sandglass/code`, moved or turned
    /// `off` by `SANDGLASS_CODE_CACHE`); `None` compiles every module on load.
    pub code_cache: Option<CodeCache>,
    /// On shutdown, how long running activities may go on before they are cancelled.
    /// Default `None`: no limit, [`Worker::run`] waits for them however long they take.
    ///
    /// When the period passes, each activity still running is cancelled with
    /// [`CancellationReason::WorkerShutdown`](crate::CancellationReason::WorkerShutdown);
    /// what it returns then is still reported, a cancellation as a retryable
    /// `WorkerShutdown` failure so that Temporal retries it (on another worker) at once
    /// instead of after its timeout. Cancellation is cooperative: an activity that never
    /// checks [`ActivityContext::is_cancelled`] keeps `run` waiting past the period.
    /// Workflow tasks are short and always finish; this period does not apply to them.
    pub graceful_shutdown_period: Option<Duration>,
    /// Fail the workflow, rather than its task, when replay finds nondeterminism (the
    /// Python SDK's `workflow_failure_exception_types`). Default `false`: the task fails
    /// and Temporal retries it, so deploying fixed code lets the workflow carry on.
    pub nondeterminism_fails_workflow: bool,
}

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

/// Why a worker could not be built or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    #[error("invalid worker settings: {0}")]
    Config(String),
    #[error("could not start the sandbox: {0:#}")]
    Sandbox(#[source] anyhow::Error),
    #[error(
        "no workflow module could be loaded and no activity is registered, so there is \
         nothing to serve: {0}"
    )]
    NothingToServe(#[source] ModuleError),
    #[error("the worker has no workflow modules and no activities; give it at least one")]
    Empty,
    #[error("could not start the core worker: {0:#}")]
    Core(#[source] anyhow::Error),
    #[error(
        "the worker could not register with Temporal ({0}); check that namespace exists \
         (`temporal operator namespace describe <namespace>`)"
    )]
    Validation(String),
    #[error("polling Temporal failed: {0}")]
    Poll(#[from] PollError),
}

/// Collects modules and activities for a [`Worker`].
pub struct WorkerBuilder {
    client: Client,
    task_queue: String,
    options: WorkerOptions,
    modules: Vec<PathBuf>,
    activities: ActivityRegistry,
}

impl WorkerBuilder {
    /// Serves the workflow types of the component at `path`.
    pub fn workflow_module(mut self, path: impl Into<PathBuf>) -> Self {
        self.modules.push(path.into());
        self
    }

    /// Registers a blocking activity; it runs on the activity thread pool.
    pub fn sync_activity<I, O, F>(
        mut self,
        definition: ActivityDefinition<I, O>,
        function: F,
    ) -> Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Fn(&ActivityContext, I) -> Result<O, ActivityError> + Send + Sync + 'static,
    {
        self.activities.register_sync(definition, function);
        self
    }

    /// Registers an async activity; it runs on tokio and must not block.
    pub fn async_activity<I, O, F, Fut>(
        mut self,
        definition: ActivityDefinition<I, O>,
        function: F,
    ) -> Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + 'static,
        F: Fn(ActivityContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ActivityError>> + Send + 'static,
    {
        self.activities.register_async(definition, function);
        self
    }

    pub fn options(mut self, options: WorkerOptions) -> Self {
        self.options = options;
        self
    }

    /// Loads the modules, connects the core worker and checks in with Temporal.
    ///
    /// A module that fails to load is logged with its reason and skipped, so the worker
    /// still serves the rest; it is an error only when nothing at all is left to serve.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let WorkerBuilder {
            client,
            task_queue,
            options,
            modules: paths,
            activities,
        } = self;
        if options.max_cached_workflows > 0 && options.max_concurrent_workflow_tasks < 2 {
            return Err(WorkerError::Config(
                "max_concurrent_workflow_tasks must be at least 2 while max_cached_workflows > 0"
                    .into(),
            ));
        }
        let sandbox = Sandbox::with_code_cache(options.sandbox.clone(), options.code_cache.clone())
            .map_err(WorkerError::Sandbox)?;
        let (modules, first_error) = load_modules(&sandbox, paths).await;
        if modules.is_empty() && activities.is_empty() {
            return Err(match first_error {
                Some(error) => WorkerError::NothingToServe(error),
                None => WorkerError::Empty,
            });
        }

        let runtime = CoreRuntime::new_assume_tokio(
            RuntimeOptions::builder()
                .build()
                .map_err(WorkerError::Config)?,
        )
        .map_err(WorkerError::Core)?;
        let namespace = client.namespace().to_owned();
        let config = WorkerConfig::builder()
            .namespace(namespace.clone())
            .task_queue(task_queue.clone())
            .client_identity_override(client.settings().identity.clone())
            .max_cached_workflows(options.max_cached_workflows)
            .max_outstanding_workflow_tasks(options.max_concurrent_workflow_tasks)
            .max_outstanding_activities(options.activity_threads)
            .max_outstanding_local_activities(options.activity_threads)
            .max_outstanding_nexus_tasks(1usize)
            .task_types(WorkerTaskTypes {
                enable_workflows: !modules.is_empty(),
                // Local activities run where their workflow runs.
                enable_local_activities: !modules.is_empty(),
                enable_remote_activities: !activities.is_empty(),
                enable_nexus: false,
            })
            .versioning_strategy(WorkerVersioningStrategy::None {
                build_id: format!("sandglass-{}", env!("CARGO_PKG_VERSION")),
            })
            .maybe_graceful_shutdown_period(options.graceful_shutdown_period)
            .workflow_failure_errors(if options.nondeterminism_fails_workflow {
                HashSet::from([WorkflowErrorType::Nondeterminism])
            } else {
                HashSet::new()
            })
            .build()
            .map_err(WorkerError::Config)?;
        let core = init_worker(&runtime, config, client.connection().clone())
            .map_err(WorkerError::Core)?;
        core.validate()
            .await
            .map_err(|error| WorkerError::Validation(error.to_string()))?;
        let core = Arc::new(core);

        let stats = Arc::new(StatsRecorder::default());
        let workflows = (!modules.is_empty()).then(|| {
            Arc::new(
                WorkflowRunner::new(sandbox.clone(), modules, task_queue.clone(), namespace)
                    .with_stats(stats.clone()),
            )
        });
        // Workflows need the activity runner too, for their local activities.
        let activities = (!activities.is_empty() || workflows.is_some()).then(|| {
            Arc::new(activities::ActivityRunner::new(
                activities,
                // One thread per activity slot and per local activity slot.
                ActivityThreadPool::new(options.activity_threads.saturating_mul(2)),
                task_queue.clone(),
                stats.clone(),
            ))
        });
        Ok(Worker {
            core,
            workflows,
            activities,
            task_queue,
            stats,
            _runtime: runtime,
        })
    }
}

/// Loads each module off the async threads (compiling is CPU-bound); later modules do
/// not take over a workflow type an earlier one already serves.
async fn load_modules(
    sandbox: &Sandbox,
    paths: Vec<PathBuf>,
) -> (BTreeMap<String, WorkflowModule>, Option<ModuleError>) {
    let mut by_type = BTreeMap::new();
    let mut first_error = None;
    for path in paths {
        let loader = sandbox.clone();
        let loaded = tokio::task::spawn_blocking(move || WorkflowModule::from_file(&loader, path))
            .await
            .unwrap_or_else(|join_error| {
                Err(ModuleError::Read {
                    path: PathBuf::from("<module loader>"),
                    source: std::io::Error::other(join_error.to_string()),
                })
            });
        match loaded {
            Ok(module) => {
                tracing::info!(module = module.origin(), digest = module.digest(), workflow_types = ?module.workflow_types(), "loaded workflow module");
                for workflow_type in module.workflow_types() {
                    if let Some(existing) = by_type.get(workflow_type) {
                        let existing: &WorkflowModule = existing;
                        tracing::error!(
                            workflow_type,
                            kept = existing.origin(),
                            ignored = module.origin(),
                            "two modules define the same workflow type; keeping the first"
                        );
                        continue;
                    }
                    by_type.insert(workflow_type.clone(), module.clone());
                }
            }
            Err(error) => {
                tracing::error!(%error, "workflow module not loaded; the worker serves the rest");
                first_error.get_or_insert(error);
            }
        }
    }
    (by_type, first_error)
}

/// A running worker bound to one task queue.
pub struct Worker {
    core: Arc<CoreWorker>,
    workflows: Option<Arc<WorkflowRunner>>,
    activities: Option<Arc<activities::ActivityRunner>>,
    task_queue: String,
    stats: Arc<StatsRecorder>,
    _runtime: CoreRuntime,
}

/// Stops a worker from another task. Cheap to clone.
///
/// Shutdown goes like the other Temporal SDKs':
/// 1. The worker stops polling: it takes no new tasks (a task the server had already
///    handed out is still run) and Temporal sends the task queue's work to other workers.
/// 2. Running activities see [`ActivityContext::is_worker_shutdown`] and may finish;
///    every result is reported to Temporal. Running workflow activations finish too.
/// 3. If [`WorkerOptions::graceful_shutdown_period`] is set and passes first, the
///    activities still running are cancelled and, once they return, reported as
///    retryable failures.
///
/// Then [`Worker::run`] returns.
#[derive(Clone)]
pub struct ShutdownHandle {
    core: Arc<CoreWorker>,
    activities: Option<Arc<activities::ActivityRunner>>,
}

impl ShutdownHandle {
    /// Begins shutdown and returns at once; [`Worker::run`] returns when it is done.
    /// Calling it again does nothing more.
    pub fn shutdown(&self) {
        self.core.initiate_shutdown();
        if let Some(activities) = &self.activities {
            activities.begin_shutdown();
        }
    }
}

impl Worker {
    pub fn builder(client: Client, task_queue: impl Into<String>) -> WorkerBuilder {
        WorkerBuilder {
            client,
            task_queue: task_queue.into(),
            options: WorkerOptions::default(),
            modules: Vec::new(),
            activities: ActivityRegistry::default(),
        }
    }

    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// The workflow types this worker serves.
    pub fn workflow_types(&self) -> Vec<String> {
        self.workflows
            .as_ref()
            .map(|w| w.workflow_types().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Workflow runs whose instances are cached right now.
    pub fn cached_workflows(&self) -> usize {
        self.workflows.as_ref().map_or(0, |w| w.cached_runs())
    }

    /// Where this worker's time went so far: guest, instantiation, conversion and
    /// activities (the rest of its CPU is core, gRPC and the runtime).
    pub fn stats(&self) -> WorkerStats {
        self.stats.snapshot()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            core: self.core.clone(),
            activities: self.activities.clone(),
        }
    }

    /// Serves until shut down through a [`ShutdownHandle`], then drains as
    /// [`ShutdownHandle`] describes: running activations and activities finish (or, past
    /// the [grace period](WorkerOptions::graceful_shutdown_period), are cancelled) and
    /// are reported before it returns. If polling fails, it shuts down the same way and
    /// returns the error.
    pub async fn run(&self) -> Result<(), WorkerError> {
        let handle = self.shutdown_handle();
        let stop_on_error = |result: Result<(), PollError>| {
            if result.is_err() {
                handle.shutdown();
            }
            result
        };
        let workflows = async {
            match &self.workflows {
                Some(runner) => stop_on_error(runner.clone().run(self.core.clone()).await),
                None => Ok(()),
            }
        };
        let activities = async {
            match &self.activities {
                Some(runner) => stop_on_error(runner.clone().run(self.core.clone()).await),
                None => Ok(()),
            }
        };
        let (workflows, activities) = tokio::join!(workflows, activities);
        self.core.shutdown().await;
        self.unregister_from_client();
        workflows?;
        activities?;
        Ok(())
    }

    /// The end of core's `finalize_shutdown`, which takes the core worker by value while
    /// shutdown handles share it. Without it the connection keeps the stopped worker
    /// registered, and its worker heartbeats going to the server, for as long as the
    /// connection lives.
    fn unregister_from_client(&self) {
        let Some(connection) = self.core.get_client_connection() else {
            return;
        };
        if let Err(error) = connection
            .workers()
            .finalize_unregister(self.core.worker_instance_key())
        {
            tracing::debug!(%error, "worker already unregistered from its connection");
        }
    }

    /// Like [`Worker::run`], and shuts down gracefully on Ctrl-C (SIGINT) or SIGTERM, as
    /// [`ShutdownHandle::shutdown`] does. A second signal does not cut the grace short;
    /// stop the process some other way (SIGKILL) if it must end at once.
    pub async fn run_until_ctrl_c(&self) -> Result<(), WorkerError> {
        let handle = self.shutdown_handle();
        let signal = tokio::spawn(async move {
            wait_for_stop_signal().await;
            tracing::info!("stop signal received; finishing running work");
            handle.shutdown();
        });
        let result = self.run().await;
        signal.abort();
        result
    }
}

async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
