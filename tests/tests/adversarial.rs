//! The sandbox you can trust, against a real server: one worker serves a component of
//! hostile workflows (one attack per type, `tests/hostile-workflows`) beside the healthy
//! greeting workflow on one task queue.
//!
//! Every attack must fail only its own workflow task, with a message that names the
//! problem and the fix, and the greeting must keep completing meanwhile, even while
//! runaway loops burn their activation deadlines over and over. At the end the worker
//! still serves and shuts down cleanly.
//!
//! Temporal retries a failed workflow task with backoff, so each attack is judged by the
//! first failure recorded in its history, and the hostile runs get a short workflow task
//! timeout so their retries keep coming while the healthy runs are measured.

use std::time::{Duration, Instant};

use greeting_activities::GREETING_WORKFLOW;
use sandglass_host::{Client, WorkflowDefinition, WorkflowHandle, WorkflowOptions};
use sandglass_tests::{
    RunningWorker, TestEnv, component, unique_task_queue, workflow_task_failure,
};

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
];

const LOOP: WorkflowDefinition<(), String> = WorkflowDefinition::new("InfiniteLoopWorkflow");

/// Hostile runs retry their failed tasks quickly, so the loop keeps burning deadlines.
fn hostile_options(id: String, task_queue: &str) -> WorkflowOptions {
    let mut options = WorkflowOptions::new(id, task_queue);
    options.task_timeout = Some(Duration::from_secs(3));
    options
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
    let worker = env
        .greeting_worker_builder(&task_queue)
        .workflow_module(component("sandglass-hostile-workflows"))
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);
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

    // Every other attack, all at once.
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

    // Nothing lost: the worker still serves, and stops cleanly.
    let after = (0..3).map(|i| timed_greeting(&env.client, &task_queue, format!("after-{i}")));
    futures::future::join_all(after).await;
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_query_handler_fails_the_query_and_nothing_else() {
    use sandglass_host::{QueryDefinition, QueryError, SignalDefinition};

    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("query-trap");
    let worker = env
        .greeting_worker_builder(&task_queue)
        .workflow_module(component("sandglass-hostile-workflows"))
        .build()
        .await
        .expect("build the worker");
    let worker = RunningWorker::spawn(worker);
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
