//! Native activities against a real dev server: retries until success, non-retryable
//! errors, heartbeat timeouts that resume from the last heartbeat, and the bound on
//! concurrently running sync activities.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sandglass_host::{
    ActivityError, Worker, WorkerBuilder, WorkerOptions, WorkflowOptions, WorkflowResultError,
};
use sandglass_tests::workflows::{
    ACTIVITY_FAN_OUT_WORKFLOW, ACTIVITY_RETRY_WORKFLOW, FAILS_NON_RETRYABLE, FLAKY_UNTIL_THIRD,
    HEARTBEAT_RESUME_WORKFLOW, HEARTBEAT_THEN_STALL, NON_RETRYABLE_ACTIVITY_WORKFLOW, POOL_PROBE,
};
use sandglass_tests::{RunningWorker, TestEnv, test_component, unique_task_queue};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;

fn test_worker(env: &TestEnv, task_queue: &str) -> WorkerBuilder {
    Worker::builder(env.client.clone(), task_queue).workflow_module(test_component())
}

/// The failure and its causes, outermost first.
fn failure_chain(failure: &Failure) -> Vec<&Failure> {
    std::iter::successors(Some(failure), |f| f.cause.as_deref()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retryable_failure_is_retried_until_the_activity_succeeds() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("activity-retry");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let worker = test_worker(&env, &task_queue)
        .sync_activity(FLAKY_UNTIL_THIRD, move |ctx, ()| {
            counted.fetch_add(1, Ordering::SeqCst);
            let attempt = ctx.info().attempt;
            if attempt < 3 {
                Err(ActivityError::application(
                    "Flaky",
                    format!("attempt {attempt} fails"),
                ))
            } else {
                Ok(attempt)
            }
        })
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);

    let attempt = env
        .client
        .execute_workflow(
            ACTIVITY_RETRY_WORKFLOW,
            &(),
            WorkflowOptions::new("activity-retry", &task_queue),
        )
        .await
        .expect("the workflow gets the third attempt's result");
    assert_eq!(attempt, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_retryable_failure_fails_the_workflow_after_one_attempt() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("activity-non-retryable");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let worker = test_worker(&env, &task_queue)
        .sync_activity(FAILS_NON_RETRYABLE, move |_ctx, ()| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err::<u32, _>(
                ActivityError::application("CardDeclined", "the card was declined").non_retryable(),
            )
        })
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);

    let error = env
        .client
        .execute_workflow(
            NON_RETRYABLE_ACTIVITY_WORKFLOW,
            &(),
            WorkflowOptions::new("activity-non-retryable", &task_queue),
        )
        .await
        .expect_err("the workflow fails with the activity's error");
    let message = error.to_string();
    let WorkflowResultError::Failed(failure) = error else {
        panic!("expected a failed workflow, got {message}");
    };
    assert!(
        message.contains("the card was declined"),
        "message does not name the activity's error: {message}"
    );
    let application = failure_chain(&failure)
        .into_iter()
        .find_map(|f| match &f.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) if info.r#type == "CardDeclined" => {
                Some(info.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no CardDeclined application failure in {failure:#?}"));
    assert!(application.non_retryable, "{application:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the activity ran once");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_heartbeat_timeout_retries_with_the_last_heartbeat_details() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("activity-heartbeat");
    let worker = test_worker(&env, &task_queue)
        .sync_activity(HEARTBEAT_THEN_STALL, |ctx, ()| {
            if ctx.info().attempt > 1 {
                return match ctx.last_heartbeat_details::<u32>() {
                    Some(Ok(progress)) => Ok(progress),
                    other => Err(ActivityError::application(
                        "NoProgress",
                        format!("attempt {} saw {other:?}", ctx.info().attempt),
                    )
                    .non_retryable()),
                };
            }
            for progress in 1..=3u32 {
                ctx.heartbeat(&progress);
            }
            // Stall past the 1 s heartbeat timeout (core flushes the throttled last
            // heartbeat at 0.8 s), then give up soon after Temporal retries.
            let stalled = Instant::now();
            while stalled.elapsed() < Duration::from_secs(3) && !ctx.is_cancelled() {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(ActivityError::application("Stalled", "attempt 1 stalled"))
        })
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);

    let progress = env
        .client
        .execute_workflow(
            HEARTBEAT_RESUME_WORKFLOW,
            &(),
            WorkflowOptions::new("activity-heartbeat", &task_queue),
        )
        .await
        .expect("the retry resumes from the last heartbeat");
    assert_eq!(progress, 3);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_activities_never_exceed_the_thread_pool() {
    const ACTIVITIES: u32 = 40;
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("activity-pool");
    let running = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (running_in, peak_in) = (running.clone(), peak.clone());
    let mut options = WorkerOptions::default();
    options.activity_threads = 4;
    let worker = test_worker(&env, &task_queue)
        .options(options)
        .sync_activity(POOL_PROBE, move |_ctx, i: u32| {
            let now = running_in.fetch_add(1, Ordering::SeqCst) + 1;
            peak_in.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            running_in.fetch_sub(1, Ordering::SeqCst);
            Ok(i)
        })
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);

    let results = env
        .client
        .execute_workflow(
            ACTIVITY_FAN_OUT_WORKFLOW,
            &ACTIVITIES,
            WorkflowOptions::new("activity-pool", &task_queue),
        )
        .await
        .expect("all activities complete");
    assert_eq!(results, (0..ACTIVITIES).collect::<Vec<_>>());
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 4, "{peak} activities ran at once on 4 threads");
    assert!(peak >= 2, "the activities never overlapped (peak {peak})");
    assert_eq!(running.load(Ordering::SeqCst), 0);
    worker.stop().await.expect("worker stops cleanly");
}
