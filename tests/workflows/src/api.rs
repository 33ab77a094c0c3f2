//! Workflows for the workflow-API tests: messages, children, continue-as-new,
//! cancellation, patching and signals to other workflows.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use sandglass::{
    ActivityDefinition, ActivityOptions, ChildWorkflowOptions, Handlers, QueryDefinition,
    SignalDefinition, UpdateDefinition, Workflow, WorkflowContext, WorkflowDefinition,
    WorkflowError, WorkflowResult,
};
use serde::{Deserialize, Serialize};

const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");

fn greet_options() -> ActivityOptions {
    ActivityOptions::start_to_close(Duration::from_secs(30))
}

const ADD: SignalDefinition<i64> = SignalDefinition::new("add");
const FINISH: SignalDefinition<()> = SignalDefinition::new("finish");
const TOTAL: QueryDefinition<(), i64> = QueryDefinition::new("total");
const ADD_CHECKED: UpdateDefinition<i64, i64> = UpdateDefinition::new("add_checked");
const ADD_AFTER_TIMER: UpdateDefinition<i64, i64> = UpdateDefinition::new("add_after_timer");

/// A running total changed by signals and updates, read by a query; finishes on the
/// `finish` signal once no handler is running, returning the total.
#[derive(Default)]
pub struct MessagesWorkflow {
    total: Cell<i64>,
    finished: Cell<bool>,
}

impl Workflow for MessagesWorkflow {
    type Input = ();
    type Output = i64;
    const DEFINITION: WorkflowDefinition<(), i64> = WorkflowDefinition::new("MessagesWorkflow");

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .signal(ADD, |workflow, _ctx, amount| {
                workflow.total.set(workflow.total.get() + amount)
            })
            .signal(FINISH, |workflow, _ctx, ()| workflow.finished.set(true))
            .query(TOTAL, |workflow, ()| workflow.total.get())
            .update(ADD_CHECKED, |workflow, _ctx, amount| {
                workflow.total.set(workflow.total.get() + amount);
                Ok(workflow.total.get())
            })
            .validator(ADD_CHECKED, |_workflow, amount| {
                if *amount < 0 {
                    Err(WorkflowError::application(
                        "NegativeAmount",
                        format!("cannot add {amount}: amounts must not be negative"),
                    ))
                } else {
                    Ok(())
                }
            })
            .update_async(ADD_AFTER_TIMER, |workflow, ctx, amount| async move {
                ctx.sleep(Duration::from_millis(500)).await?;
                workflow.total.set(workflow.total.get() + amount);
                Ok(workflow.total.get())
            });
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<i64> {
        let (this, handlers) = (self.clone(), ctx.clone());
        ctx.wait_condition(move || this.finished.get() && handlers.all_handlers_finished())
            .await?;
        Ok(self.total.get())
    }
}

/// Input of `ParentWorkflow`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ParentInput {
    pub name: String,
    /// Run the Python SDK's `PythonChildWorkflow` on this task queue instead of
    /// `ChildWorkflow` on the parent's.
    pub python_task_queue: Option<String>,
    /// Run `PythonDeepFailureWorkflow` there instead, which fails with a deep chain of
    /// causes.
    #[serde(default)]
    pub python_deep_failure: bool,
}

const CHILD: WorkflowDefinition<String, String> = WorkflowDefinition::new("ChildWorkflow");
const PYTHON_CHILD: WorkflowDefinition<String, String> =
    WorkflowDefinition::new("PythonChildWorkflow");
const PYTHON_DEEP_FAILURE: WorkflowDefinition<String, String> =
    WorkflowDefinition::new("PythonDeepFailureWorkflow");

/// Runs a child workflow (Sandglass or Python) and returns what it said.
#[derive(Default)]
pub struct ParentWorkflow;

impl Workflow for ParentWorkflow {
    type Input = ParentInput;
    type Output = String;
    const DEFINITION: WorkflowDefinition<ParentInput, String> =
        WorkflowDefinition::new("ParentWorkflow");

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        input: ParentInput,
    ) -> WorkflowResult<String> {
        let child_id = format!("{}-child", ctx.info().workflow_id);
        let said = match input.python_task_queue {
            Some(task_queue) => {
                let options = ChildWorkflowOptions {
                    task_queue: Some(task_queue),
                    ..ChildWorkflowOptions::with_id(child_id)
                };
                let child = if input.python_deep_failure {
                    PYTHON_DEEP_FAILURE
                } else {
                    PYTHON_CHILD
                };
                ctx.execute_child_workflow(child, &input.name, options)
                    .await?
            }
            None => {
                ctx.execute_child_workflow(
                    CHILD,
                    &input.name,
                    ChildWorkflowOptions::with_id(child_id),
                )
                .await?
            }
        };
        Ok(format!("parent got: {said}"))
    }
}

