//! Driving a workflow component's instance directly, without a server: one `initialize`
//! activation in, commands or an [`ActivationError`] out.
//!
//! Tests of the sandbox's limits and deterministic WASI use this to see exactly how a
//! guest ends, fast and with limits of their own choosing.

use std::path::Path;

use sandglass_host::sandbox::{ActivationError, RunIdentity, WorkflowInstance};
use sandglass_host::sandbox::{Sandbox, SandboxLimits, WorkflowModule};
use sandglass_host::wit::{guest, types};

/// A sandbox with `limits` and the component at `path` loaded in it.
pub fn load(path: &Path, limits: SandboxLimits) -> (Sandbox, WorkflowModule) {
    let sandbox = Sandbox::new(limits).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, path).expect("load the component");
    (sandbox, module)
}

/// One workflow argument, JSON-encoded the way every Temporal SDK does.
pub fn json_argument(value: &impl serde::Serialize) -> types::Payload {
    types::Payload {
        metadata: vec![("encoding".to_owned(), b"json/plain".to_vec())],
        data: serde_json::to_vec(value).expect("arguments encode as JSON"),
    }
}

/// Starts a run of `workflow_type` with `arguments` (none decode as `null`) and the
/// randomness seed `seed`, and returns what its first activation produced.
pub fn start_run(
    sandbox: &Sandbox,
    module: &WorkflowModule,
    workflow_type: &str,
    arguments: Vec<types::Payload>,
    seed: u64,
) -> Result<Vec<guest::Command>, ActivationError> {
    start_instance(sandbox, module, workflow_type, arguments, seed).map(|(_, commands)| commands)
}

/// Like [`start_run`], and keeps the instance for further activations.
pub fn start_instance(
    sandbox: &Sandbox,
    module: &WorkflowModule,
    workflow_type: &str,
    arguments: Vec<types::Payload>,
    seed: u64,
) -> Result<(WorkflowInstance, Vec<guest::Command>), ActivationError> {
    let run_id = format!("run-of-{workflow_type}");
    let mut instance = WorkflowInstance::new(
        sandbox,
        module,
        RunIdentity {
            workflow_type: workflow_type.to_owned(),
            run_id: run_id.clone(),
            randomness_seed: seed,
            task_timeout: None,
        },
    )?;
    let commands = instance.activate(activation(vec![guest::Job::Initialize(
        guest::Initialize {
            workflow_type: workflow_type.to_owned(),
            workflow_id: format!("id-of-{workflow_type}"),
            run_id,
            namespace: "default".to_owned(),
            task_queue: "sandbox".to_owned(),
            arguments,
            randomness_seed: seed,
            attempt: 1,
            start_time: None,
            parent: None,
            continued_from_run_id: None,
            first_execution_run_id: String::new(),
            execution_timeout: None,
            run_timeout: None,
            cron_schedule: None,
            memo: Vec::new(),
            search_attributes: Vec::new(),
        },
    )]))?;
    Ok((instance, commands))
}

/// An activation of `jobs` at a fixed workflow time, not replaying.
pub fn activation(jobs: Vec<guest::Job>) -> guest::Activation {
    guest::Activation {
        timestamp: types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 0,
        continue_as_new_suggested: false,
        jobs,
    }
}
