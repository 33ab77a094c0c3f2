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
use crate::sandbox::{ModuleError, Sandbox, SandboxLimits, WorkflowModule};

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
    /// Threads in the sync activity pool, and also the number of activities (sync and
    /// async together) the worker accepts at once, so a sync activity never waits for a
    /// thread. Default 100, like the seed's `ThreadPoolExecutor(max_workers=100)`.
    pub activity_threads: usize,
    /// Per-instance sandbox limits.
    pub sandbox: SandboxLimits,
    /// On shutdown, how long running activities may finish before core cancels them.
    /// Default: no limit (wait for them).
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
        let sandbox = Sandbox::new(options.sandbox.clone()).map_err(WorkerError::Sandbox)?;
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
                enable_local_activities: false,
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

        let workflows = (!modules.is_empty()).then(|| {
            Arc::new(WorkflowRunner::new(
                sandbox.clone(),
                modules,
                task_queue.clone(),
                namespace,
            ))
        });
        let activities = (!activities.is_empty()).then(|| {
            Arc::new(activities::ActivityRunner::new(
                activities,
                ActivityThreadPool::new(options.activity_threads),
                task_queue.clone(),
            ))
        });
        Ok(Worker {
            core,
            workflows,
            activities,
            task_queue,
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
    _runtime: CoreRuntime,
}

/// Stops a worker from another task: polling ends, running work finishes, then
/// [`Worker::run`] returns.
#[derive(Clone)]
pub struct ShutdownHandle {
    core: Arc<CoreWorker>,
}

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.core.initiate_shutdown();
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

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            core: self.core.clone(),
        }
    }

    /// Serves until shut down through a [`ShutdownHandle`], then drains: running
    /// activations and activities finish and are reported before it returns.
    pub async fn run(&self) -> Result<(), WorkerError> {
        let workflows = async {
            match &self.workflows {
                Some(runner) => runner.clone().run(self.core.clone()).await,
                None => Ok(()),
            }
        };
        let activities = async {
            match &self.activities {
                Some(runner) => runner.clone().run(self.core.clone()).await,
                None => Ok(()),
            }
        };
        let (workflows, activities) = tokio::join!(workflows, activities);
        if workflows.is_err() || activities.is_err() {
            self.core.initiate_shutdown();
        }
        self.core.shutdown().await;
        workflows?;
        activities?;
        Ok(())
    }

    /// Like [`Worker::run`], and shuts down gracefully on Ctrl-C (SIGINT) or SIGTERM.
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
