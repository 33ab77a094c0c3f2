//! One core worker and what it polls for. A worker with a fixed set of modules has one
//! lane; a hot-reloading worker has one per deployment version it serves, because
//! Temporal routes each versioned task to the pollers of its version.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use temporalio_common::worker::{
    WorkerDeploymentOptions, WorkerDeploymentVersion, WorkerTaskTypes,
};
use temporalio_sdk_core::{
    CoreRuntime, PollError, Worker as CoreWorker, WorkerConfig, WorkerVersioningStrategy,
    WorkflowErrorType, init_worker,
};
use tokio::sync::{mpsc, watch};

use super::activities::ActivityRunner;
use super::{WorkerError, WorkerOptions};
use crate::client::Client;
use crate::reload::{PollAs, VersionHost};
use crate::runner::WorkflowRunner;
use crate::sandbox::{Sandbox, WorkflowModule};
use crate::stats::StatsRecorder;

pub(crate) struct Lane {
    core: Arc<CoreWorker>,
    workflows: Option<Arc<WorkflowRunner>>,
    /// The deployment build id this lane polls as; `None` for an unversioned worker.
    build_id: Option<String>,
}

impl Lane {
    pub fn new(
        core: CoreWorker,
        workflows: Option<Arc<WorkflowRunner>>,
        build_id: Option<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            core: Arc::new(core),
            workflows,
            build_id,
        })
    }

    pub fn build_id(&self) -> Option<&str> {
        self.build_id.as_deref()
    }

    pub fn workflows(&self) -> Option<&Arc<WorkflowRunner>> {
        self.workflows.as_ref()
    }

    /// Stops polling; [`serve`](Self::serve) returns once running work is reported.
    pub fn initiate_shutdown(&self) {
        self.core.initiate_shutdown();
    }

    /// Shuts down a lane that was never served and unregisters it from the connection,
    /// which would otherwise keep its heartbeats going and refuse a new worker with the
    /// same build id.
    pub async fn abandon(self: Arc<Self>) {
        self.core.shutdown().await;
        self.unregister_from_client();
    }

    /// Serves workflow and activity tasks until the core worker shuts down. If polling
    /// fails, this lane stops and returns the error; the caller decides what else stops.
    pub async fn serve(
        self: Arc<Self>,
        activities: Option<Arc<ActivityRunner>>,
    ) -> Result<(), PollError> {
        let stop_on_error = |result: Result<(), PollError>| {
            if result.is_err() {
                self.core.initiate_shutdown();
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
            match activities {
                Some(runner) => stop_on_error(runner.serve(self.core.clone()).await),
                None => Ok(()),
            }
        };
        let (workflows, activities) = tokio::join!(workflows, activities);
        self.core.shutdown().await;
        self.unregister_from_client();
        workflows?;
        activities
    }

    /// The end of core's `finalize_shutdown`, which takes the core worker by value while
    /// this lane shares it. Without it the connection keeps the stopped worker
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
}

/// The lanes of one worker. Lanes may be added while the worker runs (a new version);
/// once shutdown begins, every lane is stopped and a late one is stopped on arrival.
pub(crate) struct LaneSet {
    state: Mutex<LaneSetState>,
    stopping: watch::Sender<bool>,
}

struct LaneSetState {
    lanes: Vec<Arc<Lane>>,
    /// To [`Worker::run`](super::Worker::run), which serves each lane it receives;
    /// dropped at shutdown so that `run` knows no more will come.
    to_run: Option<mpsc::UnboundedSender<Arc<Lane>>>,
}

impl LaneSet {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Arc<Lane>>) {
        let (to_run, from_set) = mpsc::unbounded_channel();
        let set = Self {
            state: Mutex::new(LaneSetState {
                lanes: Vec::new(),
                to_run: Some(to_run),
            }),
            stopping: watch::Sender::new(false),
        };
        (set, from_set)
    }

    /// Adds `lane` to be served, or gives it back if the worker is already shutting
    /// down (the caller then [abandons](Lane::abandon) it).
    pub fn add(&self, lane: Arc<Lane>) -> Result<(), Arc<Lane>> {
        let mut state = self.lock();
        match &state.to_run {
            Some(to_run) if to_run.send(lane.clone()).is_ok() => {
                state.lanes.push(lane);
                Ok(())
            }
            _ => Err(lane),
        }
    }

    /// Stops serving the lane of `build_id`; its running work finishes first.
    pub fn retire(&self, build_id: &str) {
        let mut state = self.lock();
        state.lanes.retain(|lane| {
            if lane.build_id() == Some(build_id) {
                lane.initiate_shutdown();
                false
            } else {
                true
            }
        });
    }

    pub fn lanes(&self) -> Vec<Arc<Lane>> {
        self.lock().lanes.clone()
    }

    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.to_run = None;
        for lane in &state.lanes {
            lane.initiate_shutdown();
        }
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneSetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds the core worker of a [`Lane`] with the worker's settings.
pub(crate) struct LaneFactory {
    pub runtime: CoreRuntime,
    pub client: Client,
    pub task_queue: String,
    pub options: WorkerOptions,
    pub sandbox: Sandbox,
    pub stats: Arc<StatsRecorder>,
    /// Whether the worker registered activities, and so polls activity tasks.
    pub serves_activities: bool,
}

