//! What the workflow component and the worker share: the names and types of the
//! activities and workflows (so both sides agree on them at compile time), and the
//! activities' native code, which only the worker calls.
//!
//! It depends on `sandglass-declare` alone, so it builds natively and for wasm.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};

/// The `greet` activity: takes a name, returns a greeting.
pub const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");

/// The `GreetingWorkflow` workflow: takes a name, returns what [`GREET`] made of it.
pub const GREETING_WORKFLOW: WorkflowDefinition<String, String> =
    WorkflowDefinition::new("GreetingWorkflow");

/// The native implementation of [`GREET`], run by the worker on its activity thread pool.
pub fn greet(name: String) -> String {
    format!("Hello, {name}!")
}
