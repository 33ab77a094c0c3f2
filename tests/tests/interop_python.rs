//! Interop with the official Python SDK (`temporalio` from PyPI), because that is what
//! users of other SDKs will do: start Sandglass workflows by name, and serve activities
//! Sandglass workflows call.

use sandglass_host::WorkflowOptions;
use sandglass_tests::workflows::{REMOTE_GREETING, RemoteGreeting};
use sandglass_tests::{
    TestEnv, python_client, start_python_greet_worker, test_component, unique_task_queue,
};

#[tokio::test(flavor = "multi_thread")]
async fn python_client_starts_the_sandglass_greeting_by_name() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("py-client");
    let worker = env.greeting_worker(&task_queue).await;

    let result: String = python_client(
        "start_workflow.py",
        &[
            &env.address(),
            &task_queue,
            "GreetingWorkflow",
            "\"Python\"",
        ],
        &[],
    )
    .await;
    assert_eq!(result, "Hello, Python!");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn sandglass_workflow_calls_an_activity_served_by_a_python_worker() {
    let env = TestEnv::start().await;
    let workflow_queue = unique_task_queue("wf");
    let python_queue = unique_task_queue("py-activities");
    let _python = start_python_greet_worker(&env.address(), &python_queue);
    // The Sandglass worker has no activities at all: the greeting must come from Python.
    let worker = env
        .serve(&workflow_queue, |worker| {
            worker.workflow_module(test_component())
        })
        .await;

    let result = env
        .client
        .execute_workflow(
            REMOTE_GREETING,
            &RemoteGreeting {
                name: "Rust".into(),
                task_queue: python_queue,
            },
            WorkflowOptions::new("remote-greeting", &workflow_queue),
        )
        .await
        .expect("workflow result");
    assert_eq!(result, "Hello from Python, Rust!");
    worker.stop().await.expect("worker stops cleanly");
}