impl LaneFactory {
    /// A lane serving `modules` (and the activities), unversioned or as `version`.
    pub async fn lane(
        &self,
        modules: BTreeMap<String, WorkflowModule>,
        version: Option<PollAs>,
    ) -> Result<Arc<Lane>, WorkerError> {
        let options = &self.options;
        let namespace = self.client.namespace().to_owned();
        let serves_workflows = !modules.is_empty();
        let (strategy, behaviors, build_id) = match version {
            None => (
                WorkerVersioningStrategy::None {
                    build_id: format!("sandglass-{}", env!("CARGO_PKG_VERSION")),
                },
                HashMap::new(),
                None,
            ),
            Some(version) => (
                WorkerVersioningStrategy::WorkerDeploymentBased(
                    WorkerDeploymentOptions::new(
                        WorkerDeploymentVersion::builder()
                            .deployment_name(version.deployment_name)
                            .build_id(version.build_id.clone())
                            .build(),
                    )
                    .use_worker_versioning(true)
                    .default_versioning_behavior(version.default_behavior)
                    .build(),
                ),
                version.behaviors,
                Some(version.build_id),
            ),
        };
        let config = WorkerConfig::builder()
            .namespace(namespace.clone())
            .task_queue(self.task_queue.clone())
            .client_identity_override(self.client.settings().identity.clone())
            .max_cached_workflows(options.max_cached_workflows)
            .max_outstanding_workflow_tasks(options.max_concurrent_workflow_tasks)
            .max_outstanding_activities(options.activity_threads)
            .max_outstanding_local_activities(options.activity_threads)
            .max_outstanding_nexus_tasks(1usize)
            .task_types(WorkerTaskTypes {
                enable_workflows: serves_workflows,
                // Local activities run where their workflow runs.
                enable_local_activities: serves_workflows,
                enable_remote_activities: self.serves_activities,
                enable_nexus: false,
            })
            .versioning_strategy(strategy)
            .maybe_graceful_shutdown_period(options.graceful_shutdown_period)
            .workflow_failure_errors(if options.nondeterminism_fails_workflow {
                HashSet::from([WorkflowErrorType::Nondeterminism])
            } else {
                HashSet::new()
            })
            .build()
            .map_err(WorkerError::Config)?;
        let core = init_worker(&self.runtime, config, self.client.connection().clone())
            .map_err(WorkerError::Core)?;
        if let Err(error) = core.validate().await {
            // Unregisters it too, so a later attempt with the same build id may register.
            core.finalize_shutdown().await;
            return Err(WorkerError::Validation(error.to_string()));
        }
        let workflows = serves_workflows.then(|| {
            Arc::new(
                WorkflowRunner::new(
                    self.sandbox.clone(),
                    modules,
                    self.task_queue.clone(),
                    namespace,
                )
                .with_stats(self.stats.clone())
                .with_versioning(behaviors),
            )
        });
        Ok(Lane::new(core, workflows, build_id))
    }
}

/// A worker's lanes and what makes them: the worker as the reloader sees it.
pub(crate) struct Lanes {
    pub factory: LaneFactory,
    pub set: LaneSet,
}

impl VersionHost for Lanes {
    fn sandbox(&self) -> &Sandbox {
        &self.factory.sandbox
    }

    fn client(&self) -> &Client {
        &self.factory.client
    }

    fn task_queue(&self) -> &str {
        &self.factory.task_queue
    }

    async fn serve(
        &self,
        modules: BTreeMap<String, WorkflowModule>,
        poll_as: PollAs,
    ) -> Result<(), String> {
        let lane = self
            .factory
            .lane(modules, Some(poll_as))
            .await
            .map_err(|error| error.to_string())?;
        if let Err(lane) = self.set.add(lane) {
            lane.abandon().await;
            return Err("the worker is shutting down".into());
        }
        Ok(())
    }

    fn retire(&self, build_id: &str) {
        self.set.retire(build_id);
    }

    fn cached_runs(&self, build_id: &str) -> usize {
        self.set
            .lanes()
            .iter()
            .filter(|lane| lane.build_id() == Some(build_id))
            .filter_map(|lane| lane.workflows())
            .map(|runner| runner.cached_runs())
            .sum()
    }

    fn is_stopping(&self) -> bool {
        self.set.is_stopping()
    }

    async fn stopped(&self) {
        self.set.stopped().await;
    }
}
