//! One workflow run's sandboxed instance.

use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{Workflows, guest, host, types};
use super::engine::ticks_for;
use super::error::{ActivationError, TrapContext, classify_trap};
use super::limiter::RunLimiter;
use super::module::WorkflowModule;
use super::output::{OversizedCommand, oversized_command};
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

/// Host objects (streams, pollables, descriptors) one run may hold at once. A workflow
/// needs a handful; without a bound a guest could make the host keep a million.
const MAX_HOST_RESOURCES: usize = 1024;

/// The store data of one run: its WASI context and the deterministic parts behind it.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: RunLimiter,
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
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        Self {
            wasi: parts.wasi_ctx(randomness_seed),
            table,
            limits: RunLimiter::new(limits),
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

/// A run's live instance: its store, its exports and the handles that steer its clock,
/// randomness and output between activations.
pub struct WorkflowInstance {
    store: Store<RunState>,
    workflows: Workflows,
    parts: DeterministicParts,
    identity: RunIdentity,
    limits: SandboxLimits,
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
            limits: limits.clone(),
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
        self.store.data_mut().limits.take_refusal();
        self.store
            .set_epoch_deadline(ticks_for(self.limits.activation_deadline));
        let outcome = self
            .workflows
            .sandglass_workflow_guest()
            .call_activate(&mut self.store, &activation);
        let stdout = self.parts.stdout.take();
        let stderr = self.parts.stderr.take();
        if !replaying {
            self.log_output("stdout", &stdout);
            self.log_output("stderr", &stderr);
        }
        match outcome {
            Ok(Ok(commands)) => match oversized_command(&commands, self.limits.max_payload_bytes) {
                None => Ok(commands),
                Some(OversizedCommand { what, size }) => Err(ActivationError::PayloadTooLarge {
                    workflow_type: self.identity.workflow_type.clone(),
                    run_id: self.identity.run_id.clone(),
                    what,
                    size,
                    limit: self.limits.max_payload_bytes,
                }),
            },
            Ok(Err(failure)) => Err(ActivationError::Guest {
                workflow_type: self.identity.workflow_type.clone(),
                run_id: self.identity.run_id.clone(),
                failure,
            }),
            Err(error) => Err(self.trap_error(error, &stderr)),
        }
    }

    fn trap_error(&mut self, error: wasmtime::Error, stderr: &[u8]) -> ActivationError {
        tracing::debug!(
            workflow_type = %self.identity.workflow_type,
            run_id = %self.identity.run_id,
            "guest trapped: {error:?}"
        );
        classify_trap(
            &error,
            TrapContext {
                workflow_type: &self.identity.workflow_type,
                run_id: &self.identity.run_id,
                deadline: self.limits.activation_deadline,
                max_wasm_stack: self.limits.max_wasm_stack,
                refused: self.store.data_mut().limits.take_refusal(),
                stderr,
            },
        )
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
