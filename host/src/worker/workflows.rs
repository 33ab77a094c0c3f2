//! The workflow half of a worker: activations in, one sandboxed instance per run,
//! completions out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use prost::Message;
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, remove_from_cache::EvictionReason, workflow_activation_job::Variant,
};
use temporalio_common::protos::coresdk::workflow_commands::{
    QueryResult, UpdateResponse, query_result, update_response,
    workflow_command::Variant as CoreCommand,
};
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;
use temporalio_common::protos::temporal::api::enums::v1::VersioningBehavior as ProtoVersioningBehavior;
use temporalio_common::protos::temporal::api::enums::v1::WorkflowTaskFailedCause;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::worker::VersioningBehavior;
use temporalio_sdk_core::{CompleteWfError, PollError, Worker as CoreWorker};
use tokio::task::JoinSet;

use crate::bridge::activation::{RouteError, RoutedActivation, route_activation};
use crate::bridge::commands::commands_from_wit;
use crate::bridge::failure::FAILURE_SOURCE;
use crate::bridge::sequence::{MalformedOutput, OpenCommands};
use crate::sandbox::bindings::{guest, types};
use crate::sandbox::{
    ActivationError, Reclaim, RunIdentity, Sandbox, WorkflowInstance, WorkflowModule, command_name,
    host_frame, shorten,
};
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
        "run {run_id} has no cached instance (it was evicted, for example to free memory for \
         other runs) and this activation does not start it; Temporal retries the task and \
         the run is rebuilt by replaying its history"
    )]
    MissingInstance { run_id: String },
    #[error(
        "run {run_id}: a query handler issued a `{command}` command; queries must only read \
         the workflow's state (change it in a signal or an update)"
    )]
    QueryIssuedCommand {
        run_id: String,
        command: &'static str,
    },
    #[error(
        "run {run_id}: the task completion would be {size} bytes once encoded, more than the \
         {MAX_COMPLETION_BYTES} Temporal accepts; start fewer commands at once, or pass \
         references instead of large values (`SandboxLimits::max_commands_bytes` bounds the \
         guest's share)"
    )]
    CompletionTooLarge { run_id: String, size: usize },
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
    /// When its last activation started, for evicting the least recently used.
    last_active: Instant,
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
    /// The core worker, once [`Self::run`] has it: runs evicted to free memory are
    /// evicted from core's cache too.
    core: OnceLock<Arc<CoreWorker>>,
}

/// The queries and not-yet-accepted updates of an activation that holds nothing else.
/// Such an activation changes nothing in history, so if the guest breaks on it, they
/// fail (queries) or are rejected (updates) and the workflow task does not.
struct MessagesOnly {
    queries: Vec<String>,
    updates: Vec<String>,
}

impl MessagesOnly {
    fn of(activation: &guest::Activation) -> Option<Self> {
        let mut messages = Self {
            queries: Vec::new(),
            updates: Vec::new(),
        };
        for job in &activation.jobs {
            match job {
                guest::Job::Query(query) => messages.queries.push(query.id.clone()),
                guest::Job::Update(update) if update.run_validator => {
                    messages.updates.push(update.protocol_instance_id.clone())
                }
                _ => return None,
            }
        }
        Some(messages)
    }

    /// Answers each message with `error`: the queries fail, the updates are rejected.
    fn refuse(self, error: &WorkflowTaskError) -> Vec<CoreCommand> {
        let message = task_failure_message(error);
        let failure = || host_failure(message.clone());
        let queries = self.queries.into_iter().map(|query_id| {
            CoreCommand::RespondToQuery(QueryResult {
                query_id,
                variant: Some(query_result::Variant::Failed(failure())),
            })
        });
        let updates = self.updates.into_iter().map(|protocol_instance_id| {
            CoreCommand::UpdateResponse(UpdateResponse {
                protocol_instance_id,
                response: Some(update_response::Response::Rejected(failure())),
            })
        });
        queries.chain(updates).collect()
    }
}

/// The largest task completion sent: Temporal's frontend takes gRPC messages of 4 MiB,
/// and core adds the task token, identity and metadata around the commands.
const MAX_COMPLETION_BYTES: usize = (4 << 20) - (64 << 10);

/// Most of a task failure's message sent to Temporal (and logged): what the guest wrote
/// into it (a panic message, its own failure) is bounded before, this bounds the whole.
const MAX_TASK_FAILURE_MESSAGE: usize = 16 << 10;

