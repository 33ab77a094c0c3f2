//! The `Workflow` trait: what a workflow type implements.

use std::future::Future;
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Handlers, WorkflowContext, WorkflowDefinition, WorkflowResult};

/// A workflow type: its definition, its handlers, and what it runs.
///
/// A component exports its workflow types with [`export_workflows!`](crate::export_workflows).
/// For each run the SDK decodes the input, builds the workflow's state with
/// [`WorkflowInit::init`] (`Default::default()` unless the type implements it), then
/// drives [`run`](Self::run) to completion across activations; its `Ok` value completes
/// the workflow, its `Err` fails it.
///
/// ```
/// use std::rc::Rc;
/// use std::time::Duration;
/// use sandglass::{
///     ActivityDefinition, ActivityOptions, Workflow, WorkflowContext, WorkflowDefinition,
///     WorkflowResult,
/// };
///
/// const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
///
/// #[derive(Default)]
/// struct GreetingWorkflow;
///
/// impl Workflow for GreetingWorkflow {
///     type Input = String;
///     type Output = String;
///     const DEFINITION: WorkflowDefinition<String, String> =
///         WorkflowDefinition::new("GreetingWorkflow");
///
///     async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
///         let options = ActivityOptions::start_to_close(Duration::from_secs(30));
///         Ok(ctx.execute_activity(GREET, name, options).await?)
///     }
/// }
/// ```
pub trait Workflow: Sized + 'static {
    /// The run's input. Zero arguments decode as JSON `null` (fits `()` and `Option`),
    /// one argument as itself, several as a JSON array (fits a tuple).
    type Input: DeserializeOwned + 'static;
    /// The run's result, sent to Temporal as JSON.
    type Output: Serialize + 'static;
    /// The Temporal workflow type name, with the input and output types; usually a
    /// constant from a crate shared with the worker and clients.
    const DEFINITION: WorkflowDefinition<Self::Input, Self::Output>;

    /// Registers the workflow's signal, query and update handlers. Called once per run,
    /// after [`WorkflowInit::init`] and before any message is delivered. The default
    /// registers none: signals are then dropped with a warning, and queries and updates
    /// are rejected with an error naming the missing handler.
    fn handlers(handlers: &mut Handlers<Self>) {
        let _ = handlers;
    }

    /// The workflow's main body. Write it as `async fn run(self: Rc<Self>, ...)`.
    ///
    /// Everything it awaits must come from the [`WorkflowContext`] (or other futures built
    /// on it): a future woken by anything else (a thread, real I/O) never makes progress,
    /// since the host only runs the workflow when Temporal has news for it.
    fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        input: Self::Input,
    ) -> impl Future<Output = WorkflowResult<Self::Output>> + 'static;
}

/// How a run's state is built from its input before anything else runs (the Python SDK's
/// `@workflow.init`): handlers see this state even if they run before `run` first awaits.
///
/// A workflow that derives or implements `Default` gets this for free and starts from
/// `Default::default()`. Implement it instead (and leave out `Default`) to start from
/// the input:
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use sandglass::prelude::*;
///
/// struct Greeter {
///     greeting: RefCell<String>,
/// }
///
/// impl WorkflowInit for Greeter {
///     fn init(_ctx: &WorkflowContext, name: &String) -> Self {
///         Greeter { greeting: RefCell::new(format!("Hello, {name}!")) }
///     }
/// }
///
/// impl Workflow for Greeter {
///     type Input = String;
///     type Output = String;
///     const DEFINITION: WorkflowDefinition<String, String> = WorkflowDefinition::new("Greeter");
///
///     async fn run(self: Rc<Self>, _ctx: WorkflowContext, _name: String) -> WorkflowResult<String> {
///         Ok(self.greeting.borrow().clone())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no starting state",
    label = "derive `Default` for `{Self}`, or implement `WorkflowInit` to build it from the input"
)]
pub trait WorkflowInit: Workflow {
    /// Builds the run's state from its input.
    fn init(ctx: &WorkflowContext, input: &Self::Input) -> Self;
}

impl<W: Workflow + Default> WorkflowInit for W {
    fn init(_ctx: &WorkflowContext, _input: &W::Input) -> Self {
        W::default()
    }
}
