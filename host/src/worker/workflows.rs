//! The workflow half of a worker: activations in, one sandboxed instance per run,
//! completions out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, remove_from_cache::EvictionReason, workflow_activation_job::Variant,
};
use temporalio_common::protos::coresdk::workflow_commands::{
    QueryResult, query_result, workflow_command::Variant as CoreCommand,
};
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_common::protos::temporal::api::enums::v1::VersioningBehavior as ProtoVersioningBehavior;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowTaskFailedCause;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::worker::VersioningBehavior;
use temporalio_sdk_core::{PollError, Worker as CoreWorker};
use tokio::task::JoinSet;

use crate::bridge::activation::{RouteError, RoutedActivation, route_activation};
use crate::bridge::commands::commands_from_wit;
use crate::bridge::failure::FAILURE_SOURCE;
use crate::bridge::sequence::{MalformedOutput, OpenCommands};
use crate::sandbox::bindings::guest;
use crate::sandbox::{ActivationError, RunIdentity, Sandbox, WorkflowInstance, WorkflowModule};
use crate::worker::stats::{Phase, StatsRecorder};

/// Why a workflow task failed on this worker. The task is reported failed to Temporal,
/// which retries it (on this or another worker); nothing else is affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowTaskError {
    #[error(
        "workflow type {workflow_type:?} is not registered on this worker (task queue \
         {task_queue:?}); it serves {known:?}. Load a module that defines it, or start the \
         workflow on a task queue whose workers do"
    )]
    UnknownWorkflowType {
        workflow_type: String,
        task_queue: String,
        known: Vec<String>,
    },
    #[error(
        "run {run_id} has no cached instance and this activation does not start it; core \
         should have replayed it from the start (a bug, please report it)"
    )]
    MissingInstance { run_id: String },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error("workflow {workflow_type} (run {run_id}) produced malformed output: {source}")]
    MalformedOutput {
        workflow_type: String,
        run_id: String,
        #[source]
        source: MalformedOutput,
    },
    #[error("the sandbox thread running run {run_id} stopped unexpectedly: {message}")]
    Crashed { run_id: String, message: String },
}

/// A run's live instance and the commands it has open, guarded together.
struct Run {
    instance: WorkflowInstance,
    open: OpenCommands,
}

type CachedRun = Arc<Mutex<Run>>;

/// Something that wants to know why runs were evicted (the replayer does).
pub(crate) type EvictionObserver = Arc<dyn Fn(&str, EvictionReason, &str) + Send + Sync>;

/// Owns the loaded modules and the cache of live instances.
pub(crate) struct WorkflowRunner {
    sandbox: Sandbox,
    modules: BTreeMap<String, WorkflowModule>,
    runs: Mutex<HashMap<String, CachedRun>>,
    task_queue: String,
    namespace: String,
    eviction_observer: Option<EvictionObserver>,
    stats: Arc<StatsRecorder>,
    /// Handle activations one at a time on the polling task, running the guest there
    /// (in `block_in_place`) instead of on a blocking thread: right for a replayer, which
    /// has one run at a time and nothing else to keep responsive, and saves two task
    /// handoffs per activation.
    guest_inline: bool,
    /// Per workflow type, the versioning behavior each task completion declares (a
    /// hot-reloading worker's policies); types not listed use the core worker's default.
    versioning: HashMap<String, VersioningBehavior>,
}

impl WorkflowRunner {
    pub fn new(
        sandbox: Sandbox,
        modules: BTreeMap<String, WorkflowModule>,
        task_queue: String,
        namespace: String,
    ) -> Self {
        Self {
            sandbox,
            modules,
            runs: Mutex::default(),
            task_queue,
            namespace,
            eviction_observer: None,
            stats: Arc::default(),
            guest_inline: false,
            versioning: HashMap::new(),
        }
    }

    /// Declares `versioning` for the runs of each listed workflow type.
    pub fn with_versioning(mut self, versioning: HashMap<String, VersioningBehavior>) -> Self {
        self.versioning = versioning;
        self
    }

    /// Runs guest code on the task that processes the activation; see `guest_inline`.
    pub fn run_guest_inline(mut self) -> Self {
        self.guest_inline = true;
        self
    }

