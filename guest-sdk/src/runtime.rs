//! One run's life across activations: start it, apply jobs, drive it, collect commands.
//!
//! | phase      | activation with `initialize`         | other activation                |
//! |------------|--------------------------------------|---------------------------------|
//! | `Waiting`  | start the run → `Running` (or error) | error: jobs before `initialize` |
//! | `Running`  | error: initialized twice             | apply jobs, run until blocked   |
//! | `Broken`   | the error that broke it, again       | the error that broke it, again  |
//!
//! A run that has issued `complete-workflow` or `fail-workflow` stays `Running` but runs
//! no more workflow code: it only answers queries (a completed workflow can still be
//! queried) and rejects updates. Any phase becomes `Broken` when an activation fails the
//! workflow task: its jobs may be half applied, so this instance must not go on (Temporal
//! replays the run in a fresh one).
//!
//! Messages: a signal or an accepted update starts its handler as a task, polled at once;
//! queries are answered after the rest of the activation has run, so they see its effects.

use std::any::type_name;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Waker;

use sandglass_declare::failure_types::{
    PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR, PROTOCOL_ERROR, UNKNOWN_HANDLER,
    UNKNOWN_WORKFLOW_TYPE, WORKFLOW_FINISHED,
};

use crate::bindings::exports::sandglass::workflow::guest::{
    Activation, ChildStartResolution, Command, Initialize, Job, Query, QueryResponse, Signal,
    Update, UpdateOutcome, UpdateResponse, WorkflowDescription,
};
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::executor::Executor;
use crate::failure::application_frame;
use crate::handlers::{Dispatch, HandlerTable, Handlers, failure};
use crate::state::{RunState, Shared, TaskFailure};
use crate::time::{from_wit_duration, to_system_time};
use crate::{ParentWorkflow, Workflow, WorkflowContext, WorkflowInfo, WorkflowInit, payload};

type RunFuture = Pin<Box<dyn Future<Output = ()>>>;

/// What starting a run yields: its `run` future and its bound handlers.
type Started = (RunFuture, HandlerTable);

/// How to start runs of one workflow type: an item of `export_workflows!`'s list.
#[doc(hidden)]
pub struct WorkflowEntry {
    name: &'static str,
    start: fn(&WorkflowContext, &[Payload]) -> Result<Started, TaskFailure>,
    describe: fn() -> WorkflowDescription,
}

impl WorkflowEntry {
    /// The entry for workflow type `W`.
    pub const fn of<W: WorkflowInit>() -> Self {
        Self {
            name: W::DEFINITION.name(),
            start: start::<W>,
            describe: describe::<W>,
        }
    }

    /// The Temporal workflow type name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The type's name and the messages its handlers take.
    pub fn describe(&self) -> WorkflowDescription {
        (self.describe)()
    }
}

/// Registers `W`'s handlers on an empty table, only to read their names.
fn describe<W: Workflow>() -> WorkflowDescription {
    let mut handlers = Handlers::<W>::new();
    W::handlers(&mut handlers);
    handlers.describe(W::DEFINITION.name())
}

/// Decodes the input, constructs the workflow with `init`, binds its handlers and returns
/// the run's future, which issues the final command when `run` returns.
fn start<W: WorkflowInit>(
    ctx: &WorkflowContext,
    arguments: &[Payload],
) -> Result<Started, TaskFailure> {
    let input: W::Input = payload::decode_arguments(arguments).map_err(|error| TaskFailure {
        error_type: PAYLOAD_DECODE_ERROR,
        message: format!(
            "workflow {:?}: its input ({} argument{}) does not decode as `{}`: {error}",
            W::DEFINITION.name(),
            arguments.len(),
            if arguments.len() == 1 { "" } else { "s" },
            type_name::<W::Input>(),
        ),
    })?;
    let workflow = Rc::new(W::init(ctx, &input));
    let mut handlers = Handlers::new();
    W::handlers(&mut handlers);
    let handlers = handlers.bind(workflow.clone(), ctx.clone());
    let run = W::run(workflow, ctx.clone(), input);
    let ctx = ctx.clone();
    let run = Box::pin(async move {
        let result = run.await;
        let cancelled = ctx.is_cancel_requested();
        ctx.finish(final_command::<W>(result, cancelled));
    });
    Ok((run, handlers))
}

