//! Running activity functions in unit tests, without a server: the Python SDK's
//! `ActivityEnvironment`.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use temporalio_common::protos::temporal::api::common::v1::Payload;

use super::context::Latch;
use super::{ActivityContext, ActivityFailure, ActivityInfo, CancellationReason};
use crate::payload::{DecodeError, from_payload};

/// A test context for calling an activity function directly: heartbeats are recorded,
/// cancellation can be requested at any time, and the info is yours to set.
///
/// ```
/// use sandglass_host::{ActivityContext, ActivityEnvironment, ActivityFailure};
///
/// fn count(ctx: &ActivityContext, to: u32) -> Result<u32, ActivityFailure> {
///     for i in 0..to {
///         ctx.heartbeat(&i);
///     }
///     Ok(to)
/// }
///
/// let env = ActivityEnvironment::new();
/// assert_eq!(env.run(count, 3).unwrap(), 3);
/// assert_eq!(env.heartbeats::<u32>().unwrap(), vec![0, 1, 2]);
/// ```
pub struct ActivityEnvironment {
    context: ActivityContext,
    heartbeats: Arc<Mutex<Vec<Vec<Payload>>>>,
    worker_shutdown: Arc<Latch<()>>,
}

impl Default for ActivityEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl ActivityEnvironment {
    /// An environment whose info says attempt 1 of activity type `test`, with task token
    /// `test-task-token` (so an activity that hands its token out has one to hand).
    pub fn new() -> Self {
        Self::with_info(ActivityInfo {
            activity_type: "test".into(),
            activity_id: "1".into(),
            attempt: 1,
            task_token: b"test-task-token".to_vec(),
            ..ActivityInfo::default()
        })
    }

    pub fn with_info(info: ActivityInfo) -> Self {
        let heartbeats: Arc<Mutex<Vec<Vec<Payload>>>> = Arc::default();
        let sink = heartbeats.clone();
        let worker_shutdown: Arc<Latch<()>> = Arc::default();
        let context = ActivityContext::new(
            info,
            Arc::new(move |details| {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(details)
            }),
        )
        .with_worker_shutdown(worker_shutdown.clone());
        Self {
            context,
            heartbeats,
            worker_shutdown,
        }
    }

    /// The context activities run with here; clone it into threads as needed.
    pub fn context(&self) -> &ActivityContext {
        &self.context
    }

    /// Calls a sync activity function on this thread.
    pub fn run<I, O>(
        &self,
        activity: impl FnOnce(&ActivityContext, I) -> Result<O, ActivityFailure>,
        input: I,
    ) -> Result<O, ActivityFailure> {
        activity(&self.context, input)
    }

    /// Calls an async activity function.
    pub async fn run_async<I, O, Fut>(
        &self,
        activity: impl FnOnce(ActivityContext, I) -> Fut,
        input: I,
    ) -> Result<O, ActivityFailure>
    where
        Fut: Future<Output = Result<O, ActivityFailure>>,
    {
        activity(self.context.clone(), input).await
    }

    /// Requests cancellation, as Temporal would; running and later activities see it.
    pub fn cancel(&self) {
        self.cancel_with(CancellationReason::Requested);
    }

    /// Requests cancellation for `reason`, e.g. [`CancellationReason::WorkerShutdown`] as
    /// when a worker's grace period runs out.
    pub fn cancel_with(&self, reason: CancellationReason) {
        self.context.request_cancel(reason);
    }

    /// Signals that the worker is shutting down (the Python SDK's `worker_shutdown()`),
    /// as [`ActivityContext::is_worker_shutdown`] sees it; this does not cancel.
    pub fn start_worker_shutdown(&self) {
        self.worker_shutdown.set(());
    }

    /// Every heartbeat so far, decoded; a heartbeat without details decodes as `null`.
    pub fn heartbeats<T: DeserializeOwned>(&self) -> Result<Vec<T>, DecodeError> {
        self.heartbeats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|details| match details.first() {
                Some(payload) => from_payload(payload),
                None => crate::payload::from_arguments(&[]),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cancellation_reaches_a_sync_activity() {
        let env = ActivityEnvironment::new();
        let ctx = env.context().clone();
        let worker = std::thread::spawn(move || {
            while !ctx.is_cancelled() {
                ctx.heartbeat("working");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err::<(), _>(ActivityFailure::cancelled())
        });
        std::thread::sleep(Duration::from_millis(20));
        env.cancel();
        let result = worker.join().expect("activity thread");
        assert!(result.is_err_and(|e| e.is_cancelled()));
        assert!(!env.heartbeats::<String>().unwrap().is_empty());
    }

    #[tokio::test]
    async fn cancellation_reaches_an_async_activity() {
        let env = ActivityEnvironment::new();
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            env.cancel();
        };
        let activity = env.run_async(
            |ctx: ActivityContext, ()| async move {
                ctx.cancelled().await;
                Err::<(), _>(ActivityFailure::cancelled())
            },
            (),
        );
        let (result, ()) = tokio::join!(activity, cancel);
        assert!(result.is_err_and(|e| e.is_cancelled()));
    }

    #[test]
    fn an_activity_can_hand_out_its_task_token_and_complete_async() {
        let env = ActivityEnvironment::new();
        let mut handed_out = Vec::new();
        let result = env.run(
            |ctx, ()| {
                handed_out = ctx.info().task_token.clone();
                Err::<(), _>(ActivityFailure::will_complete_async())
            },
            (),
        );
        assert!(result.is_err_and(|e| e.is_will_complete_async()));
        assert_eq!(handed_out, b"test-task-token");
    }

    #[test]
    fn last_heartbeat_details_come_from_the_info() {
        let env = ActivityEnvironment::with_info(ActivityInfo {
            attempt: 2,
            heartbeat_details: vec![crate::payload::to_payload(&41).unwrap()],
            ..ActivityInfo::default()
        });
        let resumed = env.run(
            |ctx, ()| {
                let last: u32 = ctx.last_heartbeat_details().transpose()?.unwrap_or(0);
                Ok(last + 1)
            },
            (),
        );
        assert_eq!(resumed.unwrap(), 42);
    }
}