/// A child: greets, naming its parent.
#[derive(Default)]
pub struct ChildWorkflow;

impl Workflow for ChildWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = CHILD;

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        let parent = ctx
            .info()
            .parent
            .as_ref()
            .map_or("nobody".to_owned(), |parent| parent.workflow_id.clone());
        Ok(format!("Sandglass child of {parent} greets {name}"))
    }
}

/// Continues as new `n` times, then reports how it got there.
#[derive(Default)]
pub struct CountdownWorkflow;

impl Workflow for CountdownWorkflow {
    type Input = u32;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u32, String> =
        WorkflowDefinition::new("CountdownWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, n: u32) -> WorkflowResult<String> {
        if n > 0 {
            return Err(ctx.continue_as_new(&(n - 1)));
        }
        let info = ctx.info();
        Ok(format!(
            "continued: {}, same chain: {}",
            info.continued_from_run_id.is_some(),
            info.first_execution_run_id != info.run_id
        ))
    }
}

/// Waits an hour; cancelled, it runs a cleanup activity that cancellation cannot reach,
/// then ends as cancelled.
#[derive(Default)]
pub struct CancellableWorkflow;

impl Workflow for CancellableWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> =
        WorkflowDefinition::new("CancellableWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        match ctx.sleep(Duration::from_secs(3600)).await {
            Ok(()) => Ok("slept".to_owned()),
            Err(cancelled) => {
                let cleanup = ctx.non_cancellable(|| {
                    ctx.execute_activity(GREET, "cleanup".to_owned(), greet_options())
                });
                let cleaned = cleanup.await?;
                sandglass::info!("cleaned up: {cleaned}");
                Err(cancelled.into())
            }
        }
    }
}

/// The code before a patch: greets "old".
#[derive(Default)]
pub struct PrePatchWorkflow;

impl Workflow for PrePatchWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> = WorkflowDefinition::new("PrePatchWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(GREET, "old".to_owned(), greet_options())
            .await?)
    }
}

/// The same workflow after the patch: new runs greet "new", old histories replay.
#[derive(Default)]
pub struct PatchedWorkflow;

impl Workflow for PatchedWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> = WorkflowDefinition::new("PatchedWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        let name = if ctx.patched("greet-new") {
            "new"
        } else {
            "old"
        };
        Ok(ctx
            .execute_activity(GREET, name.to_owned(), greet_options())
            .await?)
    }
}

/// Signals `add` with 5 to the workflow with the given id, then `finish`.
#[derive(Default)]
pub struct SignalOtherWorkflow;

impl Workflow for SignalOtherWorkflow {
    type Input = String;
    type Output = ();
    const DEFINITION: WorkflowDefinition<String, ()> =
        WorkflowDefinition::new("SignalOtherWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, target: String) -> WorkflowResult<()> {
        let other = ctx.external_workflow(target, None);
        other.signal(ADD, &5).await?;
        other.signal(FINISH, &()).await?;
        Ok(())
    }
}

/// Upserts the `SandglassStage` search attribute and a memo field, then reads both back.
#[derive(Default)]
pub struct UpsertWorkflow;

impl Workflow for UpsertWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> = WorkflowDefinition::new("UpsertWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        ctx.upsert_search_attributes(&[("SandglassStage", "shipped")]);
        ctx.upsert_memo(&[("note", "hello")]);
        let stage: String = ctx
            .search_attribute("SandglassStage")
            .transpose()?
            .unwrap_or_default();
        let note: String = ctx.memo("note").transpose()?.unwrap_or_default();
        Ok(format!("{stage} {note}"))
    }
}

/// Asks the workflow with the given id to cancel, and returns once the server has
/// recorded the request.
#[derive(Default)]
pub struct CancelOtherWorkflow;

impl Workflow for CancelOtherWorkflow {
    type Input = String;
    type Output = ();
    const DEFINITION: WorkflowDefinition<String, ()> =
        WorkflowDefinition::new("CancelOtherWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, target: String) -> WorkflowResult<()> {
        ctx.external_workflow(target, None)
            .cancel("cancelled by a peer")
            .await?;
        Ok(())
    }
}