    /// Counts into `stats` (the worker's, shared with its activity half).
    pub fn with_stats(mut self, stats: Arc<StatsRecorder>) -> Self {
        self.stats = stats;
        self
    }

    pub fn observe_evictions(mut self, observer: EvictionObserver) -> Self {
        self.eviction_observer = Some(observer);
        self
    }

    pub fn workflow_types(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }

    /// Instances currently cached, one per run.
    pub fn cached_runs(&self) -> usize {
        self.lock_runs().len()
    }

    /// Polls activations until core shuts down, handling each on its own task so one
    /// slow run never delays another (or, running the guest inline, one at a time).
    ///
    /// Every activation is answered exactly once, as core requires; a failed answer is
    /// logged, since core then evicts the run and Temporal retries its task.
    pub async fn run(self: Arc<Self>, core: Arc<CoreWorker>) -> Result<(), PollError> {
        let mut in_flight = JoinSet::new();
        let mut failure = None;
        let result = loop {
            let activation = match core.poll_workflow_activation().await {
                Ok(activation) => activation,
                Err(PollError::ShutDown) => break failure.map_or(Ok(()), Err),
                Err(error) => {
                    // Core ends local activities only once workflow polling has seen
                    // `ShutDown`: stop the worker and keep answering activations until
                    // then, or the activity half would wait forever.
                    tracing::error!(%error, "polling workflow tasks failed; shutting the worker down");
                    core.initiate_shutdown();
                    failure.get_or_insert(error);
                    // Errors may repeat at once until core has shut down.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (runner, core) = (self.clone(), core.clone());
            let complete = async move {
                let run_id = activation.run_id.clone();
                let (completion, evict) = runner.process(activation).await;
                // Asked before completing, so core evicts the run before it can hand out
                // another activation for the instance that is gone.
                if evict {
                    core.request_workflow_eviction(&run_id);
                }
                if let Err(error) = core.complete_workflow_activation(completion).await {
                    tracing::error!(run_id, %error, "core rejected a workflow activation completion");
                }
            };
            if self.guest_inline {
                complete.await;
                continue;
            }
            in_flight.spawn(complete);
            while in_flight.try_join_next().is_some() {}
        };
        while in_flight.join_next().await.is_some() {}
        result
    }

    /// Turns one activation into its completion, and says whether core must evict the
    /// run afterwards (its instance broke answering queries alone).
    pub async fn process(
        self: &Arc<Self>,
        activation: WorkflowActivation,
    ) -> (WorkflowActivationCompletion, bool) {
        let run_id = activation.run_id.clone();
        self.notify_evictions(&activation);
        let routed = self.stats.time(Phase::Conversion, || {
            route_activation(activation, &self.task_queue, &self.namespace)
        });
        let routed = match routed {
            Ok(routed) => routed,
            Err(error) => return (self.fail(&run_id, error.into()), false),
        };
        if routed.evict {
            self.lock_runs().remove(&run_id);
            return (WorkflowActivationCompletion::empty(run_id), false);
        }
        let Some(guest) = &routed.guest else {
            return (WorkflowActivationCompletion::empty(run_id), false);
        };
        // An activation of queries alone changes nothing in history; if the guest breaks
        // on it, the queries fail, not the workflow task.
        let only_queries: Option<Vec<String>> = guest
            .jobs
            .iter()
            .map(|job| match job {
                guest::Job::Query(query) => Some(query.id.clone()),
                _ => None,
            })
            .collect();
        // WASI's blocking calls (a guest's `println!` flushes) enter the runtime
        // themselves, so guest code may only run on a runtime thread inside
        // `block_in_place`, which a multi-thread runtime alone allows.
        let inline = self.guest_inline
            && tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
        let outcome = if inline {
            tokio::task::block_in_place(|| self.activate_guest(routed))
        } else {
            let runner = self.clone();
            tokio::task::spawn_blocking(move || runner.activate_guest(routed))
                .await
                .map_err(|join_error| WorkflowTaskError::Crashed {
                    run_id: run_id.clone(),
                    message: join_error.to_string(),
                })
                .and_then(|result| result)
        };
        match (outcome, only_queries) {
            (Ok((guest_commands, behavior)), _) => {
                let commands = self.stats.time(Phase::Conversion, || {
                    commands_from_wit(guest_commands, &self.task_queue, &self.namespace)
                });
                let mut completion = WorkflowActivationCompletion::from_cmds(run_id, commands);
                if let (Some(behavior), Some(Status::Successful(success))) =
                    (behavior, completion.status.as_mut())
                {
                    success.versioning_behavior = ProtoVersioningBehavior::from(behavior).into();
                }
                (completion, false)
            }
            (Err(error), Some(query_ids)) => {
                self.lock_runs().remove(&run_id);
                tracing::error!(run_id, error = %error, "a query failed the workflow instance; evicting it");
                let commands = query_ids
                    .into_iter()
                    .map(|query_id| {
                        CoreCommand::RespondToQuery(QueryResult {
                            query_id,
                            variant: Some(query_result::Variant::Failed(Failure {
                                message: error.to_string(),
                                source: FAILURE_SOURCE.into(),
                                ..Default::default()
                            })),
                        })
                    })
                    .collect();
                (
                    WorkflowActivationCompletion::from_cmds(run_id, commands),
                    true,
                )
            }
            (Err(error), None) => {
                self.lock_runs().remove(&run_id);
                (self.fail(&run_id, error), false)
            }
        }
    }

    /// Runs the guest side of an activation on a blocking thread; returns its commands
    /// and the versioning behavior its run's type declares, if any.
    fn activate_guest(
        &self,
        routed: RoutedActivation,
    ) -> Result<(Vec<guest::Command>, Option<VersioningBehavior>), WorkflowTaskError> {
        let RoutedActivation {
            run_id,
            guest,
            initialize,
            ..
        } = routed;
        let Some(guest) = guest else {
            return Ok((Vec::new(), None));
        };
        let run = match initialize {
            Some(init) => {
                let module = self.modules.get(&init.workflow_type).ok_or_else(|| {
                    WorkflowTaskError::UnknownWorkflowType {
                        workflow_type: init.workflow_type.clone(),
                        task_queue: self.task_queue.clone(),
                        known: self.modules.keys().cloned().collect(),
                    }
                })?;
                let identity = RunIdentity {
                    workflow_type: init.workflow_type.clone(),
                    run_id: run_id.clone(),
                    randomness_seed: init.randomness_seed,
                };
                let instance = self.stats.time(Phase::Instantiate, || {
                    WorkflowInstance::new(&self.sandbox, module, identity)
                })?;
                let run = Arc::new(Mutex::new(Run {
                    instance,
                    open: OpenCommands::default(),
                }));
                self.lock_runs().insert(run_id.clone(), run.clone());
                run
            }
            None => self.lock_runs().get(&run_id).cloned().ok_or_else(|| {
                WorkflowTaskError::MissingInstance {
                    run_id: run_id.clone(),
                }
            })?,
        };
        let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
        run.open.resolve(&guest.jobs);
        let commands = self
            .stats
            .time(Phase::Guest, || run.instance.activate(guest))?;
        run.open
            .issue(&commands)
            .map_err(|source| WorkflowTaskError::MalformedOutput {
                workflow_type: run.instance.identity().workflow_type.clone(),
                run_id: run_id.clone(),
                source,
            })?;
        let behavior = self
            .versioning
            .get(&run.instance.identity().workflow_type)
            .copied();
        Ok((commands, behavior))
    }

    fn fail(&self, run_id: &str, error: WorkflowTaskError) -> WorkflowActivationCompletion {
        tracing::error!(run_id, error = %error, "workflow task failed");
        WorkflowActivationCompletion::fail(
            run_id,
            Failure {
                message: error.to_string(),
                source: FAILURE_SOURCE.into(),
                ..Default::default()
            },
            Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
        )
    }

    fn notify_evictions(&self, activation: &WorkflowActivation) {
        let Some(observer) = &self.eviction_observer else {
            return;
        };
        for job in &activation.jobs {
            if let Some(Variant::RemoveFromCache(remove)) = &job.variant {
                observer(&activation.run_id, remove.reason(), &remove.message);
            }
        }
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
