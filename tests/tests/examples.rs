//! The examples, run the way their READMEs run them, against a real dev server. One test
//! binary for all of them (the others live in `examples/`), so they link once.

#[path = "examples/children_timers.rs"]
mod children_timers;
#[path = "examples/hot_reload.rs"]
mod hot_reload;
#[path = "examples/saga_patching.rs"]
mod saga_patching;

use activities_example_declarations::REPORT_WORKFLOW;
use sandglass_host::{WorkerOptions, WorkflowOptions};
use sandglass_tests::{RunningWorker, TestEnv, component};

#[tokio::test(flavor = "multi_thread")]
async fn the_activities_example_retries_resumes_and_cancels() {
    let env = TestEnv::start().await;
    let options = WorkerOptions::default().with_activity_threads(8);
    let worker = RunningWorker::start(
        activities_example::worker_builder(
            env.client.clone(),
            component("activities-example-workflows"),
        )
        .options(options),
    )
    .await;

    let summary = env
        .client
        .execute_workflow(
            REPORT_WORKFLOW,
            &4,
            WorkflowOptions::new("report-example", activities_example::TASK_QUEUE),
        )
        .await
        .expect("the report workflow completes");
    assert_eq!(summary.fetch.chunks, 4);
    assert_eq!(summary.fetch.attempt, 2, "the first attempt fails halfway");
    assert_eq!(
        summary.fetch.resumed_at, 2,
        "the retry resumes from the heartbeat"
    );
    assert_eq!(summary.checksum, activities_example::checksum(4));
    assert_eq!(
        summary.upload, "cancelled",
        "the upload outlives its deadline"
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_message_passing_example_answers_queries_updates_and_signals() {
    use message_passing_declarations::{
        APPROVE, ApproveInput, GET_LANGUAGE, GET_LANGUAGES, GREETING_WORKFLOW, GetLanguagesInput,
        Language, SET_LANGUAGE, SET_LANGUAGE_USING_ACTIVITY,
    };

    let env = TestEnv::start().await;
    let worker = RunningWorker::start(message_passing_example::worker_builder(
        env.client.clone(),
        component("message-passing-workflows"),
    ))
    .await;
    let handle = env
        .client
        .start_workflow(
            GREETING_WORKFLOW,
            &(),
            WorkflowOptions::new("message-passing", message_passing_example::TASK_QUEUE),
        )
        .await
        .expect("start");

    let supported = handle
        .query(GET_LANGUAGES, &GetLanguagesInput::default())
        .await
        .expect("query");
    assert_eq!(supported, [Language::Chinese, Language::English]);
    let previous = handle
        .execute_update(SET_LANGUAGE, &Language::Chinese)
        .await
        .expect("update");
    assert_eq!(previous, Language::English);
    let rejected = handle
        .execute_update(SET_LANGUAGE, &Language::Portuguese)
        .await
        .expect_err("the validator rejects Portuguese");
    assert!(
        rejected.to_string().contains("Portuguese is not supported"),
        "{rejected}"
    );
    let previous = handle
        .execute_update(SET_LANGUAGE_USING_ACTIVITY, &Language::Arabic)
        .await
        .expect("update through the activity");
    assert_eq!(previous, Language::Chinese);
    assert_eq!(
        handle.query(GET_LANGUAGE, &()).await.expect("query"),
        Language::Arabic
    );
    handle
        .signal(APPROVE, &ApproveInput { name: "Ana".into() })
        .await
        .expect("signal");
    assert_eq!(handle.result().await.expect("result"), "مرحبا بالعالم");
    worker.stop().await.expect("worker stops cleanly");
}
