//! Graceful shutdown against a real dev server: activities running when the worker is
//! told to stop either finish within the grace period, and every result reaches
//! Temporal, or are cancelled with the reason `WorkerShutdown` when it runs out and are
//! retried on the next worker. Each test then starts a fresh worker on the same task
//! queue and checks that the workflows complete with the right results.
//!
//! Activities wait for the shutdown signal instead of sleeping a fixed time, so every
//! one of them is provably running when shutdown begins. The last test checks the same
//! signals in `ActivityEnvironment`, without a server.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use greeting_activities::{GREET, greet};
use sandglass_host::ActivityEnvironment;
use sandglass_host::{
    ActivityContext, ActivityFailure, CancellationReason, Client, History, Worker, WorkerBuilder,
    WorkerOptions, WorkflowHandle, WorkflowOptions,
};
use sandglass_tests::workflows::{
    ACTIVITY_FAN_OUT_WORKFLOW, POOL_PROBE, REMOTE_GREETING, RemoteGreeting,
};
use sandglass_tests::{RunningWorker, TestEnv, count_events, test_component, unique_task_queue};
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tokio::sync::mpsc;

/// Activities of the fan-out workflow (sync) in one run.
const FAN_OUT: u32 = 3;
/// Greeting workflows, one async `greet` activity each.
const GREETINGS: usize = 2;
const ACTIVITIES: usize = FAN_OUT as usize + GREETINGS;
/// How long an activity of these tests waits for a signal before giving up, so that a
/// broken shutdown fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// What an activity saw when it returned.
#[derive(Clone, Debug)]
struct Seen {
    activity: String,
    worker_shutdown: bool,
    cancellation: Option<CancellationReason>,
}

#[derive(Clone, Default)]
struct Record(Arc<Mutex<Vec<Seen>>>);

impl Record {
    fn push(&self, activity: String, ctx: &ActivityContext) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Seen {
                activity,
                worker_shutdown: ctx.is_worker_shutdown(),
                cancellation: ctx.cancellation_reason(),
            });
    }

    /// What each activity saw, in the order of [`expected_activities`].
    fn seen(&self) -> Vec<Seen> {
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        seen.sort_by(|a, b| a.activity.cmp(&b.activity));
        seen
    }
}

/// The activities of the workflows [`Started`] starts, in order, as [`Record`] names them.
fn expected_activities() -> Vec<String> {
    let mut names: Vec<String> = (0..FAN_OUT)
        .map(|i| format!("pool_probe {i}"))
        .chain((0..GREETINGS).map(|n| format!("greet {}", greeting_name(n))))
        .collect();
    names.sort();
    names
}

fn greeting_name(n: usize) -> String {
    format!("guest {n}")
}

fn worker_builder(client: &Client, task_queue: &str, grace: Duration) -> WorkerBuilder {
    let options = WorkerOptions::default().with_graceful_shutdown_period(grace);
    Worker::builder(client.clone(), task_queue)
        .workflow_module(test_component())
        .options(options)
}

/// The workflows every test starts: one fan-out of [`FAN_OUT`] sync activities and
/// [`GREETINGS`] greetings with one async activity each.
struct Started {
    fan_out: WorkflowHandle<Vec<u32>>,
    greetings: Vec<(String, WorkflowHandle<String>)>,
}

impl Started {
    async fn start(client: &Client, task_queue: &str) -> Self {
        let fan_out = client
            .start_workflow(
                ACTIVITY_FAN_OUT_WORKFLOW,
                &FAN_OUT,
                WorkflowOptions::new(unique_task_queue("fan-out"), task_queue),
            )
            .await
            .expect("start the fan-out workflow");
        let mut greetings = Vec::new();
        for n in 0..GREETINGS {
            let name = greeting_name(n);
            let handle = start_greeting(client, task_queue, &name).await;
            greetings.push((name, handle));
        }
        Self { fan_out, greetings }
    }

    async fn histories(&self) -> Vec<(String, History)> {
        let mut histories = vec![(
            self.fan_out.workflow_id().to_owned(),
            self.fan_out.fetch_history().await.expect("fetch history"),
        )];
        for (_, handle) in &self.greetings {
            histories.push((
                handle.workflow_id().to_owned(),
                handle.fetch_history().await.expect("fetch history"),
            ));
        }
        histories
    }