/// The command that ends the run, or why the task must fail instead.
pub(crate) fn final_command<W: Workflow>(
    result: crate::WorkflowResult<W::Output>,
    cancel_requested: bool,
) -> Result<Command, TaskFailure> {
    match result {
        Ok(output) => payload::encode(&output)
            .map(|payload| Command::CompleteWorkflow(Some(payload)))
            .map_err(|error| TaskFailure {
                error_type: PAYLOAD_ENCODE_ERROR,
                message: format!(
                    "workflow {:?}: its result of type `{}` does not encode as JSON: {error}",
                    W::DEFINITION.name(),
                    type_name::<W::Output>(),
                ),
            }),
        Err(mut error) => {
            if let Some(next) = error.take_continue_as_new() {
                return Ok(Command::ContinueAsNew(next));
            }
            if cancel_requested && error.is_cancellation() {
                return Ok(Command::CancelWorkflow);
            }
            error
                .into_failure()
                .map(Command::FailWorkflow)
                .map_err(|message| TaskFailure {
                    error_type: PAYLOAD_ENCODE_ERROR,
                    message: format!("workflow {:?}: {message}", W::DEFINITION.name()),
                })
        }
    }
}

/// The component's one run, across its activations.
pub(crate) struct Runtime {
    workflows: &'static [WorkflowEntry],
    phase: Phase,
}

enum Phase {
    Waiting,
    Running {
        shared: Rc<Shared>,
        executor: Executor,
        handlers: HandlerTable,
    },
    Broken(Failure),
}

impl Runtime {
    /// A runtime that can start any of `workflows`.
    pub(crate) fn new(workflows: &'static [WorkflowEntry]) -> Self {
        Self {
            workflows,
            phase: Phase::Waiting,
        }
    }

    /// Applies one activation and returns the commands it produced; `Err` fails the
    /// workflow task.
    pub(crate) fn activate(&mut self, activation: Activation) -> Result<Vec<Command>, Failure> {
        if let Phase::Broken(failure) = &self.phase {
            return Err(failure.clone());
        }
        match self.try_activate(activation) {
            Ok(commands) => Ok(commands),
            Err(failure) => {
                let frames = vec![application_frame(
                    failure.message,
                    failure.error_type.to_owned(),
                    false,
                    Vec::new(),
                )];
                self.phase = Phase::Broken(frames.clone());
                Err(frames)
            }
        }
    }

