//! The sandbox you can trust, against a real server: one worker serves two components of
//! hostile workflows (one attack per type: `tests/hostile-workflows` through the guest
//! SDK, `tests/wit-hostile-workflows` through the WIT itself) beside the healthy greeting
//! workflow on one task queue.
//!
//! Every attack must fail only its own workflow task, with a message that names the
//! problem and the fix, and the greeting must keep completing meanwhile, even while
//! runaway loops burn their activation deadlines over and over. At the end the worker
//! still serves and shuts down cleanly.
//!
//! Temporal retries a failed workflow task with backoff, so each attack is judged by the
//! first failure recorded in its history, and the hostile runs get a short workflow task
//! timeout so their retries keep coming while the healthy runs are measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greeting_activities::GREETING_WORKFLOW;
use sandglass_host::sandbox::SandboxLimits;
use sandglass_host::{
    Client, MAX_FAILURE_CHAIN, WorkerOptions, WorkflowDefinition, WorkflowHandle, WorkflowOptions,
    WorkflowResultError,
};
use sandglass_tests::{
    RunningWorker, TestEnv, component, failure_chain, start_python_worker, test_component,
    unique_task_queue, wait_for_event, workflow_task_failure,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Each attack, and fragments its first workflow task failure must contain.
const ATTACKS: &[(&str, &[&str])] = &[
    (
        "MemoryBombWorkflow",
        &[
            "MemoryBombWorkflow",
            "ran out of memory",
            "allows 64.0 MiB",
            "max_memory_bytes",
        ],
    ),
    (
        "DeepRecursionWorkflow",
        &[
            "overflowed its stack",
            "512 KiB",
            "make the recursion iterative",
        ],
    ),
    (
        "PanicInInitWorkflow",
        &[
            "panicked at",
            "hostile workflow panicked on purpose in init",
        ],
    ),
    (
        "PanicInRunWorkflow",
        &[
            "panicked at",
            "the answer is not 42",
            "fixed code is deployed",
        ],
    ),
    (
        "FileReadWorkflow",
        &["used the file system (std::fs)", "in an activity"],
    ),
    (
        "FileWriteWorkflow",
        &["used the file system (std::fs)", "in an activity"],
    ),
    (
        "EnvVarWorkflow",
        &[
            "read environment variables",
            "pass configuration in the workflow input",
        ],
    ),
    (
        "EnvVarsWorkflow",
        &[
            "read environment variables",
            "pass configuration in the workflow input",
        ],
    ),
    (
        "ArgsWorkflow",
        &["read command-line arguments", "workflow input"],
    ),
    (
        "TcpConnectWorkflow",
        &["used the network", "make the call in an activity"],
    ),
    (
        "UdpBindWorkflow",
        &["used the network", "make the call in an activity"],
    ),
    (
        "DnsLookupWorkflow",
        &["used the network", "make the call in an activity"],
    ),
    (
        "ThreadSleepWorkflow",
        &["std::thread::sleep", "ctx.sleep(duration).await"],
    ),
    ("StdinWorkflow", &["read stdin", "workflow input"]),
    (
        "ProcessExitWorkflow",
        &["std::process::exit", "returning from `run`"],
    ),
    (
        "HugeResultWorkflow",
        &[
            "produced the workflow result of 10.0 MiB",
            "2.0 MiB",
            "pass a reference",
        ],
    ),
    (
        "ManyTimersWorkflow",
        &["20000 commands in one activation", "max_commands"],
    ),
    (
        "TooManyCommandsWorkflow",
        &["20000 commands in one activation", "max_commands"],
    ),
    (
        "CommandFloodWorkflow",
        &["copy more than 14.0 MiB out of the sandbox in one call"],
    ),
    (
        "HugeLogMessageWorkflow",
        &["copy more than 14.0 MiB out of the sandbox in one call"],
    ),
    (
        "OversizedCommandsWorkflow",
        &[
            "of commands in one activation",
            "4 MiB",
            "max_commands_bytes",
        ],
    ),
    (
        "DeepTaskFailureWorkflow",
        &["failed its task", "4969 more causes omitted"],
    ),
    (
        "HugeTaskFailureWorkflow",
        &["failed its task", "more bytes)"],
    ),
    (
        "DoubleCancelWorkflow",
        &["malformed output", "cancelled activity 1 a second time"],
    ),
    (
        "NanBackoffWorkflow",
        &["malformed output", "backoff coefficient of NaN"],
    ),
    (
        "ManyPatchesWorkflow",
        &["malformed output", "more than 1000 different patch ids"],
    ),
];

const LOOP: WorkflowDefinition<(), String> = WorkflowDefinition::new("InfiniteLoopWorkflow");

/// Hostile runs retry their failed tasks quickly, so the loop keeps burning deadlines.
fn hostile_options(id: String, task_queue: &str) -> WorkflowOptions {
    WorkflowOptions::new(id, task_queue).with_task_timeout(Duration::from_secs(3))
}

/// Runs one greeting and returns how long it took, end to end.
async fn timed_greeting(client: &Client, task_queue: &str, id: String) -> Duration {
    let started = Instant::now();
    let result = client
        .execute_workflow(
            GREETING_WORKFLOW,
            &id,
            WorkflowOptions::new(id.clone(), task_queue),
        )
        .await
        .unwrap_or_else(|error| panic!("greeting {id} did not complete: {error}"));
    assert_eq!(result, format!("Hello, {id}!"));
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_workflows_fail_alone_and_the_worker_keeps_serving() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("adversarial");
    let worker = hostile_worker(&env, &task_queue, WorkerOptions::default()).await;
    timed_greeting(&env.client, &task_queue, "warm-up".to_owned()).await;

    // Runaway loops first: while they burn 2 s deadlines, greetings must still complete.
    let mut loops = Vec::new();
    for i in 0..2 {
        loops.push(
            env.client
                .start_workflow(LOOP, &(), hostile_options(format!("loop-{i}"), &task_queue))
                .await
                .expect("start a loop"),
        );
    }
    let attack_started = Instant::now();
    let mut latencies = Vec::new();
    while attack_started.elapsed() < Duration::from_secs(8) {
        let round = latencies.len();
        let greetings = (0..3)
            .map(|i| timed_greeting(&env.client, &task_queue, format!("during-loop-{round}-{i}")));
        latencies.extend(futures::future::join_all(greetings).await);
    }
    println!(
        "{} greetings completed while 2 infinite loops burned their deadlines; latencies: {:?}",
        latencies.len(),
        latencies
    );
    for handle in &loops {
        let message = workflow_task_failure(handle).await;
        assert!(message.contains("InfiniteLoopWorkflow"), "{message}");
        assert!(
            message.contains(handle.run_id().expect("run id")),
            "names the run: {message}"
        );
        assert!(message.contains("2s activation deadline"), "{message}");
        assert!(
            message.contains("move heavy work into an activity"),
            "{message}"
        );
    }

    // Every other attack, all at once, while a healthy workflow keeps answering.
    let healthy = tokio::spawn(greet_until_stopped(env.client.clone(), task_queue.clone()));
    let mut started: Vec<(&str, &[&str], WorkflowHandle<String>)> = Vec::new();
    for (workflow_type, expected) in ATTACKS {
        let definition = WorkflowDefinition::<(), String>::new(workflow_type);
        let handle = env
            .client
            .start_workflow(
                definition,
                &(),
                hostile_options(format!("attack-{workflow_type}"), &task_queue),
            )
            .await
            .expect("start an attack");
        started.push((workflow_type, expected, handle));
    }
    for (workflow_type, expected, handle) in &started {
        let message = workflow_task_failure(handle).await;
        println!("{workflow_type}: {message}");
        assert!(
            message.contains(&format!("workflow {workflow_type} (run ")),
            "{workflow_type}: {message}"
        );
        for fragment in *expected {
            assert!(message.contains(fragment), "{workflow_type}: {message}");
        }
    }

    // What the host bounds without failing anything: a failure chain thousands of frames
    // deep ends the workflow with a cut chain, and 64 MiB of log is cut to its allowance.
    let deep = env
        .client
        .start_workflow(
            WorkflowDefinition::<(), String>::new("DeepFailureChainWorkflow"),
            &(),
            hostile_options("attack-deep-chain".to_owned(), &task_queue),
        )
        .await
        .expect("start");
    match deep.result().await {
        Err(WorkflowResultError::Failed(failure)) => {
            let chain: Vec<&str> = failure_chain(&failure)
                .iter()
                .map(|f| f.message.as_str())
                .collect();
            assert_eq!(chain.len(), MAX_FAILURE_CHAIN, "{chain:?}");
            assert!(
                chain[MAX_FAILURE_CHAIN - 2].starts_with("4969 more causes omitted"),
                "{chain:?}"
            );
        }
        other => panic!("expected the deep chain to fail the workflow, got {other:?}"),
    }
    for workflow_type in ["LogFloodWorkflow", "WitLogFloodWorkflow"] {
        let definition = WorkflowDefinition::<(), String>::new(workflow_type);
        let options = hostile_options(format!("attack-{workflow_type}"), &task_queue);
        let result = env
            .client
            .execute_workflow(definition, &(), options)
            .await
            .expect("a flood of log completes; only the log is cut");
        assert!(result.starts_with("logged"), "{result}");
    }

    // Nothing lost: the worker served throughout, still serves, and stops cleanly.
    healthy.abort();
    let answered = match healthy.await {
        Err(join_error) if join_error.is_cancelled() => HEALTHY_GREETINGS.load(Ordering::Relaxed),
        other => panic!("the healthy greeter stopped on its own: {other:?}"),
    };
    println!("{answered} greetings completed while every attack ran");
    assert!(
        answered > 0,
        "no healthy greeting completed during the attacks"
    );
    let after = (0..3).map(|i| timed_greeting(&env.client, &task_queue, format!("after-{i}")));
    futures::future::join_all(after).await;
    worker.stop().await.expect("worker stops cleanly");
}

/// Greetings completed by [`greet_until_stopped`].
static HEALTHY_GREETINGS: AtomicUsize = AtomicUsize::new(0);

/// Runs greetings one after another until aborted; each must complete within 30 s, or
/// the task panics.
async fn greet_until_stopped(client: Client, task_queue: String) {
    loop {
        let n = HEALTHY_GREETINGS.load(Ordering::Relaxed);
        let greeting = timed_greeting(&client, &task_queue, format!("throughout-{n}"));
        tokio::time::timeout(Duration::from_secs(30), greeting)
            .await
            .unwrap_or_else(|_| panic!("healthy greeting {n} took over 30 s during the attacks"));
        HEALTHY_GREETINGS.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_and_updates_that_break_fail_alone_and_the_workflow_goes_on() {
    use sandglass_host::{QueryDefinition, QueryError, SignalDefinition, UpdateDefinition};

    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("broken-messages");
    let options = WorkerOptions::default().with_sandbox(
        SandboxLimits::default().with_activation_deadline(Duration::from_millis(500)),
    );
    let worker = hostile_worker(&env, &task_queue, options).await;

    let attacked = env
        .client
        .start_workflow(
            WorkflowDefinition::<(), String>::new("QueryAttackWorkflow"),
            &(),
            WorkflowOptions::new("query-attacks", &task_queue),
        )
        .await
        .expect("start");
    // Each broken answer reaches its caller as a named failure, at once.
    for (query, expected) in [
        ("commands", "a query handler issued a `start-timer` command"),
        ("silent", "the workflow did not answer the query"),
        ("huge", "max_payload_bytes"),
        (
            "stranger",
            "answered query \"not-asked\", which this activation did not ask",
        ),
        ("fine", ""),
    ] {
        let definition: QueryDefinition<(), String> = QueryDefinition::new(query);
        let started = Instant::now();
        match (attacked.query(definition, &()).await, expected) {
            (Ok(answer), "") => assert_eq!(answer, "fine"),
            (Err(QueryError::Failed { message, .. }), expected) if !expected.is_empty() => {
                assert!(message.contains(expected), "{query}: {message}")
            }
            (other, _) => panic!("{query}: unexpected {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{query} took {:?}",
            started.elapsed()
        );
    }
    let deep: QueryDefinition<(), String> = QueryDefinition::new("deep");
    assert!(
        matches!(
            attacked.query(deep, &()).await,
            Err(QueryError::Failed { .. })
        ),
        "a query failing with thousands of causes fails like any other"
    );
    let finish: SignalDefinition<()> = SignalDefinition::new("finish");
    attacked.signal(finish, &()).await.expect("signal");
    assert_eq!(attacked.result().await.expect("result"), "finished");

    // An SDK workflow's oversized answer, and an update whose validator never returns.
    let panicky = env
        .client
        .start_workflow(
            WorkflowDefinition::<(), String>::new("PanicInQueryWorkflow"),
            &(),
            WorkflowOptions::new("huge-answer", &task_queue),
        )
        .await
        .expect("start");
    let huge: QueryDefinition<(), String> = QueryDefinition::new("huge");
    match panicky.query(huge, &()).await {
        Err(QueryError::Failed { message, .. }) => {
            assert!(message.contains("the query's answer is"), "{message}")
        }
        other => panic!("expected the huge answer to fail the query, got {other:?}"),
    }
    let stalling = env
        .client
        .start_workflow(
            WorkflowDefinition::<(), String>::new("LoopingValidatorWorkflow"),
            &(),
            WorkflowOptions::new("looping-validator", &task_queue),
        )
        .await
        .expect("start");
    // An update that comes with other jobs (the run's start, say) shares their fate: the
    // update alone can be refused only when it is all the activation holds.
    wait_for_event(&stalling, Duration::from_secs(20), |event| {
        matches!(event, Attributes::WorkflowTaskCompletedEventAttributes(_))
    })
    .await;
    let stall: UpdateDefinition<(), String> = UpdateDefinition::new("stall");
    match stalling.execute_update(stall, &()).await {
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("500ms activation deadline"), "{message}");
        }
        Ok(answer) => panic!("the looping validator let the update through: {answer}"),
    }
    timed_greeting(&env.client, &task_queue, "after-broken-messages".to_owned()).await;
    for handle in [&panicky, &stalling] {
        handle.signal(finish, &()).await.expect("signal");
        assert_eq!(handle.result().await.expect("result"), "survived");
        assert!(
            !task_failed(handle).await,
            "{} had a failed workflow task",
            handle.workflow_id()
        );
    }
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_chains_from_other_sdks_are_cut_and_wedge_nothing() {
    use sandglass_host::Replayer;
    use sandglass_host::history::history_from_json;
    use sandglass_host::sandbox::{Sandbox, WorkflowModule};
    use sandglass_tests::workflows::{
        PARENT_WORKFLOW, ParentInput, REMOTE_GREETING, RemoteGreeting,
    };

    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("deep-chain");
    let worker = env.test_worker(&task_queue).await;

    // A worker of another SDK (Go accepts 10,000 levels) fails an activity with 150
    // causes: the poll response that carries them is past prost's 100 levels. The
    // Sandglass workflow must still be activated, and fail with the chain cut.
    let foreign_queue = unique_task_queue("deep-chain-foreign");
    let foreign = tokio::spawn(fail_one_activity_deeply(
        env.address(),
        foreign_queue.clone(),
        150,
    ));
    let input = RemoteGreeting {
        name: "deep".to_owned(),
        task_queue: foreign_queue,
    };
    let handle = env
        .client
        .start_workflow(
            REMOTE_GREETING,
            &input,
            WorkflowOptions::new("deep-activity", &task_queue),
        )
        .await
        .expect("start");
    let chain = failed_chain(&handle).await;
    foreign.await.expect("the foreign worker ran");
    assert_eq!(chain.len(), MAX_FAILURE_CHAIN, "{chain:?}");
    assert!(
        chain.iter().any(|m| m.contains("more causes omitted")),
        "{chain:?}"
    );
    assert_eq!(
        chain.last().map(String::as_str),
        Some("root cause"),
        "the root cause is kept"
    );
    assert!(
        !task_failed(&handle).await,
        "the workflow never failed a task"
    );

    // Its history replays from the server, cut the same way; read from the CLI's JSON it
    // is refused with a message that says to do that.
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("module");
    let history = handle.fetch_history().await.expect("history");
    Replayer::new(sandbox, [module])
        .replay(history, "deep-activity")
        .await
        .expect("the history replays");
    let json = std::process::Command::new("temporal")
        .args([
            "workflow",
            "show",
            "--workflow-id",
            "deep-activity",
            "--output",
            "json",
        ])
        .args(["--address", &env.address()])
        .args(["--disable-config-file", "--disable-config-env"])
        .output()
        .expect("run the temporal CLI");
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let error = history_from_json(&json.stdout).expect_err("nested deeper than JSON is read");
    assert!(error.to_string().contains("--workflow-id"), "{error}");

    // A Python child fails with 90 causes (about what the Python SDK can send): the
    // Sandglass parent fails with a cut chain, which every SDK's client can then read.
    let python_queue = unique_task_queue("deep-chain-python");
    let _python = start_python_worker("child_worker.py", &env.address(), &python_queue);
    let input = ParentInput {
        name: "deep".to_owned(),
        python_task_queue: Some(python_queue),
        python_deep_failure: true,
    };
    let parent = env
        .client
        .start_workflow(
            PARENT_WORKFLOW,
            &input,
            WorkflowOptions::new("deep-parent", &task_queue),
        )
        .await
        .expect("start the parent");
    let chain = failed_chain(&parent).await;
    assert_eq!(chain.len(), MAX_FAILURE_CHAIN, "{chain:?}");
    assert_eq!(
        chain.last().map(String::as_str),
        Some("root cause"),
        "{chain:?}"
    );

    timed_greeting(&env.client, &task_queue, "after-deep-chains".to_owned()).await;
    worker.stop().await.expect("worker stops cleanly");
}

/// The messages of the failure chain a run ended with, outermost first; panics unless
/// it fails within a minute.
async fn failed_chain<O: std::fmt::Debug + serde::de::DeserializeOwned>(
    handle: &WorkflowHandle<O>,
) -> Vec<String> {
    let result = tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .unwrap_or_else(|_| panic!("{} never finished: wedged", handle.workflow_id()));
    match result {
        Err(WorkflowResultError::Failed(failure)) => failure_chain(&failure)
            .iter()
            .map(|f| f.message.clone())
            .collect(),
        other => panic!("expected {} to fail, got {other:?}", handle.workflow_id()),
    }
}

/// Acts as a worker of another SDK on `task_queue`: takes one activity task and fails it,
/// non-retryably, with a chain of `causes` causes under a root cause.
async fn fail_one_activity_deeply(address: String, task_queue: String, causes: usize) {
    use temporalio_client::{Connection, ConnectionOptions, Url, tonic};
    use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
    use temporalio_common::protos::temporal::api::failure::v1::{ApplicationFailureInfo, Failure};
    use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        PollActivityTaskQueueRequest, RespondActivityTaskFailedRequest,
    };

    let url = Url::parse(&format!("http://{address}")).expect("url");
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .expect("connect");
    let mut service = connection.workflow_service();
    let task = loop {
        let task = service
            .poll_activity_task_queue(tonic::Request::new(PollActivityTaskQueueRequest {
                namespace: "default".to_owned(),
                task_queue: Some(TaskQueue {
                    name: task_queue.clone(),
                    ..Default::default()
                }),
                identity: "foreign-sdk".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("poll")
            .into_inner();
        if !task.task_token.is_empty() {
            break task;
        }
    };
    let application = |message: String| Failure {
        message,
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                non_retryable: true,
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let mut failure = application("root cause".to_owned());
    for level in 0..causes {
        let mut wrapper = application(format!("wrapped {level}"));
        wrapper.cause = Some(Box::new(failure));
        failure = wrapper;
    }
    service
        .respond_activity_task_failed(tonic::Request::new(RespondActivityTaskFailedRequest {
            task_token: task.task_token,
            failure: Some(failure),
            identity: "foreign-sdk".to_owned(),
            namespace: "default".to_owned(),
            ..Default::default()
        }))
        .await
        .expect("the server accepts a deep failure");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_memory_budget_evicts_idle_runs_and_loses_nothing() {
    use sandglass_host::SignalDefinition;

    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("memory-budget");
    // Room for four runs holding 30 MiB each, not for eight.
    let options = WorkerOptions::default()
        .with_sandbox(SandboxLimits::default().with_max_total_memory_bytes(136 << 20));
    let worker = hostile_worker(&env, &task_queue, options).await;
    let hoarder: WorkflowDefinition<u32, String> = WorkflowDefinition::new("MemoryHoarderWorkflow");
    let mut handles = Vec::new();
    for i in 0..8 {
        let handle = env
            .client
            .start_workflow(
                hoarder,
                &30,
                WorkflowOptions::new(format!("hoarder-{i}"), &task_queue),
            )
            .await
            .expect("start");
        wait_for_event(&handle, Duration::from_secs(20), |event| {
            matches!(event, Attributes::WorkflowTaskCompletedEventAttributes(_))
        })
        .await;
        assert!(
            worker.worker().cached_workflows() <= 4,
            "{} runs cached within a budget for four",
            worker.worker().cached_workflows()
        );
        handles.push(handle);
    }
    // Each evicted run is rebuilt by replay when its signal comes, evicting another.
    let finish: SignalDefinition<()> = SignalDefinition::new("finish");
    for handle in &handles {
        handle.signal(finish, &()).await.expect("signal");
        assert_eq!(handle.result().await.expect("result"), "held 30 MiB");
        assert!(
            !task_failed(handle).await,
            "{}: eviction must not fail tasks",
            handle.workflow_id()
        );
    }
    timed_greeting(&env.client, &task_queue, "after-budget".to_owned()).await;
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completion_temporal_would_refuse_fails_its_task_with_its_size() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("completion-size");
    // Past what Temporal takes: the exact check of the encoded completion still holds.
    let options = WorkerOptions::default()
        .with_sandbox(SandboxLimits::default().with_max_commands_bytes(16 << 20));
    let worker = hostile_worker(&env, &task_queue, options).await;
    let handle = env
        .client
        .start_workflow(
            WorkflowDefinition::<(), String>::new("OversizedCommandsWorkflow"),
            &(),
            hostile_options("too-large-completion".to_owned(), &task_queue),
        )
        .await
        .expect("start");
    let message = workflow_task_failure(&handle).await;
    assert!(
        message.contains("the task completion would be"),
        "{message}"
    );
    assert!(
        message.contains("more than the 4128768 Temporal accepts"),
        "{message}"
    );
    timed_greeting(
        &env.client,
        &task_queue,
        "after-large-completion".to_owned(),
    )
    .await;
    worker.stop().await.expect("worker stops cleanly");
}

/// A worker serving the greeting and both components of hostile workflows.
async fn hostile_worker(env: &TestEnv, task_queue: &str, options: WorkerOptions) -> RunningWorker {
    RunningWorker::start(
        env.greeting_worker_builder(task_queue)
            .workflow_module(component("sandglass-hostile-workflows"))
            .workflow_module(component("sandglass-wit-hostile-workflows"))
            .options(options),
    )
    .await
}

/// Whether the run's history has a failed workflow task.
async fn task_failed<O>(handle: &WorkflowHandle<O>) -> bool {
    handle
        .fetch_history()
        .await
        .expect("history")
        .events
        .iter()
        .any(|event| {
            matches!(
                event.attributes,
                Some(Attributes::WorkflowTaskFailedEventAttributes(_))
            )
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_query_handler_fails_the_query_and_nothing_else() {
    use sandglass_host::{QueryDefinition, QueryError, SignalDefinition};

    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("query-trap");
    let worker = hostile_worker(&env, &task_queue, WorkerOptions::default()).await;
    let target: WorkflowDefinition<(), String> = WorkflowDefinition::new("PanicInQueryWorkflow");
    let handle = env
        .client
        .start_workflow(target, &(), WorkflowOptions::new("query-trap", &task_queue))
        .await
        .expect("start");

    let boom: QueryDefinition<(), String> = QueryDefinition::new("boom");
    match handle.query(boom, &()).await {
        Err(QueryError::Failed { message, .. }) => assert!(
            message.contains("hostile query handler panicked on purpose"),
            "{message}"
        ),
        other => panic!("expected the query to fail, got {other:?}"),
    }
    // The run was rebuilt from history and goes on; so does the worker.
    timed_greeting(&env.client, &task_queue, "after-query-trap".to_owned()).await;
    let finish: SignalDefinition<()> = SignalDefinition::new("finish");
    handle.signal(finish, &()).await.expect("signal");
    assert_eq!(handle.result().await.expect("result"), "survived");
    worker.stop().await.expect("worker stops cleanly");
}