    /// Waits for every workflow's result and checks it.
    async fn assert_results(&self) {
        let results = tokio::time::timeout(Duration::from_secs(60), self.fan_out.result())
            .await
            .expect("the fan-out workflow completes within 60 s")
            .expect("the fan-out workflow succeeds");
        assert_eq!(results, (0..FAN_OUT).collect::<Vec<_>>());
        for (name, handle) in &self.greetings {
            let greeting = tokio::time::timeout(Duration::from_secs(60), handle.result())
                .await
                .expect("a greeting workflow completes within 60 s")
                .expect("a greeting workflow succeeds");
            assert_eq!(greeting, greet(name.clone()));
        }
    }
}

/// Starts a workflow that runs one `greet` activity, on this same task queue.
async fn start_greeting(client: &Client, task_queue: &str, name: &str) -> WorkflowHandle<String> {
    let input = RemoteGreeting {
        name: name.to_owned(),
        task_queue: task_queue.to_owned(),
    };
    client
        .start_workflow(
            REMOTE_GREETING,
            &input,
            WorkflowOptions::new(unique_task_queue("greeting"), task_queue),
        )
        .await
        .expect("start a greeting workflow")
}

/// Waits until `count` activities have reported that they started.
async fn wait_for_starts(started: &mut mpsc::UnboundedReceiver<String>, count: usize) {
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(30), started.recv())
            .await
            .expect("every activity starts within 30 s")
            .expect("the activities hold the sender");
    }
}

/// An activity attempt the fresh worker ran.
#[derive(Clone, Debug, PartialEq)]
struct Rerun {
    attempt: u32,
    /// Whether the previous attempt's last heartbeat (its input) reached this one.
    resumed: bool,
}

