//! One workflow run's sandboxed instance.

use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::deadline::Deadline;
use super::error::{ActivationError, TrapContext, classify_trap};
use super::forbidden::Forbidden;
use super::guest_log::{GuestLog, escape_controls};
use super::limiter::RunLimiter;
use super::module::WorkflowModule;
use super::output::{
    OutputViolation, OversizedCommand, bound_task_failure, check_commands, hostcall_fuel,
};
use super::wasi::DeterministicParts;
use super::{Sandbox, SandboxLimits};
use crate::wit::since_epoch;
use crate::wit::{Workflows, guest, host, types};

/// Which run an instance serves, for its log lines and error messages.
#[derive(Clone, Debug)]
pub struct RunIdentity {
    pub workflow_type: String,
    pub run_id: String,
    pub randomness_seed: u64,
    /// The run's workflow task timeout, when known: an activation is stopped before it.
    pub task_timeout: Option<std::time::Duration>,
}

/// Host objects (streams, pollables, descriptors) one run may hold at once. A workflow
/// needs a handful; without a bound a guest could make the host keep a million.
const MAX_HOST_RESOURCES: usize = 1024;

/// The store data of one run: its WASI context and the deterministic parts behind it,
/// and the limits its activations run under.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: RunLimiter,
    deadline: Deadline,
    log: GuestLog,
    replaying: bool,
    workflow_type: String,
    run_id: String,
}

