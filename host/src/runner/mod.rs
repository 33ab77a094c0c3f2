//! The workflow half of a worker: activations in, completions out.
//!
//! Each activation goes **route → run → convert → complete**:
//! [`route_activation`] turns core's jobs into the guest's (and says what else the
//! activation holds), [`Run::activate`] runs them in the run's sandboxed instance,
//! [`commands_from_wit`] turns the guest's commands into core's, and the completion goes
//! back to core.

mod run;
mod run_cache;
mod task_error;

pub use task_error::WorkflowTaskError;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use prost::Message;
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, remove_from_cache::EvictionReason,
};
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_common::protos::temporal::api::enums::v1::VersioningBehavior as ProtoVersioningBehavior;
use temporalio_common::worker::VersioningBehavior;
use temporalio_sdk_core::{CompleteWfError, PollError, Worker as CoreWorker};
use tokio::task::JoinSet;

use crate::bridge::activation::{RoutedActivation, route_activation};
use crate::bridge::commands::commands_from_wit;
use crate::bridge::messages::Messages;
use crate::sandbox::{Reclaim, Sandbox, WorkflowModule, command_name};
use crate::stats::{Phase, StatsRecorder};
use crate::wit::guest;

use run::Run;
use run_cache::{CachedRun, RunCache};
use task_error::{MAX_COMPLETION_BYTES, task_failure, task_failure_message};

/// Something that wants to know why runs were evicted (the replayer does).
pub(crate) type EvictionObserver = Arc<dyn Fn(&str, EvictionReason, &str) + Send + Sync>;

/// Owns the loaded modules and the cache of live runs of one core worker.
pub(crate) struct WorkflowRunner {
    sandbox: Sandbox,
    modules: BTreeMap<String, WorkflowModule>,
    runs: Arc<RunCache>,
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

/// What running an activation in the guest produced, ready for core.
struct Ran {
    completion: WorkflowActivationCompletion,
    behavior: Option<VersioningBehavior>,
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
            runs: Arc::default(),
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
        self.runs.len()
    }

