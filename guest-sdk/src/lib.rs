//! Write Temporal workflows in Rust, as WebAssembly components for the Sandglass worker.
//!
//! A workflow crate is a `cdylib` built for `wasm32-wasip2`. It implements [`Workflow`]
//! for each workflow type and exports them with [`export_workflows!`]; the Sandglass host
//! loads the component and runs it against a Temporal server. Activities are not in the
//! component: they are native functions in the worker, declared in a crate both sides
//! share (see [`ActivityDefinition`]).
//!
//! ```
//! use std::rc::Rc;
//! use std::time::Duration;
//! use sandglass::prelude::*;
//!
//! const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
//!
//! #[derive(Default)]
//! struct GreetingWorkflow;
//!
//! impl Workflow for GreetingWorkflow {
//!     type Input = String;
//!     type Output = String;
//!     const DEFINITION: WorkflowDefinition<String, String> =
//!         WorkflowDefinition::new("GreetingWorkflow");
//!
//!     async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
//!         sandglass::info!("greeting {name}");
//!         let options = ActivityOptions::start_to_close(Duration::from_secs(30));
//!         Ok(ctx.execute_activity(GREET, name, options).await?)
//!     }
//! }
//!
//! sandglass::export_workflows!(GreetingWorkflow);
//! # fn main() {}
//! ```
//!
//! # Core concepts
//!
//! - **One instance per run.** The host instantiates the component for each workflow run
//!   and keeps the instance while the run is cached, so the run's state is simply the
//!   workflow's memory: the value [`WorkflowInit::init`] built (`Default::default()`
//!   unless the type says otherwise) and the `run` future's locals.
//!   An instance never sees two runs; its cost is its linear memory (kilobytes for a
//!   small workflow). Evicted runs are rebuilt by replaying their history in a new
//!   instance.
//! - **Activations.** Temporal's news for a run (started, timer fired, activity
//!   resolved, new random seed) reaches the workflow in activations. The SDK applies an
//!   activation's jobs in order, then runs the workflow until everything it awaits is
//!   waiting for Temporal, and returns the commands it issued, in the order issued.
//!   Nothing runs between activations: a future woken by anything but this SDK's own
//!   futures never makes progress.
//! - **Determinism.** Replaying a run's history must issue the same commands. Everything
//!   a workflow reads through [`WorkflowContext`] is a function of that history: the
//!   clock ([`now`](WorkflowContext::now)) is the activation's timestamp, randomness
//!   ([`random`](WorkflowContext::random), [`uuid4`](WorkflowContext::uuid4)) comes from
//!   the seed Temporal gives the run, and results come from history. The host's WASI is
//!   deterministic the same way, so `std::time::SystemTime::now()`, `HashMap` hashing
//!   and `getrandom` are safe too; there is no file system, network or environment to
//!   read. The executor polls tasks in a fixed order and never depends on timing.
//! - **Two kinds of failure.** A [`WorkflowError`] returned by `run` fails the workflow.
//!   A payload that does not decode, a value that does not encode, or a panic fails the
//!   workflow *task* instead: Temporal keeps the run open and retries the task, so the
//!   fix is to deploy corrected code (the Temporal convention: only application errors
//!   fail a workflow).
//! - **Messages.** Signal, query and update handlers are registered in
//!   [`Workflow::handlers`] and see the workflow's state (`&Self` or `Rc<Self>`). Sync
//!   handlers run to completion when their message arrives; async ones run as tasks beside
//!   `run`, and [`WorkflowContext::all_handlers_finished`] says when they are done. Queries
//!   are answered after the rest of their activation has run.
//! - **Cancellation.** Operations (timers, activities, children) belong to the
//!   [`CancellationScope`] current when they start. A client's cancellation request cancels
//!   the root scope: timers resolve with [`Cancelled`], activities and children are
//!   cancelled as their cancellation type says. `run` decides what follows; returning the
//!   cancellation ends the run as cancelled. Cleanup goes in
//!   [`WorkflowContext::non_cancellable`].
//! - **Logging.** The [`log`] macros ([`info!`], [`warn!`], ...) and plain `println!`
//!   go to the worker's log, tagged with the run, and are dropped during replay.

mod activity;
#[doc(hidden)]
pub mod bindings;
mod child;
mod combinators;
mod condition;
mod context;
mod error;
mod executor;
mod export;
mod external;
mod failure;
mod handlers;
pub mod log;
mod panic;
mod payload;
mod random;
mod runtime;
mod scope;
mod state;
mod time;
mod timer;
mod workflow;

pub use activity::{
    ActivityCancellationType, ActivityHandle, ActivityOptions, LocalActivityOptions, RetryPolicy,
};
pub use child::{
    ChildWorkflowCancellationType, ChildWorkflowError, ChildWorkflowHandle, ChildWorkflowOptions,
    ParentClosePolicy, StartChildWorkflow, WorkflowIdReusePolicy,
};
pub use combinators::{Either, Select, join, join_all, select};
pub use context::{ContinueAsNewOptions, ParentWorkflow, WorkflowContext, WorkflowInfo};
pub use error::{ActivityError, Cancelled, WorkflowError, WorkflowResult};
pub use external::ExternalWorkflowHandle;
pub use failure::FailureChain;
pub use handlers::{Handlers, RawArguments};
pub use sandglass_declare::failure_types;
pub use sandglass_declare::{
    ActivityDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};
pub use scope::{CancellationScope, InScope};
pub use timer::Sleep;
pub use workflow::{Workflow, WorkflowInit};

/// What every workflow crate imports: `use sandglass::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ActivityDefinition, ActivityOptions, Handlers, QueryDefinition, SignalDefinition,
        UpdateDefinition, Workflow, WorkflowContext, WorkflowDefinition, WorkflowError,
        WorkflowInit, WorkflowResult,
    };
}

/// What [`export_workflows!`] expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::__export_workflows_impl as export_guest;
    pub use crate::bindings::exports::sandglass::workflow::guest::{
        Activation, Command, Guest, WorkflowDescription,
    };
    pub use crate::bindings::sandglass::workflow::types::Failure;
    pub use crate::export::{activate, assert_unique_names, workflow_types};
    pub use crate::runtime::WorkflowEntry;
}

#[cfg(test)]
mod tests;
