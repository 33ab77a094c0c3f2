//! The Python SDK guide's greeting app end to end: a Rust client, a Sandglass worker running the
//! wasm workflow and the native activity, and replay of the recorded history.

use greeting_activities::GREETING_WORKFLOW;
use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{ReplayError, Replayer, WorkflowOptions};
use sandglass_tests::{TestEnv, greeting_component, test_component, unique_task_queue};

#[tokio::test(flavor = "multi_thread")]
async fn rust_client_runs_the_seed_greeting_and_its_history_replays() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("greeting");
    let worker = env.greeting_worker(&task_queue).await;

    let handle = env
        .client
        .start_workflow(
            GREETING_WORKFLOW,
            &"my name".to_owned(),
            WorkflowOptions::new("greeting-1", &task_queue),
        )
        .await
        .expect("start the workflow");
    let result = handle.result().await.expect("workflow result");
    assert_eq!(result, "Hello, my name!");
    worker.stop().await.expect("worker stops cleanly");

    // The history the server recorded replays against the module that produced it...
    let history = handle.fetch_history().await.expect("fetch history");
    assert!(
        history.events.len() >= 11,
        "{} events",
        history.events.len()
    );
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, greeting_component()).expect("load module");
    Replayer::new(sandbox.clone(), [module])
        .replay(history.clone(), "greeting-1")
        .await
        .expect("the unchanged module replays cleanly");

    // ...and a changed module that sleeps first is caught as nondeterministic.
    let changed = WorkflowModule::from_file(&sandbox, test_component()).expect("load module");
    let error = Replayer::new(sandbox, [changed])
        .replay(history, "greeting-1")
        .await
        .expect_err("a changed module must not replay cleanly");
    assert!(
        matches!(error, ReplayError::Nondeterminism { .. }),
        "expected nondeterminism, got {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_greetings_run_concurrently_on_one_worker() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("greeting");
    let worker = env.greeting_worker(&task_queue).await;
    let runs = (0..20).map(|i| {
        let client = env.client.clone();
        let task_queue = task_queue.clone();
        async move {
            client
                .execute_workflow(
                    GREETING_WORKFLOW,
                    &format!("n{i}"),
                    WorkflowOptions::new(format!("greeting-many-{i}"), task_queue),
                )
                .await
        }
    });
    let results = futures::future::join_all(runs).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.expect("workflow result"), format!("Hello, n{i}!"));
    }
    worker.stop().await.expect("worker stops cleanly");
}