/// A worker whose activities just return, recording each attempt they run.
async fn fresh_worker(
    client: &Client,
    task_queue: &str,
) -> (RunningWorker, Arc<Mutex<Vec<Rerun>>>) {
    let reruns: Arc<Mutex<Vec<Rerun>>> = Arc::default();
    let (sync_reruns, async_reruns) = (reruns.clone(), reruns.clone());
    (
        RunningWorker::start(
            worker_builder(client, task_queue, Duration::from_secs(10))
                .sync_activity(POOL_PROBE, move |ctx, i: u32| {
                    let resumed =
                        matches!(ctx.last_heartbeat_details::<u32>(), Some(Ok(d)) if d == i);
                    sync_reruns
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Rerun {
                            attempt: ctx.info().attempt,
                            resumed,
                        });
                    Ok(i)
                })
                .async_activity(GREET, move |ctx, name: String| {
                    let resumed =
                        matches!(ctx.last_heartbeat_details::<String>(), Some(Ok(d)) if d == name);
                    async_reruns
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Rerun {
                            attempt: ctx.info().attempt,
                            resumed,
                        });
                    async move { Ok(greet(name)) }
                }),
        )
        .await,
        reruns,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_waits_for_running_activities_and_reports_every_result() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("shutdown-drain");
    let record = Record::default();
    let (started_tx, mut started) = mpsc::unbounded_channel();

    let (sync_record, sync_started) = (record.clone(), started_tx.clone());
    let (async_record, async_started) = (record.clone(), started_tx);
    let worker = RunningWorker::start(
        worker_builder(&env.client, &task_queue, Duration::from_secs(60))
            .sync_activity(POOL_PROBE, move |ctx, i: u32| {
                let _ = sync_started.send(ctx.info().activity_id.clone());
                // Still busy when the worker begins to stop, and for a while after.
                let waiting = Instant::now();
                while !ctx.is_worker_shutdown() && waiting.elapsed() < PATIENCE {
                    std::thread::sleep(Duration::from_millis(10));
                }
                std::thread::sleep(Duration::from_secs(1));
                sync_record.push(format!("pool_probe {i}"), ctx);
                Ok(i)
            })
            .async_activity(GREET, move |ctx, name: String| {
                let (record, started) = (async_record.clone(), async_started.clone());
                async move {
                    let _ = started.send(ctx.info().activity_id.clone());
                    let _ = tokio::time::timeout(PATIENCE, ctx.worker_shutdown()).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    record.push(format!("greet {name}"), &ctx);
                    Ok(greet(name))
                }
            }),
    )
    .await;
    let workflows = Started::start(&env.client, &task_queue).await;
    wait_for_starts(&mut started, ACTIVITIES).await;
    assert!(record.seen().is_empty(), "an activity finished too early");

    worker.stop().await.expect("`run` returns Ok");

    // `run` returned only after every activity had finished, none of them cancelled.
    let seen = record.seen();
    let finished: Vec<String> = seen.iter().map(|s| s.activity.clone()).collect();
    assert_eq!(finished, expected_activities(), "{seen:#?}");
    for activity in &seen {
        assert!(activity.worker_shutdown, "{activity:?} missed the shutdown");
        assert_eq!(activity.cancellation, None, "{activity:?} was cancelled");
    }
    // And every result reached Temporal before it returned.
    let histories = workflows.histories().await;
    for (workflow_id, history) in &histories {
        let completed = count_events(history, |a| {
            matches!(a, Attributes::ActivityTaskCompletedEventAttributes(_))
        });
        let expected = if *workflow_id == workflows.fan_out.workflow_id() {
            FAN_OUT as usize
        } else {
            1
        };
        assert_eq!(
            completed, expected,
            "completed activities in {workflow_id}: {history:#?}"
        );
    }

    // A fresh worker finishes the workflows from those results, running no activity again.
    let (fresh, reruns) = fresh_worker(&env.client, &task_queue).await;
    workflows.assert_results().await;
    fresh.stop().await.expect("the fresh worker stops cleanly");
    let reruns = reruns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(reruns.is_empty(), "activities ran again: {reruns:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn activities_still_running_after_the_grace_period_are_cancelled_and_retried() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("shutdown-grace");
    let record = Record::default();
    let (started_tx, mut started) = mpsc::unbounded_channel();

    let (sync_record, sync_started) = (record.clone(), started_tx.clone());
    let (async_record, async_started) = (record.clone(), started_tx);
    let worker = RunningWorker::start(
        worker_builder(&env.client, &task_queue, Duration::from_secs(1))
            .sync_activity(POOL_PROBE, move |ctx, i: u32| {
                let _ = sync_started.send(ctx.info().activity_id.clone());
                let waiting = Instant::now();
                while !ctx.is_cancelled() {
                    if waiting.elapsed() > PATIENCE {
                        return Err(ActivityFailure::application(
                            "NeverCancelled",
                            "no cancellation arrived",
                        ));
                    }
                    ctx.heartbeat(&i);
                    std::thread::sleep(Duration::from_millis(50));
                }
                sync_record.push(format!("pool_probe {i}"), ctx);
                Err(ActivityFailure::cancelled())
            })
            .async_activity(GREET, move |ctx, name: String| {
                let (record, started) = (async_record.clone(), async_started.clone());
                async move {
                    let _ = started.send(ctx.info().activity_id.clone());
                    ctx.heartbeat(&name);
                    if tokio::time::timeout(PATIENCE, ctx.cancelled())
                        .await
                        .is_err()
                    {
                        return Err(ActivityFailure::application(
                            "NeverCancelled",
                            "no cancellation arrived",
                        ));
                    }
                    record.push(format!("greet {name}"), &ctx);
                    Err::<String, _>(ActivityFailure::cancelled())
                }
            }),
    )
    .await;
    let workflows = Started::start(&env.client, &task_queue).await;
    wait_for_starts(&mut started, ACTIVITIES).await;

    // `stop` fails the test if `run` has not returned within 30 s.
    worker.stop().await.expect("`run` returns Ok");

    let seen = record.seen();
    let cancelled: Vec<String> = seen.iter().map(|s| s.activity.clone()).collect();
    assert_eq!(cancelled, expected_activities(), "{seen:#?}");
    for activity in &seen {
        assert!(activity.worker_shutdown, "{activity:?} missed the shutdown");
        assert_eq!(
            activity.cancellation,
            Some(CancellationReason::WorkerShutdown),
            "{activity:?}"
        );
    }

    // Core reports the cancelled attempts as retryable `WorkerShutdown` failures with
    // their last heartbeat, so the fresh worker runs attempt 2 of each, from there.
    let (fresh, reruns) = fresh_worker(&env.client, &task_queue).await;
    workflows.assert_results().await;
    fresh.stop().await.expect("the fresh worker stops cleanly");
    let reruns = reruns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let resumed = Rerun {
        attempt: 2,
        resumed: true,
    };
    assert_eq!(reruns, vec![resumed; ACTIVITIES]);
    for (workflow_id, history) in workflows.histories().await {
        let retried_after_shutdown = count_events(&history, |a| match a {
            Attributes::ActivityTaskStartedEventAttributes(started) => {
                started.attempt == 2
                    && started.last_failure.as_ref().is_some_and(|failure| {
                        matches!(
                            &failure.failure_info,
                            Some(FailureInfo::ApplicationFailureInfo(info))
                                if info.r#type == sandglass_host::failure_types::WORKER_SHUTDOWN
                        )
                    })
            }
            _ => false,
        });
        let started = count_events(&history, |a| {
            matches!(a, Attributes::ActivityTaskStartedEventAttributes(_))
        });
        assert!(started > 0, "no activity started in {workflow_id}");
        assert_eq!(
            retried_after_shutdown, started,
            "every activity of {workflow_id} retried after a WorkerShutdown failure: \
             {history:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_returned_after_the_shutdown_cancellation_is_still_recorded() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("shutdown-late");
    let record = Record::default();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let async_record = record.clone();
    let worker = RunningWorker::start(
        worker_builder(&env.client, &task_queue, Duration::from_secs(1)).async_activity(
            GREET,
            move |ctx, name: String| {
                let (record, started) = (async_record.clone(), started_tx.clone());
                async move {
                    let _ = started.send(ctx.info().activity_id.clone());
                    let _ = tokio::time::timeout(PATIENCE, ctx.cancelled()).await;
                    record.push(format!("greet {name}"), &ctx);
                    // Finishes its work anyway: the result counts.
                    Ok(greet(name))
                }
            },
        ),
    )
    .await;
    let name = greeting_name(0);
    let handle = start_greeting(&env.client, &task_queue, &name).await;
    wait_for_starts(&mut started, 1).await;
    worker.stop().await.expect("`run` returns Ok");
    let seen = record.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        seen[0].cancellation,
        Some(CancellationReason::WorkerShutdown),
        "{seen:#?}"
    );

    let history = handle.fetch_history().await.expect("fetch history");
    let completed = count_events(&history, |a| {
        matches!(a, Attributes::ActivityTaskCompletedEventAttributes(_))
    });
    assert_eq!(completed, 1, "{history:#?}");

    let (fresh, reruns) = fresh_worker(&env.client, &task_queue).await;
    let greeting = tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .expect("the workflow completes within 60 s")
        .expect("the workflow succeeds");
    assert_eq!(greeting, greet(name));
    fresh.stop().await.expect("the fresh worker stops cleanly");
    let reruns = reruns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(reruns.is_empty(), "the activity ran again: {reruns:?}");
}

/// The same signals without a server, as activity unit tests see them.
#[test]
fn the_test_environment_tells_worker_shutdown_from_cancellation() {
    let env = ActivityEnvironment::new();
    let ctx = env.context();
    assert!(!ctx.is_worker_shutdown());
    assert_eq!(ctx.cancellation_reason(), None);
    env.start_worker_shutdown();
    assert!(ctx.is_worker_shutdown());
    assert!(!ctx.is_cancelled(), "shutdown alone does not cancel");
    env.cancel_with(CancellationReason::WorkerShutdown);
    env.cancel();
    assert!(ctx.is_cancelled());
    assert_eq!(
        ctx.cancellation_reason(),
        Some(CancellationReason::WorkerShutdown),
        "the first reason stays"
    );
}
