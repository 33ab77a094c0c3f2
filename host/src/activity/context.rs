//! What a running activity can ask of the worker.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tokio::sync::Notify;

use serde::de::DeserializeOwned;

use crate::payload::{DecodeError, from_payload, to_payload};

/// Facts about the activity task being run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ActivityInfo {
    pub activity_id: String,
    pub activity_type: String,
    pub workflow_id: String,
    pub workflow_run_id: String,
    pub workflow_type: String,
    pub namespace: String,
    pub task_queue: String,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub start_to_close_timeout: Option<Duration>,
    pub heartbeat_timeout: Option<Duration>,
    /// What the previous attempt last heartbeated, for resuming where it stopped.
    pub heartbeat_details: Vec<Payload>,
    /// Names this attempt to the server. Hand it to whoever finishes the activity after
    /// it returns [`ActivityFailure::will_complete_async`](crate::ActivityFailure::will_complete_async)
    /// ([`AsyncActivityId::TaskToken`](crate::AsyncActivityId::TaskToken)). Opaque bytes,
    /// valid until this attempt ends; treat it as a credential for this one activity.
    /// A local activity's token is the worker's own and cannot complete it from a
    /// client.
    pub task_token: Vec<u8>,
    /// Scheduled with `execute_local_activity`: it runs inside its workflow's task on
    /// this worker, and heartbeats go nowhere (there is no heartbeat timeout to feed).
    pub is_local: bool,
}

type HeartbeatSink = Arc<dyn Fn(Vec<Payload>) + Send + Sync>;

/// Why a running activity was asked to stop; see [`ActivityContext::cancellation_reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancellationReason {
    /// The workflow cancelled the activity (or someone did through Temporal's API). Return
    /// [`ActivityFailure::cancelled`](crate::ActivityFailure::cancelled) to confirm it.
    Requested,
    /// The worker is shutting down and its
    /// [grace period](crate::WorkerOptions::graceful_shutdown_period) has run out. Whatever
    /// the activity returns next is still reported; a cancellation is reported as a
    /// retryable `WorkerShutdown` failure, so another worker runs the next attempt.
    WorkerShutdown,
    /// This attempt's start-to-close or heartbeat timeout has passed; the server has
    /// already timed it out, so its result is no longer wanted.
    TimedOut,
    /// The server no longer knows this attempt (it timed out, or its workflow closed).
    NotFound,
    /// Paused through Temporal's API.
    Paused,
    /// Reset through Temporal's API.
    Reset,
}

/// Handed to every activity invocation. Cheap to clone; clones share cancellation.
#[derive(Clone)]
pub struct ActivityContext {
    info: Arc<ActivityInfo>,
    cancel: Arc<Latch<CancellationReason>>,
    worker_shutdown: Arc<Latch<()>>,
    heartbeat: HeartbeatSink,
}

/// A value set at most once, which tasks can wait for.
pub(crate) struct Latch<T> {
    value: OnceLock<T>,
    notify: Notify,
}

impl<T> Default for Latch<T> {
    fn default() -> Self {
        Self {
            value: OnceLock::new(),
            notify: Notify::new(),
        }
    }
}

impl<T> Latch<T> {
    /// Sets the value and wakes the waiters; the first value set stays.
    pub(crate) fn set(&self, value: T) {
        if self.value.set(value).is_ok() {
            self.notify.notify_waiters();
        }
    }

    pub(crate) fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Resolves once the value is set. Cancel safe: it only observes the value.
    async fn wait(&self) -> &T {
        loop {
            // Registered before the check, so a `set` in between still wakes it.
            let notified = self.notify.notified();
            if let Some(value) = self.value.get() {
                return value;
            }
            notified.await;
        }
    }
}

impl ActivityContext {
    pub(crate) fn new(info: ActivityInfo, heartbeat: HeartbeatSink) -> Self {
        Self {
            info: Arc::new(info),
            cancel: Arc::default(),
            worker_shutdown: Arc::default(),
            heartbeat,
        }
    }

    /// Shares the worker's shutdown signal with this context.
    pub(crate) fn with_worker_shutdown(mut self, worker_shutdown: Arc<Latch<()>>) -> Self {
        self.worker_shutdown = worker_shutdown;
        self
    }

    pub fn info(&self) -> &ActivityInfo {
        &self.info
    }

    /// Records a heartbeat with `details`; core throttles what reaches the server.
    ///
    /// Heartbeats are how Temporal learns a long activity is alive, and how a
    /// cancellation request reaches it. A value that cannot be encoded is logged and
    /// the heartbeat is sent without details.
    pub fn heartbeat<T: Serialize + ?Sized>(&self, details: &T) {
        let details = match to_payload(details) {
            // `&()` is a heartbeat with no details, not one whose detail is `null`.
            Ok(_) if size_of_val(details) == 0 && is_null(details) => Vec::new(),
            Ok(payload) => vec![payload],
            Err(error) => {
                tracing::warn!(%error, activity_type = %self.info.activity_type, "heartbeat details do not encode as JSON; sending none");
                Vec::new()
            }
        };
        (self.heartbeat)(details);
    }

    /// Decodes the details the previous attempt last heartbeated, if it sent any, so a
    /// retry can resume from there.
    pub fn last_heartbeat_details<T: DeserializeOwned>(&self) -> Option<Result<T, DecodeError>> {
        self.info.heartbeat_details.first().map(from_payload)
    }

    /// True once Temporal, or the worker, asked for this activity to be cancelled (see
    /// [`cancellation_reason`](Self::cancellation_reason) for why). Sync activities poll
    /// it between units of work.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.get().is_some()
    }

    /// Resolves once cancellation is requested; select on it in async activities.
    ///
    /// # Cancel safety
    /// Safe to drop and call again: it only observes the flag.
    pub async fn cancelled(&self) {
        self.cancel.wait().await;
    }

    /// Why this activity was cancelled, or `None` while it is not. The first reason
    /// stays: a later one (say, a timeout after a shutdown) does not replace it.
    pub fn cancellation_reason(&self) -> Option<CancellationReason> {
        self.cancel.get().copied()
    }

    /// True once the worker running this activity has begun to shut down (the Python
    /// SDK's `activity.is_worker_shutdown()`), whether or not the activity is cancelled
    /// yet. Running activities may still finish, and their results are reported, until
    /// the [grace period](crate::WorkerOptions::graceful_shutdown_period) runs out; then
    /// they are cancelled with [`CancellationReason::WorkerShutdown`]. A long activity
    /// can use this to heartbeat its progress and stop early, so that the next attempt
    /// resumes from there.
    pub fn is_worker_shutdown(&self) -> bool {
        self.worker_shutdown.get().is_some()
    }

    /// Resolves once the worker begins to shut down; see
    /// [`is_worker_shutdown`](Self::is_worker_shutdown).
    ///
    /// # Cancel safety
    /// Safe to drop and call again: it only observes the flag.
    pub async fn worker_shutdown(&self) {
        self.worker_shutdown.wait().await;
    }

    pub(crate) fn request_cancel(&self, reason: CancellationReason) {
        self.cancel.set(reason);
    }
}

fn is_null<T: Serialize + ?Sized>(value: &T) -> bool {
    serde_json::to_value(value).is_ok_and(|value| value.is_null())
}
