//! Asynchronous activity completion against a real dev server: an activity hands out its
//! task token and returns `ActivityFailure::will_complete_async()`, and a client finishes
//! it later through an `AsyncActivityHandle`, by task token or by workflow and activity
//! id. A separate binary because each test holds an activity open across the worker and
//! the client, which the other activity tests never do.

use std::time::Duration;

use greeting_activities::{GREET, GREETING_WORKFLOW};
use sandglass_host::{
    ActivityFailure, AsyncActivityId, ClientError, HeartbeatResponse, WorkflowOptions,
    WorkflowResultError,
};
use sandglass_tests::{TestEnv, failure_chain, greeting_component, unique_task_queue};
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use tokio::sync::mpsc;

/// Waits for the activity to hand over what it was started with.
async fn handed_over<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the activity starts within 20 s")
        .expect("the worker keeps the activity registered")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_activity_completed_later_by_task_token_returns_to_the_workflow() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("async-complete");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(greeting_component()).async_activity(
                GREET,
                move |ctx, name: String| {
                    let tx = tx.clone();
                    async move {
                        // The receiver lives as long as the test; if it is gone, so is the test.
                        let _ = tx.send((ctx.info().task_token.clone(), name));
                        Err::<String, _>(ActivityFailure::will_complete_async())
                    }
                },
            )
        })
        .await;

    let workflow = env
        .client
        .start_workflow(
            GREETING_WORKFLOW,
            &"Ada".to_owned(),
            WorkflowOptions::new("async-complete", &task_queue),
        )
        .await
        .expect("start the workflow");
    let (task_token, name) = handed_over(&mut rx).await;
    assert!(!task_token.is_empty(), "the activity sees its task token");

    let activity = env
        .client
        .async_activity_handle(AsyncActivityId::task_token(task_token));
    let heartbeat = activity
        .heartbeat(&"greeting in progress")
        .await
        .expect("heartbeat the open activity");
    assert_eq!(
        heartbeat,
        HeartbeatResponse::default(),
        "nothing was requested"
    );
    activity
        .complete(&format!("Hello from later, {name}!"))
        .await
        .expect("complete the activity");

    let result = workflow.result().await.expect("workflow result");
    assert_eq!(result, "Hello from later, Ada!");

    let error = activity
        .complete(&"too late")
        .await
        .expect_err("an activity completes once");
    assert!(
        matches!(error, ClientError::ActivityNotFound { .. }),
        "expected ActivityNotFound, got {error}"
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_activity_failed_later_by_id_fails_the_workflow() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("async-fail");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(greeting_component()).sync_activity(
                GREET,
                move |ctx, _name: String| {
                    let _ = tx.send(ctx.info().activity_id.clone());
                    Err::<String, _>(ActivityFailure::will_complete_async())
                },
            )
        })
        .await;

    let workflow_id = "async-fail";
    let workflow = env
        .client
        .start_workflow(
            GREETING_WORKFLOW,
            &"Ada".to_owned(),
            WorkflowOptions::new(workflow_id, &task_queue),
        )
        .await
        .expect("start the workflow");
    let activity_id = handed_over(&mut rx).await;
    assert_eq!(activity_id, "1", "the workflow's first activity");

    let activity = env
        .client
        .async_activity_handle(AsyncActivityId::by_id(workflow_id, activity_id));
    let heartbeat = activity
        .heartbeat(&1u32)
        .await
        .expect("heartbeat the open activity by id");
    assert!(!heartbeat.cancel_requested, "{heartbeat:?}");
    // Non-retryable, or the greeting's default retry policy would start a new attempt.
    activity
        .fail(ActivityFailure::application("NameRejected", "no greeting for Ada").non_retryable())
        .await
        .expect("fail the activity by id");

    let error = workflow
        .result()
        .await
        .expect_err("the workflow fails with the activity's error");
    let message = error.to_string();
    let WorkflowResultError::Failed(failure) = error else {
        panic!("expected a failed workflow, got {message}");
    };
    assert!(
        message.contains("no greeting for Ada"),
        "message does not name the activity's error: {message}"
    );
    assert!(
        failure_chain(&failure).iter().any(|f| matches!(
            &f.failure_info,
            Some(FailureInfo::ApplicationFailureInfo(info))
                if info.r#type == "NameRejected" && info.non_retryable
        )),
        "no non-retryable NameRejected failure in {failure:#?}"
    );

    let error = activity
        .heartbeat(&())
        .await
        .expect_err("the workflow has closed");
    assert!(
        matches!(error, ClientError::ActivityNotFound { .. }),
        "expected ActivityNotFound, got {error}"
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_with_will_complete_async_is_refused_without_a_request() {
    let env = TestEnv::start().await;
    let activity = env
        .client
        .async_activity_handle(AsyncActivityId::by_id("no-such-workflow", "1"));
    let error = activity
        .fail(ActivityFailure::will_complete_async())
        .await
        .expect_err("will_complete_async is not a failure");
    assert!(matches!(error, ClientError::NotAFailure), "{error}");
    let error = activity
        .complete(&"anything")
        .await
        .expect_err("no such workflow");
    assert!(
        matches!(error, ClientError::ActivityNotFound { .. }),
        "expected ActivityNotFound, got {error}"
    );
}
