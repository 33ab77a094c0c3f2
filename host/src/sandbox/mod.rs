//! The deterministic wasmtime sandbox workflow components run in.
//!
//! Core concepts, from longest-lived to shortest:
//!
//! - [`Sandbox`]: one per worker. Owns the wasmtime `Engine` (compiled code, the epoch
//!   that enforces deadlines) and the `Linker` with deterministic WASI and the host
//!   interface. Cheap to clone (an `Arc`); shared by every module and run.
//! - [`WorkflowModule`]: one per loaded `.wasm` file version, identified by the SHA-256
//!   digest of its bytes. Holds the compiled component and an `InstancePre` (imports
//!   resolved once), so starting a run is only an instantiation.
//! - [`WorkflowInstance`]: one per workflow run, with its own `Store` and linear memory.
//!   It lives in the worker's cache between activations and is dropped on eviction. A
//!   trap, a deadline overrun or a memory cap hit ends only that instance.

mod code_cache;
mod deadline;
mod engine;
mod error;
mod forbidden;
mod guest_log;
mod instance;
mod limiter;
mod memory_budget;
mod module;
mod output;
mod wasi;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Linker;

pub use code_cache::CodeCache;
pub use deadline::Overrun;
pub use error::ActivationError;
pub use forbidden::Forbidden;
pub use guest_log::escape_controls;
pub use instance::{RunIdentity, WorkflowInstance};
pub use memory_budget::MemoryBudget;
pub(crate) use memory_budget::Reclaim;
pub use module::{MAX_NAME_BYTES, ModuleError, WorkflowModule, digest_of};
pub(crate) use output::{command_name, host_frame, quoted, shorten};

use engine::{EpochTicker, build_engine};
use instance::RunState;

/// The sandbox's limits: per activation, per run, and for the worker as a whole. Each
/// is enforced by wasmtime or checked by the host before anything leaves the sandbox, so
/// a hostile guest cannot exceed it; a guest that hits one fails its workflow task, never
/// the worker.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SandboxLimits {
    /// CPU time an activation may use without returning (deadlock detection). Default
    /// 2 s, like the Python SDK's deadline. Counted in the guest thread's own CPU time,
    /// so other runs' load does not eat into it; a run starved of CPU is stopped after
    /// five times this on the wall clock. Checked at the guest's loop headers and calls,
    /// to within 10 ms.
    pub activation_deadline: Duration,
    /// Most linear memory one instance may grow to. Default 64 MiB. A refused growth
    /// that ends the guest is reported as [`ActivationError::MemoryLimit`].
    pub max_memory_bytes: usize,
    /// Most linear memory all runs of the worker may hold together (cached and running).
    /// Default: half the memory of the host, or of its cgroup when it has a limit. When a
    /// run's growth does not fit, idle cached runs are evicted (least recently used
    /// first; Temporal rebuilds them by replay when they next have work); what still does
    /// not fit fails that run's task as [`ActivationError::WorkerMemoryBudget`], and
    /// Temporal retries it.
    pub max_total_memory_bytes: usize,
    /// Most native stack the guest's wasm may use. Default 512 KiB; deeper recursion
    /// traps as [`ActivationError::StackOverflow`]. Rust guests also keep a 1 MiB stack
    /// of their own in linear memory, whose overflow shows as an out-of-bounds access.
    pub max_wasm_stack: usize,
    /// Most guest output logged per activation: its `host.log` calls and its stdout and
    /// stderr lines together, each line costing 64 bytes beyond its text; the rest is
    /// dropped (and the log says how much). Stdout and stderr are each captured up to
    /// this much, too. Default 64 KiB.
    pub max_output_bytes: usize,
    /// Most payload bytes (data and metadata) one command may carry: the workflow's
    /// result, an activity's arguments, a failure's text and details, a query's answer.
    /// Default 2 MiB, Temporal's default blob size limit (`limit.blobSize.error`); the
    /// server rejects larger ones anyway, so raise this only together with the server's
    /// limit. A larger command fails the workflow task with a message naming it (a larger
    /// query answer fails the query).
    pub max_payload_bytes: usize,
    /// Most commands one activation may return. Default 10,000; more fails the task as
    /// [`ActivationError::TooManyCommands`].
    pub max_commands: usize,
    /// Most bytes one activation's commands may carry together (payloads, names and a
    /// little per element). Default 3.5 MiB: Temporal refuses a task completion over
    /// 4 MiB, and the rest is room for what core adds. More fails the task as
    /// [`ActivationError::CommandsTooLarge`]. Four times this is also what one call may
    /// copy out of the guest at all (wasmtime's hostcall fuel), which bounds the host
    /// memory an activation's output or a log message can take before it is checked.
    pub max_commands_bytes: usize,
    /// Instances alive at once, taken from a pool of that many preallocated slots
    /// (wasmtime's pooling allocator): starting a run reuses a slot, its memory
    /// mapping and its copy-on-write image instead of mapping new ones. `None` (the
    /// default) maps each instance on demand. A worker needs a slot per cached run
    /// plus one per workflow task in flight; past the pool, a run's task fails with
    /// [`ActivationError::Instantiate`] until a slot frees up.
    pub instance_pool: Option<u32>,
}