    /// Polls activations until core shuts down, handling each on its own task so one
    /// slow run never delays another (or, running the guest inline, one at a time).
    ///
    /// Every activation is answered exactly once, as core requires; a completion core
    /// refuses as malformed is answered again with a task failure, and Temporal retries
    /// the task.
    pub async fn run(self: Arc<Self>, core: Arc<CoreWorker>) -> Result<(), PollError> {
        self.runs.set_core(core.clone());
        let reclaimer: Arc<dyn Reclaim> = self.runs.clone();
        self.sandbox
            .memory_budget()
            .add_reclaimer(Arc::downgrade(&reclaimer));
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
            // Held before anything else, so that the memory budget cannot evict the run
            // between now and its activation.
            let cached = self.runs.get(&activation.run_id);
            let (runner, core) = (self.clone(), core.clone());
            let complete = async move {
                let run_id = activation.run_id.clone();
                let (completion, evict) = runner.process(activation, cached).await;
                runner.complete(&core, &run_id, completion, evict).await;
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
    /// run afterwards (its instance broke answering queries or updates alone).
    async fn process(
        self: &Arc<Self>,
        activation: WorkflowActivation,
        cached: Option<CachedRun>,
    ) -> (WorkflowActivationCompletion, bool) {
        let run_id = activation.run_id.clone();
        let routed = self.stats.time(Phase::Conversion, || {
            route_activation(activation, &self.task_queue, &self.namespace)
        });
        let mut routed = match routed {
            Ok(routed) => routed,
            Err(error) => return (self.fail(&run_id, error.into()), false),
        };
        if let Some(eviction) = routed.eviction {
            if let Some(observer) = &self.eviction_observer {
                observer(&run_id, eviction.reason, &eviction.message);
            }
            self.runs.forget(&run_id);
            return (WorkflowActivationCompletion::empty(run_id), false);
        }
        if routed.guest.is_none() {
            return (WorkflowActivationCompletion::empty(run_id), false);
        }
        let messages = std::mem::take(&mut routed.messages);
        let ran = self.run_guest(routed, cached, &messages).await;
        match ran {
            Ok(Ran {
                mut completion,
                behavior,
            }) => {
                if let (Some(behavior), Some(Status::Successful(success))) =
                    (behavior, completion.status.as_mut())
                {
                    success.versioning_behavior = ProtoVersioningBehavior::from(behavior).into();
                }
                (completion, false)
            }
            Err(error) if messages.only => {
                self.runs.forget(&run_id);
                let message = task_failure_message(&error);
                tracing::error!(
                    run_id,
                    error = %message,
                    "the workflow instance broke answering queries or updates; they fail, \
                     and the run is evicted"
                );
                let refusals = messages.refuse(&message);
                (
                    WorkflowActivationCompletion::from_cmds(run_id, refusals),
                    true,
                )
            }
            Err(error) => {
                self.runs.forget(&run_id);
                (self.fail(&run_id, error), false)
            }
        }
    }

    /// Runs the activation in the run's instance (on a blocking thread, or inline) and
    /// converts what it produced into a completion Temporal will take.
    async fn run_guest(
        self: &Arc<Self>,
        routed: RoutedActivation,
        cached: Option<CachedRun>,
        messages: &Messages,
    ) -> Result<Ran, WorkflowTaskError> {
        let run_id = routed.run_id.clone();
        // WASI's blocking calls (a guest's `println!` flushes) enter the runtime
        // themselves, so guest code may only run on a runtime thread inside
        // `block_in_place`, which a multi-thread runtime alone allows.
        let inline = self.guest_inline
            && tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
        let (commands, behavior) = if inline {
            tokio::task::block_in_place(|| self.activate(routed, cached))?
        } else {
            let runner = self.clone();
            tokio::task::spawn_blocking(move || runner.activate(routed, cached))
                .await
                .map_err(|join_error| WorkflowTaskError::Crashed {
                    run_id: run_id.clone(),
                    message: join_error.to_string(),
                })??
        };
        if messages.queries_only()
            && let Some(command) = commands
                .iter()
                .find(|command| !matches!(command, guest::Command::RespondToQuery(_)))
        {
            return Err(WorkflowTaskError::QueryIssuedCommand {
                run_id,
                command: command_name(command),
            });
        }
        let commands = self.stats.time(Phase::Conversion, || {
            commands_from_wit(commands, &self.task_queue, &self.namespace)
        });
        let completion = WorkflowActivationCompletion::from_cmds(run_id.clone(), commands);
        // The guest's output was bounded by its own measure; this is the exact one, so
        // that the server never refuses a completion for its size.
        let size = completion.encoded_len() + messages.accepted_bytes(&completion);
        if size > MAX_COMPLETION_BYTES {
            return Err(WorkflowTaskError::CompletionTooLarge { run_id, size });
        }
        Ok(Ran {
            completion,
            behavior,
        })
    }

    /// The guest's side of an activation, on the thread that runs it: the run (started
    /// now, or the cached one), its commands, and the versioning behavior its type
    /// declares.
    fn activate(
        &self,
        routed: RoutedActivation,
        cached: Option<CachedRun>,
    ) -> Result<(Vec<guest::Command>, Option<VersioningBehavior>), WorkflowTaskError> {
        let RoutedActivation {
            run_id,
            guest,
            start,
            reseed,
            ..
        } = routed;
        let Some(guest) = guest else {
            return Ok((Vec::new(), None));
        };
        let run = match start {
            Some(start) => {
                let module = self.modules.get(&start.workflow_type).ok_or_else(|| {
                    WorkflowTaskError::UnknownWorkflowType {
                        workflow_type: start.workflow_type.clone(),
                        task_queue: self.task_queue.clone(),
                        known: self.modules.keys().cloned().collect(),
                    }
                })?;
                let run = self.stats.time(Phase::Instantiate, || {
                    Run::start(&self.sandbox, module, &run_id, start)
                })?;
                let run = Arc::new(Mutex::new(run));
                self.runs.insert(run_id.clone(), run.clone());
                run
            }
            None => cached.ok_or_else(|| WorkflowTaskError::MissingInstance {
                run_id: run_id.clone(),
            })?,
        };
        let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
        let commands = self
            .stats
            .time(Phase::Guest, || run.activate(guest, reseed))?;
        let behavior = self.versioning.get(run.workflow_type()).copied();
        Ok((commands, behavior))
    }

    /// Hands core the completion (asking it first to evict the run, if `evict`).
    async fn complete(
        &self,
        core: &CoreWorker,
        run_id: &str,
        completion: WorkflowActivationCompletion,
        evict: bool,
    ) {
        // Asked before completing, so core evicts the run before it can hand out another
        // activation for the instance that is gone.
        if evict {
            core.request_workflow_eviction(run_id);
        }
        let Err(error) = core.complete_workflow_activation(completion).await else {
            return;
        };
        let message = task_failure_message(&error);
        tracing::error!(run_id, error = %message, "core rejected a workflow activation completion");
        // The activation is still unanswered, and core would hold the run (and its task
        // slot) until it is: answer it with a task failure.
        if let CompleteWfError::MalformedWorkflowCompletion { .. } = error {
            let failed = task_failure(run_id, message);
            if let Err(error) = core.complete_workflow_activation(failed).await {
                tracing::error!(run_id, %error, "core rejected the task failure too");
            }
        }
    }

    fn fail(&self, run_id: &str, error: WorkflowTaskError) -> WorkflowActivationCompletion {
        let message = task_failure_message(&error);
        tracing::error!(run_id, error = %message, "workflow task failed");
        task_failure(run_id, message)
    }
}
