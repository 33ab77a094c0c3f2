//! One run's life across activations: start it, apply jobs, drive it, collect commands.
//!
//! | phase      | activation with `initialize`         | other activation                |
//! |------------|--------------------------------------|---------------------------------|
//! | `Waiting`  | start the run → `Running` (or error) | error: jobs before `initialize` |
//! | `Running`  | error: initialized twice             | apply jobs, run until blocked   |
//! | `Finished` | no commands                          | no commands                     |
//! | `Broken`   | the error that broke it, again       | the error that broke it, again  |
//!
//! `Running` becomes `Finished` once the run has issued `complete-workflow` or
//! `fail-workflow`, and any phase becomes `Broken` when an activation fails the workflow
//! task: its jobs may be half applied, so this instance must not go on (Temporal replays
//! the run in a fresh one).

use std::any::type_name;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Waker;

use crate::bindings::exports::sandglass::workflow::guest::{Activation, Command, Initialize, Job};
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::error::application_frame;
use crate::executor::Executor;
use crate::state::{RunState, Shared, TaskFailure};
use crate::time::to_system_time;
use crate::{Workflow, WorkflowContext, WorkflowInfo, payload};

/// Error types of workflow task failures, for logs and the Temporal UI.
const UNKNOWN_WORKFLOW_TYPE: &str = "UnknownWorkflowType";
const PAYLOAD_DECODE_ERROR: &str = "PayloadDecodeError";
const PAYLOAD_ENCODE_ERROR: &str = "PayloadEncodeError";
const PROTOCOL_ERROR: &str = "SandglassProtocolError";

type RunFuture = Pin<Box<dyn Future<Output = ()>>>;

/// How to start runs of one workflow type: an item of `export_workflows!`'s list.
#[doc(hidden)]
pub struct WorkflowEntry {
    name: &'static str,
    start: fn(&WorkflowContext, &[Payload]) -> Result<RunFuture, TaskFailure>,
}

impl WorkflowEntry {
    /// The entry for workflow type `W`.
    pub const fn of<W: Workflow>() -> Self {
        Self {
            name: W::DEFINITION.name(),
            start: start::<W>,
        }
    }

    /// The Temporal workflow type name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// Decodes the input, constructs the workflow with `init` and returns the run's future,
/// which issues the final command when `run` returns.
fn start<W: Workflow>(
    ctx: &WorkflowContext,
    arguments: &[Payload],
) -> Result<RunFuture, TaskFailure> {
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
    let run = W::run(workflow, ctx.clone(), input);
    let ctx = ctx.clone();
    Ok(Box::pin(async move {
        let result = run.await;
        ctx.finish(final_command::<W>(result));
    }))
}

/// The command that ends the run, or why the task must fail instead.
fn final_command<W: Workflow>(
    result: crate::WorkflowResult<W::Output>,
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
        Err(error) => error
            .into_failure()
            .map(Command::FailWorkflow)
            .map_err(|message| TaskFailure {
                error_type: PAYLOAD_ENCODE_ERROR,
                message: format!("workflow {:?}: {message}", W::DEFINITION.name()),
            }),
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
    },
    Finished,
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
        match &self.phase {
            Phase::Broken(_) | Phase::Finished => return Ok(Vec::new()),
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
        let Phase::Running { shared, executor } = &mut self.phase else {
            return Ok(Vec::new());
        };

        for job in jobs {
            let waker = apply(shared, job)?;
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        executor.run_until_stalled(|| {
            let state = shared.state.borrow();
            state.is_finished() || state.has_task_failure()
        });

        let (failure, commands, finished) = {
            let mut state = shared.state.borrow_mut();
            (
                state.take_task_failure(),
                state.take_commands(),
                state.is_finished(),
            )
        };
        if let Some(failure) = failure {
            return Err(failure);
        }
        if finished {
            self.phase = Phase::Finished;
        }
        Ok(commands)
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
            },
            state: RefCell::new(RunState::new(activation, initialize.randomness_seed)),
        });
        let ctx = WorkflowContext::new(shared.clone());
        let run = (entry.start)(&ctx, &initialize.arguments)?;
        let mut executor = Executor::default();
        executor.spawn(run);
        Ok(Phase::Running { shared, executor })
    }
}

/// Applies one job after `initialize`, returning a waker to call once no borrow is held.
fn apply(shared: &Shared, job: Job) -> Result<Option<Waker>, TaskFailure> {
    let mut state = shared.state.borrow_mut();
    match job {
        Job::Initialize(initialize) => Err(protocol_error(format!(
            "`initialize` for workflow type {:?} arrived for a run that is already initialized",
            initialize.workflow_type
        ))),
        Job::FireTimer(seq) => state
            .timers
            .resolve(seq, ())
            .map_err(|error| protocol_error(format!("fire-timer: timer {error}"))),
        Job::ResolveActivity(resolve) => state
            .activities
            .resolve(resolve.seq, resolve.resolution)
            .map_err(|error| protocol_error(format!("resolve-activity: activity {error}"))),
        Job::UpdateRandomSeed(seed) => {
            state.rng = crate::random::Rng::new(seed);
            Ok(None)
        }
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
    }
}
