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
//! - [`Sandbox`] — one wasmtime `Engine` and `Linker` per worker, with deterministic
//!   WASI: the guest's clock is workflow time, its randomness is the run's seed, its
//!   output goes to the replay-safe log, and it has no env, files or sockets.
//! - [`WorkflowModule`] — a compiled component, identified by the digest of its bytes,
//!   with imports resolved once (`InstancePre`).
//! - [`WorkflowInstance`](sandbox::WorkflowInstance) — one per workflow run, with its own
//!   store and memory, cached between workflow tasks and dropped on eviction. Each
//!   activation runs under a CPU-time deadline and a memory cap, and draws on the
//!   worker's memory budget (idle runs are evicted when it runs short); everything it
//!   returns is bounded before core sees it ([`SandboxLimits`]). A guest that traps,
//!   loops or overruns fails its workflow task and nothing else.
//! - Activities — sync functions run on a bounded thread pool (the seed's
//!   `ThreadPoolExecutor(max_workers=100)`), async ones on tokio.
//!
//! Values cross every boundary as Temporal payloads in the JSON encoding all SDKs share
//! (`encoding: json/plain`), so Python, Go or TypeScript clients and workers
//! interoperate with Sandglass ones.

pub mod activity;
pub mod bridge;
pub mod client;
mod descriptors;
pub mod failure_chain;
pub mod guest_build;
pub mod history;
pub mod logging;
pub mod payload;
pub mod reload;
pub mod replay;
pub mod sandbox;
pub mod settings;
pub mod testing;
mod user_dirs;
pub mod wit;
pub mod worker;

pub use activity::{ActivityContext, ActivityError, ActivityInfo, CancellationReason};
pub use client::{
    ApplicationFailure, AsyncActivityHandle, AsyncActivityId, Client, ClientError,
    HeartbeatResponse, IdConflictPolicy, IdReusePolicy, QueryError, QueryRejectCondition,
    UpdateError, UpdateHandle, UpdateOptions, UpdateStage, WorkflowDescription,
    WorkflowExecutionSummary, WorkflowHandle, WorkflowOptions, WorkflowResultError, WorkflowStatus,
};
pub use reload::{
    ReloadHandle, ReloadOptions, ReloadOutcome, ReloadProblem, VersionReport, VersioningPolicy,
};
pub use replay::{ReplayError, Replayer};
pub use sandbox::{Sandbox, SandboxLimits, WorkflowModule};
pub use sandglass_declare::{
    ActivityDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};
pub use settings::ConnectionSettings;
pub use worker::{ShutdownHandle, Worker, WorkerBuilder, WorkerError, WorkerOptions, WorkerStats};

/// The History proto, for replay and inspection.
pub use temporalio_common::protos::temporal::api::history::v1::History;