    fn try_activate(&mut self, mut activation: Activation) -> Result<Vec<Command>, TaskFailure> {
        let mut jobs = std::mem::take(&mut activation.jobs).into_iter();
        let started = matches!(self.phase, Phase::Waiting);
        match &self.phase {
            Phase::Broken(_) => return Ok(Vec::new()),
            Phase::Running { shared, .. } => shared.state.borrow_mut().observe(&activation),
            Phase::Waiting => match jobs.next() {
                Some(Job::Initialize(initialize)) => {
                    self.phase = self.start(initialize, &activation)?
                }
                Some(other) => {
                    return Err(protocol_error(format!(
                        "the first job of a run must be `initialize`, got `{}`",
                        job_name(&other)
                    )));
                }
                None => {
                    return Err(protocol_error(
                        "the first activation of a run has no jobs".to_owned(),
                    ));
                }
            },
        }
        let Phase::Running {
            shared,
            executor,
            handlers,
        } = &mut self.phase
        else {
            return Ok(Vec::new());
        };

        let finished_before = shared.state.borrow().is_finished();
        let mut queries = Vec::new();
        // An activation of queries alone must not run workflow code (nor its conditions).
        let mut needs_drive = started;
        for job in jobs {
            if !matches!(job, Job::Query(_)) {
                needs_drive = true;
            }
            match job {
                Job::Query(query) => queries.push(query),
                Job::Signal(signal) if !finished_before => {
                    deliver_signal(shared, executor, handlers, signal)
                }
                Job::Update(update) => {
                    deliver_update(shared, executor, handlers, update, finished_before)
                }
                // A finished run has nothing left to tell about these.
                Job::Signal(_) | Job::FireTimer(_) | Job::ResolveActivity(_) if finished_before => {
                }
                job => {
                    let wakers = apply(shared, job)?;
                    wakers.into_iter().for_each(Waker::wake);
                }
            }
        }
        if !finished_before && needs_drive {
            drive(shared, executor);
        }
        for query in queries {
            answer_query(shared, handlers, query);
        }

        let mut state = shared.state.borrow_mut();
        if let Some(failure) = state.take_task_failure() {
            return Err(failure);
        }
        if state.is_finished() && !finished_before && !state.running_handlers.is_empty() {
            let running: Vec<String> = state
                .running_handlers
                .values()
                .map(|(kind, name)| format!("{kind} {name:?}"))
                .collect();
            crate::warn!(
                "workflow {:?} finished while handlers were still running: {}. Their work \
                 was abandoned, and callers of unfinished updates get an error instead of a \
                 result. To let them finish, await \
                 `ctx.wait_condition(|| ctx.all_handlers_finished())` before returning.",
                shared.info.workflow_type,
                running.join(", ")
            );
        }
        Ok(state.take_commands())
    }

    /// Starts the run that `initialize` describes.
    fn start(&self, initialize: Initialize, activation: &Activation) -> Result<Phase, TaskFailure> {
        let Some(entry) = self
            .workflows
            .iter()
            .find(|entry| entry.name == initialize.workflow_type)
        else {
            let known: Vec<&str> = self.workflows.iter().map(|entry| entry.name).collect();
            return Err(TaskFailure {
                error_type: UNKNOWN_WORKFLOW_TYPE,
                message: format!(
                    "workflow type {:?} is not defined by this component; it defines {known:?}",
                    initialize.workflow_type
                ),
            });
        };
        let shared = Rc::new(Shared {
            info: WorkflowInfo {
                workflow_type: initialize.workflow_type,
                workflow_id: initialize.workflow_id,
                run_id: initialize.run_id,
                namespace: initialize.namespace,
                task_queue: initialize.task_queue,
                attempt: initialize.attempt,
                start_time: initialize.start_time.map(to_system_time),
                parent: initialize
                    .parent
                    .map(|(workflow_id, run_id)| ParentWorkflow {
                        workflow_id,
                        run_id,
                    }),
                continued_from_run_id: initialize.continued_from_run_id,
                first_execution_run_id: initialize.first_execution_run_id,
                execution_timeout: initialize.execution_timeout.map(from_wit_duration),
                run_timeout: initialize.run_timeout.map(from_wit_duration),
                cron_schedule: initialize.cron_schedule,
            },
            state: RefCell::new(RunState::new(activation, initialize.randomness_seed)),
        });
        {
            let mut state = shared.state.borrow_mut();
            state.memo = initialize.memo.into_iter().collect();
            state.search_attributes = initialize.search_attributes.into_iter().collect();
        }
        let ctx = WorkflowContext::new(shared.clone());
        let (run, handlers) = (entry.start)(&ctx, &initialize.arguments)?;
        let mut executor = Executor::default();
        executor.spawn(run);
        Ok(Phase::Running {
            shared,
            executor,
            handlers,
        })
    }
}

/// Runs the run's tasks until all wait on Temporal, re-checking `wait_condition`s each
/// time they stall, until no condition comes true.
fn drive(shared: &Shared, executor: &mut Executor) {
    let stop = || {
        let state = shared.state.borrow();
        state.is_finished() || state.has_task_failure()
    };
    loop {
        executor.run_until_stalled(stop);
        if stop() {
            return;
        }
        let (waiters, met) = {
            let mut state = shared.state.borrow_mut();
            (
                std::mem::take(&mut state.condition_waiters),
                state.conditions_met,
            )
        };
        if waiters.is_empty() {
            return;
        }
        waiters.into_iter().for_each(Waker::wake);
        executor.run_until_stalled(stop);
        if stop() || shared.state.borrow().conditions_met == met {
            return;
        }
    }
}

