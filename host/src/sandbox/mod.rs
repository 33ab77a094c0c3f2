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
mod engine;
mod error;
mod forbidden;
mod instance;
mod limiter;
mod module;
mod output;
pub mod wasi;

pub mod bindings;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Linker;

pub use code_cache::CodeCache;
pub use error::ActivationError;
pub use forbidden::Forbidden;
pub use instance::{RunIdentity, WorkflowInstance};
pub use module::{ModuleError, WorkflowModule, digest_of};

use engine::{EpochTicker, build_engine};
use instance::RunState;

/// Per-instance limits. Each is enforced by wasmtime, so a hostile guest cannot exceed
/// it; a guest that hits one fails its workflow task, never the worker.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SandboxLimits {
    /// Longest an activation may run without returning (deadlock detection). Default 2 s,
    /// like the Python SDK's. Checked at the guest's loop headers and calls to within
    /// 10 ms.
    pub activation_deadline: Duration,
    /// Most linear memory one instance may grow to. Default 64 MiB. A refused growth
    /// that ends the guest is reported as [`ActivationError::MemoryLimit`]. The host
    /// keeps this much per cached run at worst, so it bounds the cache's memory too.
    pub max_memory_bytes: usize,
    /// Most native stack the guest's wasm may use. Default 512 KiB; deeper recursion
    /// traps as [`ActivationError::StackOverflow`]. Rust guests also keep a 1 MiB stack
    /// of their own in linear memory, whose overflow shows as an out-of-bounds access.
    pub max_wasm_stack: usize,
    /// Most stdout (and, separately, stderr) kept per activation; the rest is dropped.
    /// Default 64 KiB.
    pub max_output_bytes: usize,
    /// Most payload bytes (data and metadata) one command may carry: the workflow's
    /// result, an activity's arguments, a failure's text and details. Default 2 MiB,
    /// Temporal's default blob size limit (`limit.blobSize.error`); the server rejects
    /// larger ones anyway, so raise this only together with the server's limit. A larger
    /// command fails the workflow task with a message naming it.
    pub max_payload_bytes: usize,
    /// Instances alive at once, taken from a pool of that many preallocated slots
    /// (wasmtime's pooling allocator): starting a run reuses a slot, its memory
    /// mapping and its copy-on-write image instead of mapping new ones. `None` (the
    /// default) maps each instance on demand. A worker needs a slot per cached run
    /// plus one per workflow task in flight; past the pool, a run's task fails with
    /// [`ActivationError::Instantiate`] until a slot frees up.
    pub instance_pool: Option<u32>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            activation_deadline: Duration::from_secs(2),
            max_memory_bytes: 64 << 20,
            max_wasm_stack: 512 << 10,
            max_output_bytes: 64 << 10,
            max_payload_bytes: 2 << 20,
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
        bindings::Workflows::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(
            &mut linker,
            |state| state,
        )?;
        let ticker = EpochTicker::start(&engine)?;
        Ok(Self {
            inner: Arc::new(SandboxInner {
                engine,
                linker,
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
