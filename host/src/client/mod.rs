//! Starting workflows and reading their results: the Python SDK's `Client`; signalling,
//! querying, updating, cancelling, terminating, describing and listing them (the Python
//! SDK's `WorkflowHandle` and `Client.list_workflows`); and finishing activities that
//! complete asynchronously ([`AsyncActivityHandle`]).

mod async_activity;
mod connection;
mod control;
mod error;
mod failure;
mod handle;
mod options;
mod query;
mod start;
mod time_skipping;
mod tls;
mod transport;
mod update;
mod visibility;

pub use async_activity::{AsyncActivityHandle, AsyncActivityId, HeartbeatResponse};
pub use connection::Client;
pub use error::{ClientError, WorkflowResultError};
pub use failure::ApplicationFailure;
pub use handle::WorkflowHandle;
pub use options::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowOptions};
pub use query::{QueryError, QueryRejectCondition};
pub(crate) use time_skipping::ServerTimeLock;
pub use update::{UpdateError, UpdateHandle, UpdateOptions, UpdateStage};
pub use visibility::{WorkflowDescription, WorkflowExecutionSummary, WorkflowStatus};
