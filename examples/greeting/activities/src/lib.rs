//! What the greeting example's workflow and worker share.
//!
//! The workflow component (built for `wasm32-wasip2`) and the native worker both depend
//! on this crate, so the activity name the workflow schedules and the function the worker
//! registers come from one place, and their input and output types are checked by the
//! compiler on both sides. It is the Rust form of the Python SDK's
//! `workflow.unsafe.imports_passed_through()`: code that is safe to pass into the sandbox
//! because it only declares names and types (and holds plain functions the workflow never
//! calls directly).
//!
//! It depends on `sandglass-declare` alone, so it builds natively and for wasm.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};

/// The `greet` activity: takes a name, returns a greeting.
pub const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");

/// The `GreetingWorkflow` workflow: takes a name, returns what [`GREET`] made of it.
pub const GREETING_WORKFLOW: WorkflowDefinition<String, String> =
    WorkflowDefinition::new("GreetingWorkflow");

/// The native implementation of [`GREET`], run by the worker on its activity thread pool.
///
/// ```
/// assert_eq!(greeting_activities::greet("World".to_owned()), "Hello, World!");
/// ```
pub fn greet(name: String) -> String {
    format!("Hello, {name}!")
}