/// Runs a handler's future as a task of its own, counted in `running_handlers`.
fn spawn_handler(
    shared: &Rc<Shared>,
    executor: &mut Executor,
    kind: &'static str,
    name: String,
    handler: impl Future<Output = ()> + 'static,
) {
    let id = shared.state.borrow_mut().handler_started(kind, name);
    let shared = shared.clone();
    executor.spawn_and_poll(async move {
        handler.await;
        shared.state.borrow_mut().handler_finished(id);
    });
}

/// Starts a signal's handler, or drops the signal with a warning: a signal has no caller
/// to answer, and failing the task would block the run until new code is deployed.
fn deliver_signal(
    shared: &Rc<Shared>,
    executor: &mut Executor,
    handlers: &HandlerTable,
    signal: Signal,
) {
    match handlers.signal(&signal.name, signal.arguments) {
        Dispatch::Handled(Ok(handler)) => {
            spawn_handler(shared, executor, "signal", signal.name, handler)
        }
        Dispatch::Handled(Err(message)) => {
            crate::warn!("{message}; the signal was dropped")
        }
        Dispatch::Unknown(known) => crate::warn!(
            "workflow {:?} has no handler for signal {:?} (it handles {known:?}); the \
             signal was dropped",
            shared.info.workflow_type,
            signal.name
        ),
    }
}

/// Validates and accepts an update and starts its handler, or rejects it.
fn deliver_update(
    shared: &Rc<Shared>,
    executor: &mut Executor,
    handlers: &HandlerTable,
    update: Update,
    finished: bool,
) {
    let respond = |shared: &Shared, outcome: UpdateOutcome| {
        shared
            .state
            .borrow_mut()
            .push_reply(Command::RespondToUpdate(UpdateResponse {
                protocol_instance_id: update.protocol_instance_id.clone(),
                outcome,
            }))
    };
    if finished {
        let message = format!(
            "update {:?}: the workflow has already finished, so it takes no more updates",
            update.name
        );
        return respond(
            shared,
            UpdateOutcome::Rejected(failure(WORKFLOW_FINISHED, message)),
        );
    }
    let handler = match handlers.update(&update.name, update.arguments, update.run_validator) {
        Dispatch::Handled(Ok(handler)) => handler,
        Dispatch::Handled(Err(rejection)) => {
            return respond(shared, UpdateOutcome::Rejected(rejection));
        }
        Dispatch::Unknown(known) => {
            let message = format!(
                "workflow {:?} has no handler for update {:?}; it handles {known:?}",
                shared.info.workflow_type, update.name
            );
            return respond(
                shared,
                UpdateOutcome::Rejected(failure(UNKNOWN_HANDLER, message)),
            );
        }
    };
    respond(shared, UpdateOutcome::Accepted);
    let reply_to = update.protocol_instance_id;
    let replier = shared.clone();
    spawn_handler(shared, executor, "update", update.name, async move {
        let outcome = match handler.await {
            Ok(result) => UpdateOutcome::Completed(result),
            Err(failure) => UpdateOutcome::Rejected(failure),
        };
        replier
            .state
            .borrow_mut()
            .push_command(Command::RespondToUpdate(UpdateResponse {
                protocol_instance_id: reply_to,
                outcome,
            }));
    });
}

/// Answers a query from the handlers, after the activation's other jobs have run.
fn answer_query(shared: &Shared, handlers: &HandlerTable, query: Query) {
    let outcome = match handlers.query(&query.name, query.arguments) {
        Dispatch::Handled(outcome) => outcome,
        Dispatch::Unknown(known) => Err(failure(
            UNKNOWN_HANDLER,
            format!(
                "workflow {:?} has no handler for query {:?}; it handles {known:?}",
                shared.info.workflow_type, query.name
            ),
        )),
    };
    shared
        .state
        .borrow_mut()
        .push_reply(Command::RespondToQuery(QueryResponse {
            id: query.id,
            outcome,
        }));
}

