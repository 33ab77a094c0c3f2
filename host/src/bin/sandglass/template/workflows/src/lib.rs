//! The workflows, built as a WebAssembly component:
//! `cargo build -p {{name}}-workflows --target wasm32-wasip2 --release` makes
//! `target/wasm32-wasip2/release/{{crate}}_workflows.wasm` (the worker does it for you).

use std::rc::Rc;
use std::time::Duration;

use sandglass::prelude::*;
use {{crate}}_activities::{GREET, GREETING_WORKFLOW};

/// Greets someone by name, through the `greet` activity that the worker runs natively.
#[derive(Default)]
pub struct GreetingWorkflow;

impl Workflow for GreetingWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = GREETING_WORKFLOW;

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close(Duration::from_secs(30));
        Ok(ctx.execute_activity(GREET, name, options).await?)
    }
}

sandglass::export_workflows!(GreetingWorkflow);
