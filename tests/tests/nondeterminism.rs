//! A deployment that changes workflow code incompatibly, caught live: with
//! `nondeterminism_fails_workflow` the workflow fails (instead of its task retrying).

use std::time::Duration;

use greeting_activities::{GREET, GREETING_WORKFLOW, greet};
use sandglass_host::{WorkerOptions, WorkflowOptions, WorkflowResultError};
use sandglass_tests::{
    TestEnv, greeting_component, test_component, unique_task_queue, wait_for_timer_started,
};

#[tokio::test(flavor = "multi_thread")]
async fn nondeterminism_can_fail_the_workflow() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("nondeterminism");

    // Version 1 (the test component's `GreetingWorkflow`) sleeps 1 s before greeting.
    let v1 = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(test_component())
        })
        .await;
    let handle = env
        .client
        .start_workflow(
            GREETING_WORKFLOW,
            &"v1".to_owned(),
            WorkflowOptions::new("nd-1", &task_queue),
        )
        .await
        .expect("start");
    wait_for_timer_started(&handle).await;
    v1.stop().await.expect("v1 stops");

    // Version 2 (the real greeting) schedules the activity first: it cannot continue the
    // recorded history, and this worker is told to fail such workflows.
    let options = WorkerOptions::default().with_nondeterminism_fails_workflow(true);
    let v2 = env
        .serve(&task_queue, |worker| {
            worker
                .workflow_module(greeting_component())
                .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
                .options(options)
        })
        .await;
    let error = tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .expect("the workflow ends within 60 s")
        .expect_err("v2 cannot replay v1's history");
    let message = error.to_string();
    assert!(matches!(error, WorkflowResultError::Failed(_)), "{message}");
    assert!(message.contains("TMPRL1100"), "{message}");
    v2.stop().await.expect("v2 stops");
}
