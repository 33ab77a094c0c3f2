//! The time-skipping test environment: a Sandglass worker on Temporal's Java test
//! server, whose clock jumps to the next timer while the test waits for a result, so
//! workflows that sleep for days finish in seconds. A separate binary because these
//! tests need `temporal-test-server` instead of the dev server.

use std::time::{Duration, Instant, SystemTime};

use greeting_activities::{GREET, greet};
use sandglass_host::WorkflowOptions;
use sandglass_tests::workflows::{REMOTE_GREETING, RemoteGreeting, TIMER_WORKFLOW};
use sandglass_tests::{RunningWorker, TimeSkippingEnv, test_component, unique_task_queue};

const THREE_DAYS: Duration = Duration::from_secs(3 * 24 * 3600);

async fn timer_worker(env: &TimeSkippingEnv, task_queue: &str) -> RunningWorker {
    env.serve(task_queue, |builder| {
        builder
            .workflow_module(test_component())
            .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
    })
    .await
}

/// Waits half a second of real time and asserts the server's clock, read since
/// `before`, has not jumped by `limit` (time skipping is locked).
async fn assert_clock_held(env: &TimeSkippingEnv, before: SystemTime, limit: Duration, when: &str) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let meanwhile = env.client.current_time().await.expect("server time");
    let passed = meanwhile
        .duration_since(before)
        .expect("time moves forward");
    assert!(passed < limit, "the clock skipped {passed:?} {when}");
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_three_day_timer_completes_in_seconds() {
    let env = TimeSkippingEnv::start().await;
    let task_queue = unique_task_queue("time-skipping");
    let worker = timer_worker(&env, &task_queue).await;

    let real = Instant::now();
    let server_before = env.client.current_time().await.expect("server time");
    let report = env
        .client
        .execute_workflow(
            TIMER_WORKFLOW,
            &millis(THREE_DAYS),
            WorkflowOptions::new("sleep-three-days", &task_queue),
        )
        .await
        .expect("workflow result");
    let real = real.elapsed();
    let server_after = env.client.current_time().await.expect("server time");
    let skipped = server_after
        .duration_since(server_before)
        .expect("server time moves forward");
    println!(
        "a {:.0} h timer: {:.1} s of real time, server clock moved {:.1} h",
        THREE_DAYS.as_secs_f64() / 3600.0,
        real.as_secs_f64(),
        skipped.as_secs_f64() / 3600.0,
    );
    assert!(
        report.slept_ms >= millis(THREE_DAYS),
        "workflow time moved {} ms",
        report.slept_ms
    );
    assert!(skipped >= THREE_DAYS, "server clock moved {skipped:?}");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_results_share_the_skipping() {
    let env = TimeSkippingEnv::start().await;
    let task_queue = unique_task_queue("time-skipping");
    let worker = timer_worker(&env, &task_queue).await;

    let real = Instant::now();
    let runs = (1..=5u64).map(|days| {
        let client = env.client.clone();
        let task_queue = task_queue.clone();
        async move {
            client
                .execute_workflow(
                    TIMER_WORKFLOW,
                    &(days * millis(Duration::from_secs(24 * 3600))),
                    WorkflowOptions::new(format!("sleep-{days}-days"), task_queue),
                )
                .await
        }
    });
    let reports = futures::future::join_all(runs).await;
    println!(
        "five timers of 1 to 5 days: {:.1} s of real time",
        real.elapsed().as_secs_f64()
    );
    for (days, report) in (1..=5u64).zip(reports) {
        let report = report.expect("workflow result");
        assert!(
            report.slept_ms >= days * 24 * 3600 * 1000,
            "{days} days: slept {} ms",
            report.slept_ms
        );
    }
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn sleep_moves_the_server_clock() {
    let env = TimeSkippingEnv::start().await;
    assert!(env.client.is_time_skipping());

    let real = Instant::now();
    let before = env.client.current_time().await.expect("server time");
    env.client.sleep(THREE_DAYS).await.expect("sleep");
    let after = env.client.current_time().await.expect("server time");
    let skipped = after.duration_since(before).expect("time moves forward");
    println!(
        "sleep(3 days): server clock moved {:.1} h in {:.3} s of real time",
        skipped.as_secs_f64() / 3600.0,
        real.elapsed().as_secs_f64()
    );
    assert!(skipped >= THREE_DAYS, "{skipped:?}");

    // Clones share the server's clock.
    let clone = env.client.clone();
    clone.sleep(Duration::from_secs(3600)).await.expect("sleep");
    let later = clone.current_time().await.expect("server time");
    assert!(later.duration_since(after).expect("time moves forward") >= Duration::from_secs(3600));
}

#[tokio::test(flavor = "multi_thread")]
async fn time_stands_still_until_the_test_waits() {
    let env = TimeSkippingEnv::start().await;
    let task_queue = unique_task_queue("time-skipping");
    let worker = timer_worker(&env, &task_queue).await;

    let one_hour = Duration::from_secs(3600);
    let before = env.client.current_time().await.expect("server time");
    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &millis(one_hour),
            WorkflowOptions::new("sleep-one-hour", &task_queue),
        )
        .await
        .expect("start");
    // Nobody waits yet, so the server's clock keeps wall-clock pace and the timer
    // stays pending.
    assert_clock_held(&env, before, one_hour, "before anyone waited").await;

    let report = handle.result().await.expect("workflow result");
    assert!(report.slept_ms >= millis(one_hour), "{report:?}");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn activities_run_on_the_test_server() {
    let env = TimeSkippingEnv::start().await;
    let task_queue = unique_task_queue("time-skipping");
    let worker = timer_worker(&env, &task_queue).await;
    let input = RemoteGreeting {
        name: "test server".to_owned(),
        task_queue: task_queue.clone(),
    };
    let greeting = env
        .client
        .execute_workflow(
            REMOTE_GREETING,
            &input,
            WorkflowOptions::new("greet-on-test-server", &task_queue),
        )
        .await
        .expect("workflow result");
    assert_eq!(greeting, "Hello, test server!");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_result_locks_time_again() {
    let env = TimeSkippingEnv::start().await;
    let task_queue = unique_task_queue("time-skipping");
    let one_hour = Duration::from_secs(3600);
    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &millis(one_hour),
            WorkflowOptions::new("dropped-wait", &task_queue),
        )
        .await
        .expect("start");
    // No worker yet, so this wait cannot end; giving up on it must lock time again
    // and leave the server's lock count balanced.
    let gave_up = tokio::time::timeout(Duration::from_millis(300), handle.result()).await;
    assert!(
        gave_up.is_err(),
        "the workflow cannot complete without a worker"
    );

    let worker = timer_worker(&env, &task_queue).await;
    let before = env.client.current_time().await.expect("server time");
    assert_clock_held(&env, before, one_hour, "after the wait was dropped").await;

    // A new wait unlocks again (an unbalanced unlock would fail here).
    let report = handle.result().await.expect("workflow result");
    assert!(report.slept_ms >= millis(one_hour), "{report:?}");
    worker.stop().await.expect("worker stops cleanly");
}
