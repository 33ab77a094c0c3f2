//! The activity half of a worker: activity tasks in, native functions run, results out.

use sandglass_declare::failure_types::{NOT_FOUND_ERROR, SANDGLASS_BUG};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::FutureExt;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::{
    ActivityCancelReason, ActivityTask, Start, activity_task,
};
use temporalio_common::protos::coresdk::{ActivityHeartbeat, ActivityTaskCompletion};
use temporalio_common::protos::temporal::api::failure::v1::{
    ApplicationFailureInfo, Failure, failure::FailureInfo,
};
use temporalio_sdk_core::{PollError, Worker as CoreWorker};
use tokio::task::JoinSet;

use crate::activity::{
    ActivityContext, ActivityFailure, ActivityInfo, ActivityOutcome, ActivityRegistry,
    ActivityThreadPool, CancellationReason, Latch,
};
use crate::failure_chain::FAILURE_SOURCE;
use crate::stats::{Phase, StatsRecorder};

/// Runs registered activities for the tasks core hands out.
pub(crate) struct ActivityRunner {
    registry: ActivityRegistry,
    pool: ActivityThreadPool,
    task_queue: String,
    running: Mutex<HashMap<Vec<u8>, ActivityContext>>,
    /// Set when the worker begins to shut down; every context shares it.
    worker_shutdown: Arc<Latch<()>>,
    stats: Arc<StatsRecorder>,
}

impl ActivityRunner {
    pub fn new(
        registry: ActivityRegistry,
        pool: ActivityThreadPool,
        task_queue: String,
        stats: Arc<StatsRecorder>,
    ) -> Self {
        Self {
            registry,
            pool,
            task_queue,
            running: Mutex::default(),
            worker_shutdown: Arc::default(),
            stats,
        }
    }

    /// Tells running and later activities that the worker is shutting down
    /// ([`ActivityContext::is_worker_shutdown`]); core cancels them when the grace period
    /// runs out.
    pub fn begin_shutdown(&self) {
        self.worker_shutdown.set(());
    }

    /// Closes the thread pool once every core worker has stopped serving.
    pub fn finish(&self) {
        self.pool.close();
    }

    /// Polls `core`'s activity tasks until it shuts down, then waits for the activities
    /// it started so that every one that finishes is reported. A worker serving several
    /// versions calls this once per core worker; they share the pool and the registry.
    pub async fn serve(self: Arc<Self>, core: Arc<CoreWorker>) -> Result<(), PollError> {
        let mut in_flight = JoinSet::new();
        let result = loop {
            let task = match core.poll_activity_task().await {
                Ok(task) => task,
                Err(PollError::ShutDown) => break Ok(()),
                Err(error) => break Err(error),
            };
            let ActivityTask {
                task_token,
                variant,
            } = task;
            match variant {
                Some(activity_task::Variant::Start(start)) => {
                    // Registered before the next poll, so a cancel that core hands out
                    // right after the start always finds the activity.
                    let ctx = self.register(&core, &task_token, &start);
                    let (runner, core) = (self.clone(), core.clone());
                    in_flight
                        .spawn(async move { runner.start(core, task_token, start, ctx).await });
                }
                Some(activity_task::Variant::Cancel(cancel)) => {
                    let ctx = self.lock_running().get(&task_token).cloned();
                    match ctx {
                        Some(ctx) => {
                            tracing::info!(activity_type = %ctx.info().activity_type, reason = ?cancel.reason(), "activity cancellation requested");
                            ctx.request_cancel(cancellation_reason(cancel.reason()));
                        }
                        None => tracing::debug!("cancel for an activity that already finished"),
                    }
                }
                None => tracing::warn!("activity task without a variant; ignored"),
            }
            while in_flight.try_join_next().is_some() {}
        };
        while in_flight.join_next().await.is_some() {}
        result
    }

    /// The context of a starting activity, recorded as running.
    fn register(
        &self,
        core: &Arc<CoreWorker>,
        task_token: &[u8],
        start: &Start,
    ) -> ActivityContext {
        let info = activity_info(start, &self.task_queue, task_token);
        let heartbeat_core = core.clone();
        let heartbeat_token = task_token.to_vec();
        let is_local = info.is_local;
        let ctx = ActivityContext::new(
            info,
            Arc::new(move |details| {
                // Core has nowhere to send a local activity's heartbeat and warns.
                if !is_local {
                    heartbeat_core.record_activity_heartbeat(ActivityHeartbeat {
                        task_token: heartbeat_token.clone(),
                        details,
                    })
                }
            }),
        )
        .with_worker_shutdown(self.worker_shutdown.clone());
        self.lock_running().insert(task_token.to_vec(), ctx.clone());
        ctx
    }

