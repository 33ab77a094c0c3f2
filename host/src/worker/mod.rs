//! A Sandglass worker: the Python SDK's `Worker(client, task_queue, workflows, activities,
//! activity_executor)`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sandglass_declare::ActivityDefinition;
//! use sandglass_host::{Client, ConnectionSettings, Worker};
//!
//! const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
//!
//! let client = Client::connect(ConnectionSettings::from_env()?).await?;
//! let worker = Worker::builder(client, "my-task-queue")
//!     .workflow_module("target/wasm32-wasip2/release/greeting_workflows.wasm")
//!     .sync_activity(GREET, |_ctx, name: String| Ok(format!("Hello, {name}!")))
//!     .build()
//!     .await?;
//! worker.run_until_ctrl_c().await?;
//! # Ok(()) }
//! ```

mod activities;
mod lane;
mod options;
mod signals;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sandglass_declare::ActivityDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_sdk_core::{CoreRuntime, PollError, RuntimeOptions};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::activity::{ActivityContext, ActivityFailure, ActivityRegistry, ActivityThreadPool};
use crate::client::Client;
use crate::reload::{ReloadError, ReloadHandle, ReloadOptions, Reloader, VersionReport};
use crate::sandbox::{ModuleError, Sandbox, WorkflowModule};
use crate::stats::{StatsRecorder, WorkerStats};
use lane::{Lane, LaneFactory, LaneSet, Lanes};
use signals::reload_on_hangup;
pub use signals::wait_for_stop_signal;

pub use options::WorkerOptions;

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
    #[error(transparent)]
    Reload(#[from] ReloadError),
    #[error("a worker task stopped unexpectedly (a bug, please report it): {0}")]
    Crashed(String),
}

/// Collects modules and activities for a [`Worker`].
pub struct WorkerBuilder {
    client: Client,
    task_queue: String,
    options: WorkerOptions,
    modules: Vec<PathBuf>,
    activities: ActivityRegistry,
    workflow_dir: Option<PathBuf>,
    reload_options: ReloadOptions,
}

impl WorkerBuilder {
    /// Serves the workflow types of the component at `path`.
    pub fn workflow_module(mut self, path: impl Into<PathBuf>) -> Self {
        self.modules.push(path.into());
        self
    }

