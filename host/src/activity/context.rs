//! What a running activity can ask of the worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

type HeartbeatSink = Arc<dyn Fn(Vec<Payload>) + Send + Sync>;

/// Handed to every activity invocation. Cheap to clone; clones share cancellation.
#[derive(Clone)]
pub struct ActivityContext {
    info: Arc<ActivityInfo>,
    cancel: Arc<Cancellation>,
    heartbeat: HeartbeatSink,
}

#[derive(Default)]
struct Cancellation {
    requested: AtomicBool,
    notify: Notify,
}

impl ActivityContext {
    pub(crate) fn new(info: ActivityInfo, heartbeat: HeartbeatSink) -> Self {
        Self {
            info: Arc::new(info),
            cancel: Arc::default(),
            heartbeat,
        }
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

    /// True once Temporal asked for this activity to be cancelled. Sync activities poll
    /// it between units of work.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.requested.load(Ordering::Acquire)
    }

    /// Resolves once cancellation is requested; select on it in async activities.
    ///
    /// # Cancel safety
    /// Safe to drop and call again: it only observes the flag.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.cancel.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn request_cancel(&self) {
        self.cancel.requested.store(true, Ordering::Release);
        self.cancel.notify.notify_waiters();
    }
}