impl RunState {
    pub(crate) fn new(
        sandbox: &Sandbox,
        parts: &DeterministicParts,
        identity: &RunIdentity,
    ) -> Self {
        let limits = sandbox.limits();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        Self {
            wasi: parts.wasi_ctx(identity.randomness_seed),
            table,
            limits: RunLimiter::new(limits, sandbox.memory_budget().clone()),
            deadline: Deadline::new(limits.activation_deadline, identity.task_timeout),
            log: GuestLog::new(limits.max_output_bytes),
            replaying: false,
            workflow_type: identity.workflow_type.clone(),
            run_id: identity.run_id.clone(),
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
        self.log
            .log(level, &self.workflow_type, &self.run_id, &message);
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
        let mut store = run_store(sandbox, &parts, &identity);
        let workflows = match module.pre().instantiate(&mut store) {
            Ok(workflows) => workflows,
            Err(source) => {
                // A trap in the component's start, or a refused memory, explains the
                // failure better than wasmtime's message.
                if source.downcast_ref::<wasmtime::Trap>().is_some()
                    || source.downcast_ref::<Forbidden>().is_some()
                    || store.data().limits.has_refusal()
                {
                    let stderr = parts.stderr.take();
                    return Err(classify_trap(
                        &source,
                        trap_context(&identity, limits, store.data_mut(), &stderr, 0),
                    ));
                }
                // wasmtime's message, without the backtrace that names the guest's
                // functions (names the guest chose).
                return Err(ActivationError::Instantiate {
                    workflow_type: identity.workflow_type.clone(),
                    run_id: identity.run_id.clone(),
                    source: anyhow::anyhow!(
                        "{}",
                        escape_controls(&source.root_cause().to_string())
                    ),
                });
            }
        };
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

    /// Replaces the run's randomness seed, as an `update-random-seed` job says, for
    /// WASI's random reads as well as for the guest; call before the activation that
    /// carries the job.
    pub fn reseed(&self, seed: u64) {
        self.parts.random.reseed(seed);
    }

    /// Bytes of the worker's memory budget this run holds (its linear memory).
    pub fn reserved_memory(&self) -> usize {
        self.store.data().limits.reserved()
    }

    /// Runs one activation in the guest and returns its commands.
    ///
    /// Blocks the calling thread while the guest runs: up to the activation deadline in
    /// CPU time, five times that on the wall clock at most. Call it from a
    /// blocking-friendly thread, never from an async task directly. After an error the
    /// instance must be dropped: the guest may have been stopped mid-way.
    pub fn activate(
        &mut self,
        activation: guest::Activation,
    ) -> Result<Vec<guest::Command>, ActivationError> {
        self.parts.clock.set(since_epoch(&activation.timestamp));
        let replaying = activation.is_replaying;
        self.store.data_mut().replaying = replaying;
        start_call(&mut self.store);
        let outcome = self
            .workflows
            .sandglass_workflow_guest()
            .call_activate(&mut self.store, &activation);
        let stdout = self.parts.stdout.take();
        let stderr = self.parts.stderr.take();
        if !replaying {
            let (workflow_type, run_id) = (&self.identity.workflow_type, &self.identity.run_id);
            let log = &mut self.store.data_mut().log;
            log.stream("stdout", workflow_type, run_id, &stdout);
            log.stream("stderr", workflow_type, run_id, &stderr);
            log.report_dropped(workflow_type, run_id);
        }
        match outcome {
            Ok(Ok(mut commands)) => match check_commands(&mut commands, &self.limits) {
                Ok(()) => Ok(commands),
                Err(violation) => Err(self.output_error(violation)),
            },
            Ok(Err(mut failure)) => {
                bound_task_failure(&mut failure);
                Err(ActivationError::Guest {
                    workflow_type: self.identity.workflow_type.clone(),
                    run_id: self.identity.run_id.clone(),
                    failure,
                })
            }
            Err(error) => Err(self.trap_error(error, &stderr, incoming_bytes(&activation))),
        }
    }

    fn output_error(&self, violation: OutputViolation) -> ActivationError {
        let workflow_type = self.identity.workflow_type.clone();
        let run_id = self.identity.run_id.clone();
        match violation {
            OutputViolation::TooManyCommands { count } => ActivationError::TooManyCommands {
                workflow_type,
                run_id,
                count,
                limit: self.limits.max_commands,
            },
            OutputViolation::CommandsTooLarge { size } => ActivationError::CommandsTooLarge {
                workflow_type,
                run_id,
                size,
                limit: self.limits.max_commands_bytes,
            },
            OutputViolation::PayloadTooLarge(OversizedCommand { what, size }) => {
                ActivationError::PayloadTooLarge {
                    workflow_type,
                    run_id,
                    what,
                    size,
                    limit: self.limits.max_payload_bytes,
                }
            }
        }
    }

    fn trap_error(
        &mut self,
        error: wasmtime::Error,
        stderr: &[u8],
        incoming: usize,
    ) -> ActivationError {
        tracing::debug!(
            workflow_type = %self.identity.workflow_type,
            run_id = %self.identity.run_id,
            "guest trapped: {}",
            escape_controls(&format!("{error:?}"))
        );
        let context = trap_context(
            &self.identity,
            &self.limits,
            self.store.data_mut(),
            stderr,
            incoming,
        );
        classify_trap(&error, context)
    }
}

/// Payload bytes an activation hands the guest: what others sent it.
fn incoming_bytes(activation: &guest::Activation) -> usize {
    let payloads =
        |payloads: &[types::Payload]| -> usize { payloads.iter().map(|p| p.data.len()).sum() };
    activation
        .jobs
        .iter()
        .map(|job| match job {
            guest::Job::Initialize(init) => payloads(&init.arguments),
            guest::Job::Signal(signal) => payloads(&signal.arguments),
            guest::Job::Update(update) => payloads(&update.arguments),
            guest::Job::Query(query) => payloads(&query.arguments),
            guest::Job::ResolveActivity(guest::ResolveActivity {
                resolution: guest::ActivityResolution::Completed(Some(result)),
                ..
            })
            | guest::Job::ResolveChild(guest::ResolveChild {
                resolution: guest::ChildResolution::Completed(Some(result)),
                ..
            }) => result.data.len(),
            _ => 0,
        })
        .sum()
}

/// A store for one run, under the sandbox's limits: the run's memory cap and the
/// worker's memory budget, the CPU deadline (started for the instantiation that follows),
/// and the copy limit on what one call may hand the host.
pub(crate) fn run_store(
    sandbox: &Sandbox,
    parts: &DeterministicParts,
    identity: &RunIdentity,
) -> Store<RunState> {
    let state = RunState::new(sandbox, parts, identity);
    let mut store = Store::new(sandbox.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.epoch_deadline_callback(|mut state| Ok(state.data_mut().deadline.check()));
    store.set_hostcall_fuel(hostcall_fuel(sandbox.limits()));
    start_call(&mut store);
    store
}

/// Renews the per-call limits before a call into the guest: its deadline, its log
/// allowance, and the note of a refused memory growth.
pub(crate) fn start_call(store: &mut Store<RunState>) {
    let state = store.data_mut();
    state.limits.renew();
    state.log.renew();
    let ticks = state.deadline.start();
    store.set_epoch_deadline(ticks);
}

/// What the host knew when a guest call (or instantiation) of `identity`'s run failed;
/// `incoming` is the payload bytes the call handed the guest.
fn trap_context<'a>(
    identity: &'a RunIdentity,
    limits: &SandboxLimits,
    state: &mut RunState,
    stderr: &'a [u8],
    incoming: usize,
) -> TrapContext<'a> {
    TrapContext {
        workflow_type: &identity.workflow_type,
        run_id: &identity.run_id,
        deadline: limits.activation_deadline,
        max_wasm_stack: limits.max_wasm_stack,
        max_copy_bytes: hostcall_fuel(limits),
        incoming,
        overrun: state.deadline.overrun(),
        refused: state.limits.take_refusal(),
        stderr,
    }
}