    async fn start(
        &self,
        core: Arc<CoreWorker>,
        task_token: Vec<u8>,
        start: Start,
        ctx: ActivityContext,
    ) {
        let info = ctx.info().clone();
        let is_local = start.is_local;
        // The registry already turns activity panics into failures; this guard keeps a
        // bug of ours from leaving the task unanswered, which would stall shutdown.
        let started = Instant::now();
        let outcome = AssertUnwindSafe(self.registry.execute(
            &self.pool,
            &info.activity_type,
            ctx,
            start.input,
        ))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Some(ActivityOutcome::Failed(
                ActivityFailure::application(SANDGLASS_BUG, "the activity executor panicked")
                    .into_failure(),
            ))
        });
        self.stats.add(Phase::Activity, started.elapsed());
        self.lock_running().remove(&task_token);
        let result = match outcome {
            Some(ActivityOutcome::Completed(payload)) => ActivityExecutionResult::ok(payload),
            Some(ActivityOutcome::Failed(failure)) => {
                tracing::warn!(activity_type = %info.activity_type, attempt = info.attempt, message = %failure.message, "activity failed");
                ActivityExecutionResult::fail(failure)
            }
            Some(ActivityOutcome::Cancelled(failure)) => ActivityExecutionResult::cancel(failure),
            Some(ActivityOutcome::WillCompleteAsync) if is_local => {
                // Core cannot leave a local activity open: its result is a marker the
                // workflow task writes. Fail it plainly instead of timing out.
                let failure = ActivityFailure::application(
                    "LocalActivityCannotCompleteAsync",
                    format!(
                        "local activity {:?} returned will_complete_async(); only activities \
                         scheduled with execute_activity can complete from a client",
                        info.activity_type
                    ),
                )
                .non_retryable()
                .into_failure();
                tracing::error!(message = %failure.message, "local activity tried to complete asynchronously");
                ActivityExecutionResult::fail(failure)
            }
            Some(ActivityOutcome::WillCompleteAsync) => {
                // Expected, not a problem: the activity handed its token to a client.
                tracing::debug!(activity_type = %info.activity_type, attempt = info.attempt, "activity will complete asynchronously");
                ActivityExecutionResult::will_complete_async()
            }
            None => {
                let failure = self.not_registered(&info.activity_type);
                tracing::error!(message = %failure.message, "activity task for an unregistered type");
                ActivityExecutionResult::fail(failure)
            }
        };
        let completion = ActivityTaskCompletion {
            task_token,
            result: Some(result),
        };
        if let Err(error) = core.complete_activity_task(completion).await {
            tracing::error!(activity_type = %info.activity_type, %error, "could not report an activity result");
        }
    }

    /// The failure every Temporal SDK reports for an activity type the worker lacks:
    /// retryable, so deploying a worker that has it lets the workflow carry on.
    fn not_registered(&self, activity_type: &str) -> Failure {
        let known: Vec<&str> = self.registry.names().collect();
        Failure {
            message: format!(
                "activity type {activity_type:?} is not registered on this worker (task queue \
                 {:?}); it has {known:?}. Register it, or schedule it on a task queue whose \
                 workers have it",
                self.task_queue
            ),
            source: FAILURE_SOURCE.into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: NOT_FOUND_ERROR.into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, ActivityContext>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn cancellation_reason(reason: ActivityCancelReason) -> CancellationReason {
    match reason {
        ActivityCancelReason::NotFound => CancellationReason::NotFound,
        ActivityCancelReason::Cancelled => CancellationReason::Requested,
        ActivityCancelReason::TimedOut => CancellationReason::TimedOut,
        ActivityCancelReason::WorkerShutdown => CancellationReason::WorkerShutdown,
        ActivityCancelReason::Paused => CancellationReason::Paused,
        ActivityCancelReason::Reset => CancellationReason::Reset,
    }
}

fn activity_info(start: &Start, task_queue: &str, task_token: &[u8]) -> ActivityInfo {
    let execution = start.workflow_execution.clone().unwrap_or_default();
    let duration = |d: Option<prost_wkt_types::Duration>| {
        d.and_then(|d| std::time::Duration::try_from(d).ok())
    };
    ActivityInfo {
        activity_id: start.activity_id.clone(),
        activity_type: start.activity_type.clone(),
        workflow_id: execution.workflow_id,
        workflow_run_id: execution.run_id,
        workflow_type: start.workflow_type.clone(),
        namespace: start.workflow_namespace.clone(),
        task_queue: task_queue.to_owned(),
        attempt: start.attempt,
        start_to_close_timeout: duration(start.start_to_close_timeout),
        heartbeat_timeout: duration(start.heartbeat_timeout),
        heartbeat_details: start.heartbeat_details.clone(),
        task_token: task_token.to_vec(),
        is_local: start.is_local,
    }
}
