//! Sandglass host: a Temporal worker whose workflows are WebAssembly components and
//! whose activities are native Rust functions.
//!
//! # Core concepts
//!
//! - [`Client`] — a connection to a Temporal namespace. Start workflows, wait for
//!   results, fetch histories, finish activities that complete asynchronously
//!   ([`AsyncActivityHandle`]). Cheap to clone; share one per process.
//! - [`Worker`] — polls one task queue through `temporalio-sdk-core` (the engine under
//!   the official Python, TypeScript, .NET and Ruby SDKs) and serves the workflow types
//!   of its modules and its registered activities. One per task queue.
//! - [`Sandbox`](sandbox::Sandbox) — one wasmtime `Engine` and `Linker` per worker, with deterministic
//!   WASI: the guest's clock is workflow time, its randomness is the run's seed, its
//!   output goes to the replay-safe log, and it has no env, files or sockets.
//! - [`WorkflowModule`](sandbox::WorkflowModule) — a compiled component, identified by
//!   the digest of its bytes, with imports resolved once (`InstancePre`).
//! - [`WorkflowInstance`](sandbox::WorkflowInstance) — one per workflow run, with its own
//!   store and memory, cached between workflow tasks and dropped on eviction. Each
//!   activation runs under a CPU-time deadline and a memory cap, and draws on the
//!   worker's memory budget (idle runs are evicted when it runs short); everything it
//!   returns is bounded before core sees it
//!   ([`SandboxLimits`](sandbox::SandboxLimits)). A guest that traps, loops or overruns
//!   fails its workflow task and nothing else.
//! - Activities — sync functions run on a bounded thread pool (the Python SDK's
//!   `ThreadPoolExecutor(max_workers=100)`), async ones on tokio.
//!
//! Values cross every boundary as Temporal payloads in the JSON encoding all SDKs share
//! (`encoding: json/plain`), so Python, Go or TypeScript clients and workers
//! interoperate with Sandglass ones.
//!
//! # How an activation flows
//!
//! Core hands the worker one *activation* per workflow task: a run id and a list of jobs
//! (start, fire timer, resolve activity, signal, query, update, evict …). The workflow
//! half of a worker (`runner/`, the `WorkflowRunner`) takes it through four steps, each one
//! call. Core's jobs are walked once, by the route; the run walks the guest's jobs once
//! more, to forget what they resolve:
//!
//! 1. **Route** (`bridge/activation.rs`, `route_activation`): core's jobs become the
//!    guest's WIT jobs, checked (a job the guest cannot take is a `RouteError`); the
//!    same walk says whether the run is to be evicted, the start's workflow type and
//!    random seed, and which queries and updates the activation carries
//!    (`bridge/messages.rs`). Failure chains from the server were already cut to 32
//!    frames as the connection read them (`failure_chain/wire.rs`).
//! 2. **Run** (`runner/run.rs`, `Run::activate`): the runner finds the run's cached
//!    instance, or makes one from its module when the activation starts the run (core
//!    replays an evicted run from its start). The run forgets what the jobs resolve,
//!    activates the guest in the sandbox (`sandbox/instance.rs`) under its CPU
//!    deadline, memory cap and command limits, and checks what it issues against what
//!    is open (`bridge/sequence.rs`). Everything the guest returns is bounded on the
//!    way out (`sandbox/output.rs`), failure chains cut to 32 frames
//!    (`failure_chain/`). A worker runs guests on blocking threads, never on the async
//!    ones (the replayer, which has nothing else to do, runs them in place).
//! 3. **Convert** (`bridge/commands.rs`, `commands_from_wit`): the guest's commands
//!    become core's; a queries-only activation must answer queries and nothing else,
//!    and the whole completion is measured against Temporal's 4 MiB limit.
//! 4. **Complete**: the completion (or a workflow task failure naming what went wrong,
//!    `runner/task_error.rs`) goes back to core, which asks the server for the next
//!    task. When an instance breaks while answering queries or updates alone, they
//!    fail and the run is evicted, to be rebuilt by replay.
//!
//! The sandbox sees WIT records only (`wit.rs`); the bridge is the one place that
//! converts between them and core's protos. The replayer (`replay.rs`) drives the same
//! runner from a recorded history; hot reload (`reload/`) checks new versions with the
//! replayer; the worker (`worker/`) sits on top of both: each version it serves is one
//! lane (`worker/lane.rs`), a core worker with its own runner.

/// `with_*` setters for an options struct whose public fields carry the docs:
/// `with_field(value)` sets `field`, and `with_field(value)` for a `field: Some(T)` entry
/// sets it to `Some(value)`. Options are then built in one expression, like
/// `WorkflowOptions`, rather than by assigning fields after `default()`.
macro_rules! with_setters {
    ($ty:ty { $($body:tt)* }) => {
        impl $ty {
            with_setters!(@each $($body)*);
        }
    };
    (@each) => {};
    (@each $setter:ident($field:ident: Some($value:ty)), $($rest:tt)*) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ") to `Some(value)`.")]
        #[must_use]
        pub fn $setter(mut self, value: $value) -> Self {
            self.$field = Some(value);
            self
        }
        with_setters!(@each $($rest)*);
    };
    (@each $setter:ident($field:ident: $value:ty), $($rest:tt)*) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
        #[must_use]
        pub fn $setter(mut self, value: $value) -> Self {
            self.$field = value;
            self
        }
        with_setters!(@each $($rest)*);
    };
}

mod activity;
mod bridge;
mod client;
mod descriptors;
mod failure_chain;
pub mod guest_build;
pub mod history;
pub mod logging;
pub mod payload;
pub mod reload;
mod replay;
mod runner;
pub mod sandbox;
mod settings;
mod stats;
pub mod testing;
mod user_dirs;
pub mod wit;
mod worker;

pub use activity::{
    ActivityContext, ActivityEnvironment, ActivityFailure, ActivityInfo, CancellationReason,
};
pub use client::{
    ApplicationFailure, AsyncActivityHandle, AsyncActivityId, Client, ClientError,
    HeartbeatResponse, QueryError, QueryRejectCondition, UpdateError, UpdateHandle, UpdateOptions,
    UpdateStage, WorkflowDescription, WorkflowExecutionSummary, WorkflowHandle,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowOptions, WorkflowResultError,
    WorkflowStatus,
};
pub use failure_chain::MAX_FAILURE_CHAIN;
pub use replay::{ReplayError, Replayer};
pub use runner::WorkflowTaskError;
pub use sandglass_declare::failure_types;
pub use sandglass_declare::{
    ActivityDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};
pub use settings::{ConnectionSettings, ProfileOptions, SettingsError, TlsSettings};
pub use stats::WorkerStats;
pub use worker::{
    ShutdownHandle, Worker, WorkerBuilder, WorkerError, WorkerOptions, wait_for_stop_signal,
};

/// The History proto, for replay and inspection.
pub use temporalio_common::protos::temporal::api::history::v1::History;
