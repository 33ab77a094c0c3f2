//! The message-passing example's native half: the greeting service activity, and the
//! worker that serves it with the workflow component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use message_passing_declarations::{CALL_GREETING_SERVICE, Language};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "message-passing-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "MESSAGE_PASSING_EXAMPLE_WASM";

/// A stand-in for a remote greeting service: a short wait, then a table lookup.
pub async fn call_greeting_service(
    _ctx: ActivityContext,
    language: Language,
) -> Result<Option<String>, ActivityFailure> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let greeting = match language {
        Language::Arabic => Some("مرحبا بالعالم"),
        Language::Chinese => Some("你好，世界"),
        Language::English => Some("Hello, world"),
        Language::French => Some("Bonjour, monde"),
        Language::Hindi => Some("नमस्ते दुनिया"),
        Language::Spanish => Some("Hola mundo"),
        Language::Portuguese => None,
    };
    Ok(greeting.map(str::to_owned))
}

/// A worker on [`TASK_QUEUE`] serving the greeting workflow and its activity.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .async_activity(CALL_GREETING_SERVICE, call_greeting_service)
}

/// The workflow component: `$MESSAGE_PASSING_EXAMPLE_WASM` if set, else built from
/// `examples/message_passing/workflows` for wasm32-wasip2 (a no-op when up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "message-passing-workflows",
    )?)
}