fn task_failure(run_id: &str, message: String) -> WorkflowActivationCompletion {
    WorkflowActivationCompletion::fail(
        run_id,
        host_failure(message),
        Some(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure),
    )
}

/// A failure the worker reports in a run's place.
fn host_failure(message: String) -> Failure {
    Failure {
        message,
        source: FAILURE_SOURCE.into(),
        ..Default::default()
    }
}

fn task_failure_message(error: &impl std::fmt::Display) -> String {
    let mut message = error.to_string();
    shorten(&mut message, MAX_TASK_FAILURE_MESSAGE);
    message
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
            core: OnceLock::new(),
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
    /// Every activation is answered exactly once, as core requires; a completion core
    /// refuses as malformed is answered again with a task failure, and Temporal retries
    /// the task.
    pub async fn run(self: Arc<Self>, core: Arc<CoreWorker>) -> Result<(), PollError> {
        let _ = self.core.set(core.clone());
        let reclaimer: Arc<dyn Reclaim> = self.clone();
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
            // Pinned before anything else, so that the memory budget cannot evict the
            // run between now and its activation.
            let pinned = self.lock_runs().get(&activation.run_id).cloned();
            let (runner, core) = (self.clone(), core.clone());
            let complete = async move {
                let run_id = activation.run_id.clone();
                let (completion, evict) = runner.process(activation, pinned).await;
                // Asked before completing, so core evicts the run before it can hand out
                // another activation for the instance that is gone.
                if evict {
                    core.request_workflow_eviction(&run_id);
                }
                if let Err(error) = core.complete_workflow_activation(completion).await {
                    let message = task_failure_message(&error);
                    tracing::error!(run_id, error = %message, "core rejected a workflow activation completion");
                    // The activation is still unanswered, and core would hold the run (and
                    // its task slot) until it is: answer it with a task failure.
                    if let CompleteWfError::MalformedWorkflowCompletion { .. } = error {
                        let failed = task_failure(&run_id, message);
                        if let Err(error) = core.complete_workflow_activation(failed).await {
                            tracing::error!(run_id, %error, "core rejected the task failure too");
                        }
                    }
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
    /// run afterwards (its instance broke answering queries or updates alone).
    async fn process(
        self: &Arc<Self>,
        activation: WorkflowActivation,
        cached: Option<CachedRun>,
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
            self.forget_run(&run_id);
            return (WorkflowActivationCompletion::empty(run_id), false);
        }
        let Some(guest) = &routed.guest else {
            return (WorkflowActivationCompletion::empty(run_id), false);
        };
        let messages_only = MessagesOnly::of(guest);
        let updates = update_request_bytes(guest);
        // WASI's blocking calls (a guest's `println!` flushes) enter the runtime
        // themselves, so guest code may only run on a runtime thread inside
        // `block_in_place`, which a multi-thread runtime alone allows.
        let inline = self.guest_inline
            && tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
        let outcome = if inline {
            tokio::task::block_in_place(|| self.activate_guest(routed, cached))
        } else {
            let runner = self.clone();
            tokio::task::spawn_blocking(move || runner.activate_guest(routed, cached))
                .await
                .map_err(|join_error| WorkflowTaskError::Crashed {
                    run_id: run_id.clone(),
                    message: join_error.to_string(),
                })
                .and_then(|result| result)
        };
        let outcome = outcome.and_then(|(commands, behavior)| {
            let commands = match messages_only.as_ref().filter(|m| m.updates.is_empty()) {
                Some(_) => only_query_answers(&run_id, commands)?,
                None => commands,
            };
            let commands = self.stats.time(Phase::Conversion, || {
                commands_from_wit(commands, &self.task_queue, &self.namespace)
            });
            let completion = WorkflowActivationCompletion::from_cmds(run_id.clone(), commands);
            // The guest's output was bounded by its own measure; this is the exact one, so
            // that the server never refuses a completion for its size. Core sends each
            // accepted update's request back with it.
            let size = completion.encoded_len() + accepted_update_bytes(&completion, &updates);
            if size > MAX_COMPLETION_BYTES {
                return Err(WorkflowTaskError::CompletionTooLarge {
                    run_id: run_id.clone(),
                    size,
                });
            }
            Ok((completion, behavior))
        });
        match (outcome, messages_only) {
            (Ok((mut completion, behavior)), _) => {
                if let (Some(behavior), Some(Status::Successful(success))) =
                    (behavior, completion.status.as_mut())
                {
                    success.versioning_behavior = ProtoVersioningBehavior::from(behavior).into();
                }
                (completion, false)
            }
            (Err(error), Some(messages)) => {
                self.forget_run(&run_id);
                tracing::error!(
                    run_id,
                    error = %task_failure_message(&error),
                    "the workflow instance broke answering queries or updates; they fail, \
                     and the run is evicted"
                );
                (
                    WorkflowActivationCompletion::from_cmds(run_id, messages.refuse(&error)),
                    true,
                )
            }
            (Err(error), None) => {
                self.forget_run(&run_id);
                (self.fail(&run_id, error), false)
            }
        }
    }

    /// Runs the guest side of an activation on a blocking thread; returns its commands
    /// and the versioning behavior its run's type declares, if any.
    fn activate_guest(
        &self,
        routed: RoutedActivation,
        cached: Option<CachedRun>,
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
                    task_timeout: init
                        .workflow_task_timeout
                        .and_then(|timeout| std::time::Duration::try_from(timeout).ok()),
                };
                let instance = self.stats.time(Phase::Instantiate, || {
                    WorkflowInstance::new(&self.sandbox, module, identity)
                })?;
                let run = Arc::new(Mutex::new(Run {
                    instance,
                    open: OpenCommands::default(),
                    last_active: Instant::now(),
                }));
                self.lock_runs().insert(run_id.clone(), run.clone());
                run
            }
            None => cached.ok_or_else(|| WorkflowTaskError::MissingInstance {
                run_id: run_id.clone(),
            })?,
        };
        let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
        run.last_active = Instant::now();
        run.open.resolve(&guest.jobs);
        let mut commands = self
            .stats
            .time(Phase::Guest, || run.instance.activate(guest))?;
        run.open
            .issue(&commands)
            .map_err(|source| WorkflowTaskError::MalformedOutput {
                workflow_type: run.instance.identity().workflow_type.clone(),
                run_id: run_id.clone(),
                source,
            })?;
        // A query the guest left unanswered would leave its caller waiting until it
        // times out; it gets a failure instead.
        commands.extend(
            run.open
                .take_unanswered_queries()
                .into_iter()
                .map(unanswered_query),
        );
        let behavior = self
            .versioning
            .get(&run.instance.identity().workflow_type)
            .copied();
        Ok((commands, behavior))
    }

    fn fail(&self, run_id: &str, error: WorkflowTaskError) -> WorkflowActivationCompletion {
        let message = task_failure_message(&error);
        tracing::error!(run_id, error = %message, "workflow task failed");
        task_failure(run_id, message)
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

    /// Drops the run's cached instance, outside the cache's lock (dropping a store
    /// unmaps its memory).
    fn forget_run(&self, run_id: &str) {
        let forgotten = self.lock_runs().remove(run_id);
        drop(forgotten);
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WorkflowRunner {
    /// The idle runs among `runs`, as (last active, memory held, run id). A run is idle
    /// when nothing holds it but the cache: no activation is running or waiting for it
    /// (those hold it from before they start) and its lock is free.
    fn idle_runs(runs: &HashMap<String, CachedRun>) -> Vec<(Instant, usize, String)> {
        runs.iter()
            .filter(|(_, run)| Arc::strong_count(run) == 1)
            .filter_map(|(run_id, run)| {
                let run = run.try_lock().ok()?;
                Some((
                    run.last_active,
                    run.instance.reserved_memory(),
                    run_id.clone(),
                ))
            })
            .collect()
    }
}

impl Reclaim for WorkflowRunner {
    fn idle_bytes(&self) -> usize {
        Self::idle_runs(&self.lock_runs())
            .iter()
            .map(|(_, memory, _)| memory)
            .sum()
    }

    /// Evicts idle runs, least recently active first, until `bytes` are freed.
    fn reclaim(&self, bytes: usize) {
        let evicted: Vec<(String, CachedRun)> = {
            let mut runs = self.lock_runs();
            let mut idle = Self::idle_runs(&runs);
            idle.sort_unstable_by_key(|(last_active, ..)| *last_active);
            let mut freed = 0;
            idle.into_iter()
                .take_while(|(_, memory, _)| {
                    let more = freed < bytes;
                    freed += memory;
                    more
                })
                .filter_map(|(_, _, run_id)| runs.remove(&run_id).map(|run| (run_id, run)))
                .collect()
        };
        if evicted.is_empty() {
            return;
        }
        tracing::info!(
            runs = evicted.len(),
            "evicting idle workflow runs to stay within the worker's memory budget"
        );
        for (run_id, run) in evicted {
            if let Some(core) = self.core.get() {
                core.request_workflow_eviction(&run_id);
            }
            // Dropping the instance gives its memory back to the budget.
            drop(run);
        }
    }
}

/// The commands of an activation of queries alone, which may only answer them.
fn only_query_answers(
    run_id: &str,
    commands: Vec<guest::Command>,
) -> Result<Vec<guest::Command>, WorkflowTaskError> {
    match commands
        .iter()
        .find(|command| !matches!(command, guest::Command::RespondToQuery(_)))
    {
        Some(command) => Err(WorkflowTaskError::QueryIssuedCommand {
            run_id: run_id.to_owned(),
            command: command_name(command),
        }),
        None => Ok(commands),
    }
}

fn unanswered_query(id: String) -> guest::Command {
    let message = "the workflow did not answer the query (its component returned without a \
                   response for it)";
    guest::Command::RespondToQuery(guest::QueryResponse {
        id,
        outcome: Err(vec![host_frame(
            message.to_owned(),
            types::FailureInfo::Other,
        )]),
    })
}

/// The encoded size of each update request the activation delivers, by protocol
/// instance id.
fn update_request_bytes(activation: &guest::Activation) -> Vec<(String, usize)> {
    activation
        .jobs
        .iter()
        .filter_map(|job| match job {
            guest::Job::Update(update) => {
                let arguments: usize = update
                    .arguments
                    .iter()
                    .map(|p| {
                        p.data.len()
                            + p.metadata
                                .iter()
                                .map(|(key, value)| key.len() + value.len())
                                .sum::<usize>()
                    })
                    .sum();
                let size = update.id.len() + update.name.len() + arguments;
                Some((update.protocol_instance_id.clone(), size))
            }
            _ => None,
        })
        .collect()
}

/// What the updates `completion` accepts add to the request core sends with it.
fn accepted_update_bytes(
    completion: &WorkflowActivationCompletion,
    updates: &[(String, usize)],
) -> usize {
    let Some(Status::Successful(success)) = &completion.status else {
        return 0;
    };
    success
        .commands
        .iter()
        .filter_map(|command| match &command.variant {
            Some(CoreCommand::UpdateResponse(UpdateResponse {
                protocol_instance_id,
                response: Some(update_response::Response::Accepted(())),
            })) => updates
                .iter()
                .find(|(id, _)| id == protocol_instance_id)
                .map(|(_, size)| *size),
            _ => None,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::bindings::types::Payload;

    fn update(id: &str, bytes: usize) -> guest::Job {
        guest::Job::Update(guest::Update {
            id: id.to_owned(),
            protocol_instance_id: id.to_owned(),
            name: "u".to_owned(),
            arguments: vec![Payload {
                metadata: Vec::new(),
                data: vec![0; bytes],
            }],
            run_validator: true,
        })
    }

    fn respond(id: &str, accepted: bool) -> CoreCommand {
        CoreCommand::UpdateResponse(UpdateResponse {
            protocol_instance_id: id.to_owned(),
            response: Some(if accepted {
                update_response::Response::Accepted(())
            } else {
                update_response::Response::Rejected(Failure::default())
            }),
        })
    }

    #[test]
    fn accepted_updates_count_toward_the_completion_they_go_back_with() {
        let activation = guest::Activation {
            timestamp: types::Timestamp {
                seconds: 0,
                nanos: 0,
            },
            is_replaying: false,
            history_length: 1,
            history_size_bytes: 0,
            continue_as_new_suggested: false,
            jobs: vec![update("a", 1000), update("b", 2000)],
        };
        let updates = update_request_bytes(&activation);
        let completion = WorkflowActivationCompletion::from_cmds(
            "run".to_owned(),
            vec![respond("a", true), respond("b", false)],
        );
        assert_eq!(
            accepted_update_bytes(&completion, &updates),
            1000 + "a".len() * 2,
            "only the accepted one, with its id and name"
        );
    }
}
