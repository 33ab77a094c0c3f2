//! What the reloader needs of the worker it runs in, so that it knows nothing else of it:
//! the worker depends on the reloader, never the other way around.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use temporalio_common::worker::VersioningBehavior;

use crate::client::Client;
use crate::sandbox::{Sandbox, WorkflowModule};

/// How a version's pollers present themselves to Temporal.
#[derive(Clone, Debug)]
pub(crate) struct PollAs {
    pub deployment_name: String,
    pub build_id: String,
    /// The behavior of workflow types not in `behaviors`.
    pub default_behavior: VersioningBehavior,
    /// Each workflow type's behavior: pinned to its version, or moving on.
    pub behaviors: HashMap<String, VersioningBehavior>,
}

/// The worker, as the reloader sees it.
pub(crate) trait VersionHost: Send + Sync + 'static {
    fn sandbox(&self) -> &Sandbox;

    fn client(&self) -> &Client;

    fn task_queue(&self) -> &str;

    /// Starts serving `modules` as the version `poll_as` names; the error says why not.
    fn serve(
        &self,
        modules: BTreeMap<String, WorkflowModule>,
        poll_as: PollAs,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Stops serving the version `build_id`; its running work finishes first.
    fn retire(&self, build_id: &str);

    /// Runs of version `build_id` cached now.
    fn cached_runs(&self, build_id: &str) -> usize;

    /// Whether the worker is shutting down.
    fn is_stopping(&self) -> bool;

    /// Resolves once the worker begins to shut down.
    fn stopped(&self) -> impl Future<Output = ()> + Send;
}
