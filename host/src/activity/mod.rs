//! Native activities: how they are declared, registered, given context and run.
//!
//! Sync activities run on the worker's [`ActivityThreadPool`]; async ones run on tokio.
//! Both see an [`ActivityContext`] and report failures as [`ActivityFailure`]s, which reach
//! the calling workflow as Temporal application failures.

mod context;
mod environment;
mod error;
mod pool;
mod registry;

pub(crate) use context::Latch;
pub use context::{ActivityContext, ActivityInfo, CancellationReason};
pub use environment::ActivityEnvironment;
pub use error::ActivityFailure;
pub(crate) use pool::ActivityThreadPool;
pub(crate) use registry::{ActivityOutcome, ActivityRegistry};