with_setters!(SandboxLimits {
    with_activation_deadline(activation_deadline: Duration),
    with_max_memory_bytes(max_memory_bytes: usize),
    with_max_total_memory_bytes(max_total_memory_bytes: usize),
    with_max_wasm_stack(max_wasm_stack: usize),
    with_max_output_bytes(max_output_bytes: usize),
    with_max_payload_bytes(max_payload_bytes: usize),
    with_max_commands(max_commands: usize),
    with_max_commands_bytes(max_commands_bytes: usize),
    with_instance_pool(instance_pool: Some(u32)),
});

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            activation_deadline: Duration::from_secs(2),
            max_memory_bytes: 64 << 20,
            max_total_memory_bytes: memory_budget::default_budget(),
            max_wasm_stack: 512 << 10,
            max_output_bytes: 64 << 10,
            max_payload_bytes: 2 << 20,
            max_commands: 10_000,
            max_commands_bytes: 7 << 19,
            instance_pool: None,
        }
    }
}

/// The engine and linker every module and run of a worker share.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    engine: Engine,
    linker: Linker<RunState>,
    limits: SandboxLimits,
    memory: Arc<MemoryBudget>,
    code_cache: Option<CodeCache>,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// A sandbox without a code cache: every module is compiled when loaded.
    pub fn new(limits: SandboxLimits) -> anyhow::Result<Self> {
        Self::with_code_cache(limits, None)
    }

    /// A sandbox that loads compiled modules from `code_cache` when it has them and
    /// stores what it compiles there.
    pub fn with_code_cache(
        limits: SandboxLimits,
        code_cache: Option<CodeCache>,
    ) -> anyhow::Result<Self> {
        let engine = build_engine(&limits)?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker)?;
        crate::wit::Workflows::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(
            &mut linker,
            |state| state,
        )?;
        let ticker = EpochTicker::start(&engine)?;
        Ok(Self {
            inner: Arc::new(SandboxInner {
                engine,
                linker,
                memory: Arc::new(MemoryBudget::new(limits.max_total_memory_bytes)),
                limits,
                code_cache,
                _ticker: ticker,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<RunState> {
        &self.inner.linker
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.inner.limits
    }

    /// The worker's memory budget, which every run's growth is reserved from.
    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.inner.memory
    }

    pub fn code_cache(&self) -> Option<&CodeCache> {
        self.inner.code_cache.as_ref()
    }
}

// The worker hands sandboxes, modules and instances across threads; keep that possible.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<WorkflowModule>();
    assert_send::<WorkflowInstance>();
};