/// Applies one job after `initialize`, returning the wakers to call once no borrow is
/// held.
fn apply(shared: &Shared, job: Job) -> Result<Vec<Waker>, TaskFailure> {
    let mut state = shared.state.borrow_mut();
    match job {
        Job::Initialize(initialize) => Err(protocol_error(format!(
            "`initialize` for workflow type {:?} arrived for a run that is already initialized",
            initialize.workflow_type
        ))),
        Job::FireTimer(seq) => state
            .timers
            .resolve(seq, ())
            .map(|waker| waker.into_iter().collect())
            .map_err(|error| protocol_error(format!("fire-timer: timer {error}"))),
        Job::ResolveActivity(resolve) => state
            .activities
            .resolve(resolve.seq, resolve.resolution)
            .map(|waker| waker.into_iter().collect())
            .map_err(|error| protocol_error(format!("resolve-activity: activity {error}"))),
        Job::UpdateRandomSeed(seed) => {
            state.rng = crate::random::Rng::new(seed);
            Ok(Vec::new())
        }
        // The request cancels the root scope; only the first reason counts.
        Job::CancelRequested(reason) => Ok(state.scopes.cancel(crate::scope::ROOT, &reason)),
        Job::NotifyHasPatch(patch_id) => {
            state.patches_in_history.insert(patch_id);
            Ok(Vec::new())
        }
        Job::ResolveChildStart(start) => {
            let started = matches!(start.resolution, ChildStartResolution::Started(_));
            let wanted = state.child_starts.is_waiting(start.seq);
            let waker = state
                .child_starts
                .resolve(start.seq, start.resolution)
                .map_err(|error| protocol_error(format!("resolve-child-start: child {error}")))?;
            if started {
                state.children.expect(start.seq);
                if !wanted {
                    // Its start future was dropped: the result is ignored when it comes.
                    state.children.abandon(start.seq);
                }
            }
            Ok(waker.into_iter().collect())
        }
        Job::ResolveChild(resolve) => state
            .children
            .resolve(resolve.seq, resolve.resolution)
            .map(|waker| waker.into_iter().collect())
            .map_err(|error| protocol_error(format!("resolve-child: child {error}"))),
        Job::ResolveSignalExternal(resolve) | Job::ResolveCancelExternal(resolve) => state
            .externals
            .resolve(resolve.seq, resolve.failure)
            .map(|waker| waker.into_iter().collect())
            .map_err(|error| {
                protocol_error(format!("resolve-external: signal or cancellation {error}"))
            }),
        // The runtime delivers messages itself, before calling `apply`.
        Job::Signal(_) | Job::Query(_) | Job::Update(_) => Err(protocol_error(format!(
            "`{}` reached the job applier; this is a bug in the Sandglass guest SDK",
            job_name(&job)
        ))),
    }
}

fn protocol_error(message: String) -> TaskFailure {
    TaskFailure {
        error_type: PROTOCOL_ERROR,
        message,
    }
}

fn job_name(job: &Job) -> &'static str {
    match job {
        Job::Initialize(_) => "initialize",
        Job::FireTimer(_) => "fire-timer",
        Job::ResolveActivity(_) => "resolve-activity",
        Job::UpdateRandomSeed(_) => "update-random-seed",
        Job::Signal(_) => "signal",
        Job::Query(_) => "query",
        Job::Update(_) => "update",
        Job::CancelRequested(_) => "cancel-requested",
        Job::NotifyHasPatch(_) => "notify-has-patch",
        Job::ResolveChildStart(_) => "resolve-child-start",
        Job::ResolveChild(_) => "resolve-child",
        Job::ResolveSignalExternal(_) => "resolve-signal-external",
        Job::ResolveCancelExternal(_) => "resolve-cancel-external",
    }
}
