//! Native activities against a real dev server: retries until success, non-retryable
//! errors, heartbeat timeouts that resume from the last heartbeat, the bound on
//! concurrently running sync activities, cancellation from the workflow (sync and
//! async) and local activities.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{
    ActivityContext, ActivityFailure, History, Replayer, WorkerBuilder, WorkerOptions,
    WorkflowOptions, WorkflowResultError,
};
use sandglass_tests::workflows::{
    ACTIVITY_FAN_OUT_WORKFLOW, ACTIVITY_RETRY_WORKFLOW, CANCEL_ACTIVITY_WORKFLOW,
    FAILS_NON_RETRYABLE, FLAKY_UNTIL_THIRD, HEARTBEAT_RESUME_WORKFLOW, HEARTBEAT_THEN_STALL,
    HEARTBEAT_UNTIL_CANCELLED, LOCAL_ACTIVITY_WORKFLOW, LOCAL_FLAKY,
    NON_RETRYABLE_ACTIVITY_WORKFLOW, POOL_PROBE,
};
use sandglass_tests::{TestEnv, count_events, failure_chain, test_component, unique_task_queue};
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

#[tokio::test(flavor = "multi_thread")]
async fn a_retryable_failure_is_retried_until_the_activity_succeeds() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("activity-retry");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(test_component()).sync_activity(
                FLAKY_UNTIL_THIRD,
                move |ctx, ()| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let attempt = ctx.info().attempt;
                    if attempt < 3 {
                        Err(ActivityFailure::application(
                            "Flaky",
                            format!("attempt {attempt} fails"),
                        ))
                    } else {
                        Ok(attempt)
                    }
                },
            )
        })
        .await;

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
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(test_component()).sync_activity(
                FAILS_NON_RETRYABLE,
                move |_ctx, ()| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Err::<u32, _>(
                        ActivityFailure::application("CardDeclined", "the card was declined")
                            .non_retryable(),
                    )
                },
            )
        })
        .await;

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
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(test_component()).sync_activity(
                HEARTBEAT_THEN_STALL,
                |ctx, ()| {
                    if ctx.info().attempt > 1 {
                        return match ctx.last_heartbeat_details::<u32>() {
                            Some(Ok(progress)) => Ok(progress),
                            other => Err(ActivityFailure::application(
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
                    Err(ActivityFailure::application("Stalled", "attempt 1 stalled"))
                },
            )
        })
        .await;

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
    let options = WorkerOptions::default().with_activity_threads(4);
    let worker = env
        .serve(&task_queue, |worker| {
            worker
                .workflow_module(test_component())
                .options(options)
                .sync_activity(POOL_PROBE, move |_ctx, i: u32| {
                    let now = running_in.fetch_add(1, Ordering::SeqCst) + 1;
                    peak_in.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    running_in.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                })
        })
        .await;

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

/// Heartbeats every 50 ms until cancelled (then reports it) or 30 s pass.
fn heartbeat_until_cancelled_sync(
    saw_cancel: Arc<AtomicU32>,
) -> impl Fn(&ActivityContext, ()) -> Result<String, ActivityFailure> + Send + Sync + 'static {
    move |ctx, ()| {
        let deadline = Instant::now() + Duration::from_secs(30);
        for beat in 0u32.. {
            ctx.heartbeat(&beat);
            if ctx.is_cancelled() {
                saw_cancel.fetch_add(1, Ordering::SeqCst);
                return Err(ActivityFailure::cancelled());
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok("never cancelled".to_owned())
    }
}

async fn cancel_while_heartbeating(
    activity: impl FnOnce(WorkerBuilder) -> WorkerBuilder,
    env: &TestEnv,
    task_queue: &str,
) {
    let worker = env
        .serve(task_queue, |worker| {
            activity(worker.workflow_module(test_component()))
        })
        .await;
    let report = env
        .client
        .execute_workflow(
            CANCEL_ACTIVITY_WORKFLOW,
            &1_000,
            WorkflowOptions::new(task_queue, task_queue),
        )
        .await
        .expect("the workflow reports the cancellation");
    assert!(report.cancelled, "not cancelled: {}", report.outcome);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_cancels_a_heartbeating_sync_activity() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("cancel-sync");
    let saw_cancel = Arc::new(AtomicU32::new(0));
    let worker = |worker: WorkerBuilder| {
        worker.sync_activity(
            HEARTBEAT_UNTIL_CANCELLED,
            heartbeat_until_cancelled_sync(saw_cancel.clone()),
        )
    };
    cancel_while_heartbeating(worker, &env, &task_queue).await;
    assert_eq!(saw_cancel.load(Ordering::SeqCst), 1, "the activity saw it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_cancels_a_heartbeating_async_activity() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("cancel-async");
    let saw_cancel = Arc::new(AtomicU32::new(0));
    let counted = saw_cancel.clone();
    let worker = move |worker: WorkerBuilder| {
        worker.async_activity(
        HEARTBEAT_UNTIL_CANCELLED,
        move |ctx: ActivityContext, ()| {
            let counted = counted.clone();
            async move {
                let beat = async {
                    for beat in 0u32.. {
                        ctx.heartbeat(&beat);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                };
                tokio::select! {
                    () = ctx.cancelled() => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        Err(ActivityFailure::cancelled())
                    }
                    () = beat => Ok("never cancelled".to_owned()),
                    () = tokio::time::sleep(Duration::from_secs(30)) => Ok("never cancelled".to_owned()),
                }
            }
        },
    )
    };
    cancel_while_heartbeating(worker, &env, &task_queue).await;
    assert_eq!(saw_cancel.load(Ordering::SeqCst), 1, "the activity saw it");
}

/// Runs `LocalActivityWorkflow` against a `local_flaky` that fails twice; returns the
/// workflow's result, the calls counted and the run's history.
async fn run_local_flaky(timer_backoff: bool, id: &str) -> (u32, u32, History) {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("local-activity");
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let worker = env
        .serve(&task_queue, |worker| {
            worker
                .workflow_module(test_component())
                .sync_activity(LOCAL_FLAKY, move |ctx, ()| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let attempt = ctx.info().attempt;
                    if attempt < 3 {
                        Err(ActivityFailure::application(
                            "Flaky",
                            format!("attempt {attempt}"),
                        ))
                    } else {
                        Ok(attempt)
                    }
                })
        })
        .await;
    let handle = env
        .client
        .start_workflow(
            LOCAL_ACTIVITY_WORKFLOW,
            &timer_backoff,
            WorkflowOptions::new(id, &task_queue),
        )
        .await
        .expect("start");
    let result = handle.result().await.expect("the third attempt succeeds");
    let history = handle.fetch_history().await.expect("history");
    worker.stop().await.expect("worker stops cleanly");
    (result, calls.load(Ordering::SeqCst), history)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_activity_retries_inside_the_worker_below_its_threshold() {
    let (attempt, calls, history) = run_local_flaky(false, "local-in-core").await;
    assert_eq!((attempt, calls), (3, 3));
    let timers = count_events(&history, |a| {
        matches!(a, Attributes::TimerStartedEventAttributes(_))
    });
    assert_eq!(timers, 0, "retries below the threshold need no timer");
    let markers = count_events(&history, |a| {
        matches!(a, Attributes::MarkerRecordedEventAttributes(_))
    });
    assert_eq!(markers, 1, "one marker records the local activity");
    let scheduled = count_events(&history, |a| {
        matches!(a, Attributes::ActivityTaskScheduledEventAttributes(_))
    });
    assert_eq!(scheduled, 0, "a local activity schedules no activity task");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_activity_backs_off_on_workflow_timers_above_its_threshold() {
    let (attempt, calls, history) = run_local_flaky(true, "local-timer").await;
    assert_eq!((attempt, calls), (3, 3));
    let timers = count_events(&history, |a| {
        matches!(a, Attributes::TimerStartedEventAttributes(_))
    });
    assert_eq!(timers, 2, "each retry waited on a workflow timer");

    // The markers and timers replay without running the activity again.
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("module");
    Replayer::new(sandbox, [module])
        .replay(history, "local-timer")
        .await
        .expect("a local activity history replays cleanly");
}