    /// Serves the workflow modules (`*.wasm`) in `dir` and reloads them while running:
    /// adding, changing or removing a file makes a new version, which takes over new
    /// executions once it is validated. Each version is a Temporal worker deployment
    /// version; see [`crate::reload`] for how running executions move (or do not).
    ///
    /// Each version served has a core worker of its own, with the limits of
    /// [`WorkerOptions`] (cached runs, task slots); while old versions drain, the worker
    /// may hold that many times more. The activity thread pool is shared.
    pub fn workflow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workflow_dir = Some(dir.into());
        self
    }

    /// How a [workflow directory](Self::workflow_dir) is watched and versioned.
    pub fn reload_options(mut self, options: ReloadOptions) -> Self {
        self.reload_options = options;
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
        F: Fn(&ActivityContext, I) -> Result<O, ActivityFailure> + Send + Sync + 'static,
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
        Fut: Future<Output = Result<O, ActivityFailure>> + Send + 'static,
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
    /// A worker with a [workflow directory](Self::workflow_dir) loads it when it starts
    /// running, and keeps watching it.
    pub async fn build(self) -> Result<Worker, WorkerError> {
        let WorkerBuilder {
            client,
            task_queue,
            options,
            modules: paths,
            activities,
            workflow_dir,
            reload_options,
        } = self;
        if options.max_cached_workflows > 0 && options.max_concurrent_workflow_tasks < 2 {
            return Err(WorkerError::Config(
                "max_concurrent_workflow_tasks must be at least 2 while max_cached_workflows > 0"
                    .into(),
            ));
        }
        let runs_needed = options
            .max_cached_workflows
            .saturating_add(options.max_concurrent_workflow_tasks);
        if let Some(pool) = options.sandbox.instance_pool
            && usize::try_from(pool).unwrap_or(usize::MAX) < runs_needed
        {
            return Err(WorkerError::Config(format!(
                "the instance pool has {pool} slots, fewer than the {runs_needed} runs the \
                 worker may hold (max_cached_workflows + max_concurrent_workflow_tasks); \
                 raise `SandboxLimits::instance_pool` or lower those"
            )));
        }
        if workflow_dir.is_some() && !paths.is_empty() {
            return Err(WorkerError::Config(
                "give a worker either module files or a workflow directory, not both; put \
                 the files in the directory"
                    .into(),
            ));
        }
        let sandbox = Sandbox::with_code_cache(options.sandbox.clone(), options.code_cache.clone())
            .map_err(WorkerError::Sandbox)?;
        let (modules, first_error) = load_modules(&sandbox, paths).await;
        if modules.is_empty() && activities.is_empty() && workflow_dir.is_none() {
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
        let stats = Arc::new(StatsRecorder::default());
        let serves_workflows = !modules.is_empty() || workflow_dir.is_some();
        // Only a worker with activities polls activity tasks; one with workflows needs
        // the runner too, for their local activities.
        let has_activities = !activities.is_empty();
        let activities = (has_activities || serves_workflows).then(|| {
            Arc::new(activities::ActivityRunner::new(
                activities,
                // One thread per activity slot and per local activity slot.
                ActivityThreadPool::new(options.activity_threads.saturating_mul(2)),
                task_queue.clone(),
                stats.clone(),
            ))
        });
        let factory = LaneFactory {
            runtime,
            client: client.clone(),
            task_queue: task_queue.clone(),
            options,
            sandbox,
            stats,
            serves_activities: has_activities,
        };
        let (set, from_lanes) = LaneSet::new();
        let lanes = Arc::new(Lanes { factory, set });
        let reloader = match workflow_dir {
            Some(dir) => Some(Arc::new(
                Reloader::new(lanes.clone(), dir, reload_options).map_err(WorkerError::Reload)?,
            )),
            None => {
                let lane = lanes.factory.lane(modules, None).await?;
                if let Err(lane) = lanes.set.add(lane) {
                    lane.abandon().await;
                }
                None
            }
        };
        Ok(Worker {
            lanes,
            from_lanes: Mutex::new(Some(from_lanes)),
            activities,
            reloader,
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
        let loaded = WorkflowModule::load_file(sandbox, path).await;
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
    lanes: Arc<Lanes>,
    /// Taken by [`Worker::run`].
    from_lanes: Mutex<Option<mpsc::UnboundedReceiver<Arc<Lane>>>>,
    activities: Option<Arc<activities::ActivityRunner>>,
    reloader: Option<Arc<Reloader<Lanes>>>,
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
    lanes: Arc<Lanes>,
    activities: Option<Arc<activities::ActivityRunner>>,
}

impl ShutdownHandle {
    /// Begins shutdown and returns at once; [`Worker::run`] returns when it is done.
    /// Calling it again does nothing more.
    pub fn shutdown(&self) {
        self.lanes.set.shutdown();
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
            workflow_dir: None,
            reload_options: ReloadOptions::default(),
        }
    }

    pub fn task_queue(&self) -> &str {
        &self.lanes.factory.task_queue
    }

    /// The workflow types this worker serves to new executions (a hot-reloading
    /// worker's current version; empty until [`run`](Self::run) has loaded it).
    pub fn workflow_types(&self) -> Vec<String> {
        let lanes = self.lanes.set.lanes();
        let current = match &self.reloader {
            Some(reloader) => reloader.current_build_id(),
            None => None,
        };
        lanes
            .iter()
            .filter(|lane| current.is_none() || lane.build_id() == current.as_deref())
            .filter_map(|lane| lane.workflows())
            .flat_map(|runner| {
                runner
                    .workflow_types()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Workflow runs whose instances are cached right now, across every version.
    pub fn cached_workflows(&self) -> usize {
        self.lanes
            .set
            .lanes()
            .iter()
            .filter_map(|lane| lane.workflows())
            .map(|runner| runner.cached_runs())
            .sum()
    }

    /// Where this worker's time went so far: guest, instantiation, conversion and
    /// activities (the rest of its CPU is core, gRPC and the runtime).
    pub fn stats(&self) -> WorkerStats {
        self.lanes.factory.stats.snapshot()
    }

    /// The versions a hot-reloading worker serves (empty for a worker built from module
    /// files): their build ids, modules, and cached runs.
    pub fn versions(&self) -> Vec<VersionReport> {
        match &self.reloader {
            Some(reloader) => reloader.report(),
            None => Vec::new(),
        }
    }

    /// Triggers reloads of a hot-reloading worker's directory; `None` for a worker
    /// built from module files.
    pub fn reload_handle(&self) -> Option<ReloadHandle> {
        self.reloader.as_ref().map(|reloader| reloader.handle())
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            lanes: self.lanes.clone(),
            activities: self.activities.clone(),
        }
    }

    /// Serves until shut down through a [`ShutdownHandle`], then drains as
    /// [`ShutdownHandle`] describes: running activations and activities finish (or, past
    /// the [grace period](WorkerOptions::graceful_shutdown_period), are cancelled) and
    /// are reported before it returns. If polling fails, it shuts down the same way and
    /// returns the error.
    ///
    /// A hot-reloading worker loads its directory first, then watches it.
    pub async fn run(&self) -> Result<(), WorkerError> {
        let Some(mut from_lanes) = self
            .from_lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Err(WorkerError::Config(
                "Worker::run was called twice; a worker runs once".into(),
            ));
        };
        let handle = self.shutdown_handle();
        let reloading = async {
            if let Some(reloader) = &self.reloader {
                reloader.clone().run().await;
            }
        };
        let serving = async {
            let mut serving = JoinSet::new();
            let mut failure = None;
            loop {
                tokio::select! {
                    lane = from_lanes.recv() => match lane {
                        Some(lane) => {
                            serving.spawn(lane.serve(self.activities.clone()));
                        }
                        None => break,
                    },
                    Some(served) = serving.join_next() => {
                        if let Some(error) = lane_failure(served) {
                            tracing::error!(%error, "a lane stopped serving; shutting the worker down");
                            handle.shutdown();
                            failure.get_or_insert(error);
                        }
                    }
                }
            }
            while let Some(served) = serving.join_next().await {
                if let Some(error) = lane_failure(served) {
                    failure.get_or_insert(error);
                }
            }
            failure
        };
        let ((), failure) = tokio::join!(reloading, serving);
        if let Some(activities) = &self.activities {
            activities.begin_shutdown();
            activities.finish();
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Like [`Worker::run`], and shuts down gracefully on Ctrl-C (SIGINT) or SIGTERM, as
    /// [`ShutdownHandle::shutdown`] does. A second signal does not cut the grace short;
    /// stop the process some other way (SIGKILL) if it must end at once. A
    /// hot-reloading worker also reloads its directory on SIGHUP.
    pub async fn run_until_ctrl_c(&self) -> Result<(), WorkerError> {
        let handle = self.shutdown_handle();
        let signal = tokio::spawn(async move {
            wait_for_stop_signal().await;
            tracing::info!("stop signal received; finishing running work");
            handle.shutdown();
        });
        let hangup = self
            .reload_handle()
            .map(|reload| tokio::spawn(reload_on_hangup(reload)));
        let result = self.run().await;
        signal.abort();
        if let Some(hangup) = hangup {
            hangup.abort();
        }
        result
    }
}

/// Why a lane's serving task ended early, if it did.
fn lane_failure(
    served: Result<Result<(), PollError>, tokio::task::JoinError>,
) -> Option<WorkerError> {
    match served {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(WorkerError::Poll(error)),
        Err(join_error) => Some(WorkerError::Crashed(join_error.to_string())),
    }
}
