//! The greeting example's workflow, built as a WebAssembly component.
//!
//! The Rust mirror of the Python SDK guide's Python workflow:
//!
//! ```python
//! @workflow.defn
//! class GreetingWorkflow:
//!     @workflow.run
//!     async def run(self, name: str) -> str:
//!         return await workflow.execute_activity(
//!             greet, name, start_to_close_timeout=timedelta(seconds=30)
//!         )
//! ```
//!
//! Build it with `cargo build -p greeting-workflows --target wasm32-wasip2 --release`;
//! the component is `target/wasm32-wasip2/release/greeting_workflows.wasm`.

use std::rc::Rc;
use std::time::Duration;

use greeting_activities::{GREET, GREETING_WORKFLOW};
use sandglass::prelude::*;

/// Greets someone by name, through the `greet` activity that the worker runs natively.
#[derive(Default)]
pub struct GreetingWorkflow;

impl Workflow for GreetingWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = GREETING_WORKFLOW;

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close(Duration::from_secs(30));
        let greeting = ctx.execute_activity(GREET, name, options).await?;
        Ok(greeting)
    }
}

sandglass::export_workflows!(GreetingWorkflow);
