//! One workflow run's sandboxed instance.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{Workflows, guest, host, types};
use super::engine::ticks_for;
use super::module::WorkflowModule;
use super::wasi::DeterministicParts;
use super::{Sandbox, SandboxLimits};
use crate::bridge::payload::timestamp_to_system_time;

/// Which run an instance serves, for its log lines and error messages.
#[derive(Clone, Debug)]
pub struct RunIdentity {
    pub workflow_type: String,
    pub run_id: String,
    pub randomness_seed: u64,
}

/// The store data of one run: its WASI context and the deterministic parts behind it.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    replaying: bool,
    workflow_type: String,
    run_id: String,
}

impl RunState {
    pub(crate) fn new(
        parts: &DeterministicParts,
        randomness_seed: u64,
        limits: &SandboxLimits,
        workflow_type: &str,
        run_id: &str,
    ) -> Self {
        Self {
            wasi: parts.wasi_ctx(randomness_seed),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .instances(16)
                .tables(16)
                .memories(16)
                .table_elements(100_000)
                .build(),
            replaying: false,
            workflow_type: workflow_type.to_owned(),
            run_id: run_id.to_owned(),
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for RunState {
    fn log(&mut self, level: host::LogLevel, message: String) {
        if self.replaying {
            return;
        }
        let (workflow_type, run_id) = (&self.workflow_type, &self.run_id);
        match level {
            host::LogLevel::Trace => tracing::trace!(workflow_type, run_id, "{message}"),
            host::LogLevel::Debug => tracing::debug!(workflow_type, run_id, "{message}"),
            host::LogLevel::Info => tracing::info!(workflow_type, run_id, "{message}"),
            host::LogLevel::Warn => tracing::warn!(workflow_type, run_id, "{message}"),
            host::LogLevel::Error => tracing::error!(workflow_type, run_id, "{message}"),
        }
    }
}

impl types::Host for RunState {}

/// Why an activation did not produce commands. Every variant fails the workflow task
/// (Temporal retries it later) and ends the instance; the worker carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    #[error(
        "workflow {workflow_type} (run {run_id}) ran longer than the {limit:?} activation \
         deadline without yielding; workflow code must not loop or compute for long (move \
         heavy work into an activity), or raise the worker's activation deadline"
    )]
    DeadlineExceeded {
        workflow_type: String,
        run_id: String,
        limit: Duration,
    },
    #[error("workflow {workflow_type} (run {run_id}) trapped: {message}{}", stderr_suffix(.stderr))]
    Trap {
        workflow_type: String,
        run_id: String,
        message: String,
        /// What the guest wrote to stderr in the failing activation (a Rust panic
        /// message lands here).
        stderr: String,
    },
    #[error("workflow {workflow_type} (run {run_id}) could not start: {source:#}")]
    Instantiate {
        workflow_type: String,
        run_id: String,
        #[source]
        source: anyhow::Error,
    },
    /// The guest SDK refused the activation (an input that does not decode, an unknown
    /// workflow type) and explained why.
    #[error("workflow {workflow_type} (run {run_id}) failed its task: {}", guest_message(.failure))]
    Guest {
        workflow_type: String,
        run_id: String,
        failure: types::Failure,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; guest stderr: {stderr}")
    }
}

fn guest_message(failure: &types::Failure) -> String {
    failure
        .iter()
        .map(|frame| frame.message.as_str())
        .collect::<Vec<_>>()
        .join(": ")
}

/// A run's live instance: its store, its exports and the handles that steer its clock,
/// randomness and output between activations.
pub struct WorkflowInstance {
    store: Store<RunState>,
    workflows: Workflows,
    parts: DeterministicParts,
    identity: RunIdentity,
    deadline: Duration,
}

impl WorkflowInstance {
    pub fn new(
        sandbox: &Sandbox,
        module: &WorkflowModule,
        identity: RunIdentity,
    ) -> Result<Self, ActivationError> {
        let limits = sandbox.limits();
        let parts = DeterministicParts::new(identity.randomness_seed, limits.max_output_bytes);
        let mut store = Store::new(
            sandbox.engine(),
            RunState::new(
                &parts,
                identity.randomness_seed,
                limits,
                &identity.workflow_type,
                &identity.run_id,
            ),
        );
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks_for(limits.activation_deadline));
        let workflows = module.pre().instantiate(&mut store).map_err(|source| {
            ActivationError::Instantiate {
                workflow_type: identity.workflow_type.clone(),
                run_id: identity.run_id.clone(),
                source: source.into(),
            }
        })?;
        Ok(Self {
            store,
            workflows,
            parts,
            identity,
            deadline: limits.activation_deadline,
        })
    }

    pub fn identity(&self) -> &RunIdentity {
        &self.identity
    }

    /// Runs one activation in the guest and returns its commands.
    ///
    /// Blocks the calling thread for up to the activation deadline; call it from a
    /// blocking-friendly thread, never from an async task directly. After an error the
    /// instance must be dropped: the guest may have been stopped mid-way.
    pub fn activate(
        &mut self,
        activation: guest::Activation,
    ) -> Result<Vec<guest::Command>, ActivationError> {
        self.parts.clock.set(
            timestamp_to_system_time(&activation.timestamp)
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        for job in &activation.jobs {
            if let guest::Job::UpdateRandomSeed(seed) = job {
                self.parts.random.reseed(*seed);
            }
        }
        let replaying = activation.is_replaying;
        self.store.data_mut().replaying = replaying;
        self.store.set_epoch_deadline(ticks_for(self.deadline));
        let outcome = self
            .workflows
            .sandglass_workflow_guest()
            .call_activate(&mut self.store, &activation);
        let stdout = self.parts.stdout.take();
        let stderr = self.parts.stderr.take();
        if !replaying {
            self.log_output("stdout", &stdout);
        }
        match outcome {
            Ok(Ok(commands)) => {
                if !replaying {
                    self.log_output("stderr", &stderr);
                }
                Ok(commands)
            }
            Ok(Err(failure)) => Err(ActivationError::Guest {
                workflow_type: self.identity.workflow_type.clone(),
                run_id: self.identity.run_id.clone(),
                failure,
            }),
            Err(error) => Err(self.trap_error(error, &stderr)),
        }
    }

    fn trap_error(&self, error: wasmtime::Error, stderr: &[u8]) -> ActivationError {
        let workflow_type = self.identity.workflow_type.clone();
        let run_id = self.identity.run_id.clone();
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return ActivationError::DeadlineExceeded {
                workflow_type,
                run_id,
                limit: self.deadline,
            };
        }
        let message = match error.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => {
                "stack overflow (recursion too deep for the sandbox's wasm stack)".to_owned()
            }
            Some(trap) => format!("{trap}"),
            None => format!("{error:#}"),
        };
        ActivationError::Trap {
            workflow_type,
            run_id,
            message,
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    /// Guest prints go to the worker log, one event per line, tagged with the run.
    fn log_output(&self, stream: &'static str, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines().filter(|line| !line.is_empty()) {
            tracing::info!(
                workflow_type = %self.identity.workflow_type,
                run_id = %self.identity.run_id,
                stream,
                "{line}"
            );
        }
    }
}
