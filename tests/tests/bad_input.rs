//! Bad input gets one clear message naming the problem and the fix, and the worker keeps
//! serving everything else.

use std::time::Duration;

use greeting_activities::{GREET, GREETING_WORKFLOW, greet};
use sandglass_host::sandbox::ModuleError;
use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::wit::WIT_PACKAGE;
use sandglass_host::{
    Client, ClientError, ConnectionSettings, Worker, WorkerError, WorkflowDefinition,
    WorkflowOptions, WorkflowResultError,
};
use sandglass_tests::{
    TestEnv, greeting_component, test_component, unique_task_queue, workflow_task_failure,
};

#[tokio::test(flavor = "multi_thread")]
async fn unknown_workflow_type_fails_its_task_and_the_worker_keeps_serving() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("unknown-type");
    let worker = env.greeting_worker(&task_queue).await;

    const NO_SUCH: WorkflowDefinition<String, String> = WorkflowDefinition::new("NoSuchWorkflow");
    let handle = env
        .client
        .start_workflow(
            NO_SUCH,
            &"x".to_owned(),
            WorkflowOptions::new("no-such", &task_queue),
        )
        .await
        .expect("start");
    let message = workflow_task_failure(&handle).await;
    assert!(
        message.contains("\"NoSuchWorkflow\" is not registered"),
        "{message}"
    );
    assert!(
        message.contains("GreetingWorkflow"),
        "names what it serves: {message}"
    );

    let result = env
        .client
        .execute_workflow(
            GREETING_WORKFLOW,
            &"still here".to_owned(),
            WorkflowOptions::new("after", &task_queue),
        )
        .await
        .expect("the worker still serves the greeting");
    assert_eq!(result, "Hello, still here!");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn unregistered_activity_type_fails_the_activity_with_a_clear_message() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("unregistered");
    let worker = env.test_worker(&task_queue).await;

    const WORKFLOW: WorkflowDefinition<String, String> =
        WorkflowDefinition::new("UnregisteredActivityWorkflow");
    let error = env
        .client
        .execute_workflow(
            WORKFLOW,
            &"x".to_owned(),
            WorkflowOptions::new("unregistered", &task_queue),
        )
        .await
        .expect_err("the workflow fails");
    let message = error.to_string();
    assert!(matches!(error, WorkflowResultError::Failed(_)), "{message}");
    assert!(
        message.contains("\"activity_no_worker_registered\" is not registered on this worker"),
        "{message}"
    );
    assert!(message.contains("greet"), "names what it has: {message}");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_modules_are_reported_and_good_ones_still_served() {
    let env = TestEnv::start().await;
    let dir = std::env::temp_dir().join(format!("sandglass-bad-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").expect("write");
    let missing = dir.join("missing.wasm");

    // Nothing loadable and no activities: building fails with the first reason.
    let error = Worker::builder(env.client.clone(), "nothing")
        .workflow_module(&missing)
        .build()
        .await
        .err()
        .expect("a worker with nothing to serve is an error");
    let message = error.to_string();
    assert!(
        matches!(error, WorkerError::NothingToServe(ModuleError::Read { .. })),
        "{message}"
    );
    assert!(message.contains("missing.wasm"), "{message}");

    // A bad module beside a good one: the good one is served.
    let task_queue = unique_task_queue("mixed");
    let worker = env
        .serve(&task_queue, |builder| {
            builder
                .workflow_module(&garbage)
                .workflow_module(greeting_component())
                .workflow_module(&missing)
                .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
        })
        .await;
    assert_eq!(
        worker.worker().workflow_types(),
        vec!["GreetingWorkflow".to_owned()]
    );
    let result = env
        .client
        .execute_workflow(
            GREETING_WORKFLOW,
            &"mixed".to_owned(),
            WorkflowOptions::new("mixed", &task_queue),
        )
        .await
        .expect("greeting result");
    assert_eq!(result, "Hello, mixed!");
    worker.stop().await.expect("worker stops cleanly");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn modules_that_are_not_sandglass_components_get_named_errors() {
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "garbage.wasm",
            b"not wasm at all",
            "not a valid WebAssembly component",
        ),
        ("core.wasm", b"\0asm\x01\0\0\0", "core WebAssembly module"),
        // A valid, empty component: right format, wrong world.
        (
            "empty.wasm",
            b"\0asm\x0d\0\x01\0",
            &format!("does not implement the `{WIT_PACKAGE}`"),
        ),
    ];
    for (name, bytes, expected) in cases {
        let error = WorkflowModule::from_bytes(&sandbox, name, bytes).expect_err(name);
        let message = error.to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains(name), "{name}: {message}");
    }
    // The real component loads and says what it defines.
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("test component");
    assert!(
        module
            .workflow_types()
            .contains(&"TimerWorkflow".to_owned())
    );
}

/// A component built against another WIT version is refused before anything runs, with
/// both versions named. The old component is made by rewriting the version in a real
/// component's interface names (same length, so the binary stays valid).
#[test]
fn a_module_of_another_wit_version_is_refused_naming_both_versions() {
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let bytes = std::fs::read(greeting_component()).expect("read the greeting component");
    let (_, ours) = WIT_PACKAGE.split_once('@').expect("a versioned package");
    let theirs = "0.0.9";
    assert_eq!(ours.len(), theirs.len(), "the rewrite keeps lengths");
    let old = replace_all(
        &bytes,
        format!("@{ours}").as_bytes(),
        format!("@{theirs}").as_bytes(),
    );
    let error = WorkflowModule::from_bytes(&sandbox, "old.wasm", &old).expect_err("old WIT");
    assert!(matches!(error, ModuleError::WitVersion { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("sandglass:workflow@0.0.9"), "{message}");
    assert!(message.contains(WIT_PACKAGE), "{message}");
    assert!(message.contains("old.wasm"), "{message}");
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[test]
fn inspect_lists_each_types_handlers() {
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("test component");
    let messages = module
        .descriptions()
        .iter()
        .find(|d| d.name == "MessagesWorkflow")
        .expect("MessagesWorkflow is described");
    assert!(
        !messages.signals.is_empty()
            && !messages.queries.is_empty()
            && !messages.updates.is_empty(),
        "{messages:?}"
    );
}

#[tokio::test]
async fn unreachable_server_is_named_with_the_fix() {
    // Bind and drop a listener to get a loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let settings = ConnectionSettings::default()
        .with_address(format!("127.0.0.1:{port}"))
        .with_connect_timeout(Duration::from_secs(3));
    let error = Client::connect(settings)
        .await
        .expect_err("nothing listens there");
    let message = error.to_string();
    assert!(
        matches!(error, ClientError::Unreachable { .. }),
        "{message}"
    );
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("temporal server start-dev"), "{message}");
}
