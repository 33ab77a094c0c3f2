//! The client against a real dev server: describe, cancel and terminate a workflow
//! parked on a timer, list and count with a visibility query, id conflict and reuse
//! policies, signals (to open, closed and unknown workflows), signal-with-start, and
//! reading an application failure's type and details.
//!
//! Tests that need no workflow code to run start workflows on a task queue no worker
//! polls: the server records starts, signals, cancel requests and terminations all
//! the same.

use std::time::{Duration, Instant};

use sandglass_host::payload::from_payload;
use sandglass_host::{
    ActivityFailure, ClientError, SignalDefinition, WorkflowHandle, WorkflowOptions,
    WorkflowResultError,
};
use sandglass_host::{
    ApplicationFailure, WorkflowDescription, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowStatus,
};
use sandglass_tests::workflows::{
    FAILS_NON_RETRYABLE, NON_RETRYABLE_ACTIVITY_WORKFLOW, TIMER_WORKFLOW, TimerReport,
};
use sandglass_tests::{RunningWorker, TestEnv, test_component, unique_task_queue, wait_for_event};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// A signal no test workflow handles; the tests send it only to workflows no worker
/// runs, so only the server's record of it matters.
const NOTE: SignalDefinition<String> = SignalDefinition::new("note");
const PING: SignalDefinition<()> = SignalDefinition::new("ping");

/// Long enough that a test never sees the timer fire.
const PARKED_MS: u64 = 10 * 60 * 1000;

async fn timer_worker(env: &TestEnv, task_queue: &str) -> RunningWorker {
    env.serve(task_queue, |worker| {
        worker.workflow_module(test_component())
    })
    .await
}

/// The inputs of the run's signals named `name`, decoded as strings (`None` for a
/// signal with no arguments).
async fn signal_inputs<O>(handle: &WorkflowHandle<O>, name: &str) -> Vec<Option<String>> {
    let history = handle.fetch_history().await.expect("fetch history");
    history
        .events
        .into_iter()
        .filter_map(|event| match event.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(signaled))
                if signaled.signal_name == name =>
            {
                let payloads = signaled.input.map(|p| p.payloads).unwrap_or_default();
                Some(
                    payloads
                        .first()
                        .map(|payload| from_payload::<String>(payload).expect("a string input")),
                )
            }
            _ => None,
        })
        .collect()
}

fn assert_not_found(error: ClientError, workflow_id: &str) {
    let message = error.to_string();
    match error {
        ClientError::WorkflowNotFound {
            workflow_id: named, ..
        } => assert_eq!(named, workflow_id),
        other => panic!("expected WorkflowNotFound, got {other:?}"),
    }
    assert!(
        message.contains("closed") && message.contains(workflow_id),
        "the message should say the workflow is closed or unknown: {message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_and_terminate_a_workflow_parked_on_a_timer() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-terminate");
    let worker = timer_worker(&env, &task_queue).await;

    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &PARKED_MS,
            WorkflowOptions::new("parked", &task_queue),
        )
        .await
        .expect("start the timer workflow");
    wait_for_event(&handle, Duration::from_secs(20), |a| {
        matches!(a, Attributes::TimerStartedEventAttributes(_))
    })
    .await;

    let running = handle
        .describe()
        .await
        .expect("describe the running workflow");
    assert_eq!(running.workflow_id, "parked");
    assert_eq!(Some(running.run_id.as_str()), handle.run_id());
    assert_eq!(running.workflow_type, "TimerWorkflow");
    assert_eq!(running.task_queue, task_queue);
    assert_eq!(running.status, WorkflowStatus::Running);
    assert!(running.start_time.is_some(), "{running:?}");
    assert_eq!(running.close_time, None);
    assert!(running.history_length >= 5, "{running:?}");

    handle
        .terminate("the test is over")
        .await
        .expect("terminate the workflow");
    match handle.result().await {
        Err(WorkflowResultError::Terminated { reason }) => assert_eq!(reason, "the test is over"),
        other => panic!("expected a terminated workflow, got {other:?}"),
    }
    let closed: WorkflowDescription = handle.describe().await.expect("describe the closed run");
    assert_eq!(closed.status, WorkflowStatus::Terminated);
    assert!(closed.close_time.is_some(), "{closed:?}");
    assert!(closed.history_length > running.history_length, "{closed:?}");

    // A closed workflow cannot be terminated again. (A cancel request for it is
    // accepted by the dev server and has no effect, so it is not checked here.)
    assert_not_found(
        handle.terminate("again").await.expect_err("already closed"),
        "parked",
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_workflow_parked_on_a_timer_is_recorded() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-cancel");
    let worker = timer_worker(&env, &task_queue).await;

    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &PARKED_MS,
            WorkflowOptions::new("cancelled", &task_queue),
        )
        .await
        .expect("start the timer workflow");
    wait_for_event(&handle, Duration::from_secs(20), |a| {
        matches!(a, Attributes::TimerStartedEventAttributes(_))
    })
    .await;
    handle.cancel().await.expect("request cancellation");
    wait_for_event(&handle, Duration::from_secs(20), |a| {
        matches!(
            a,
            Attributes::WorkflowExecutionCancelRequestedEventAttributes(_)
        )
    })
    .await;
    // How the workflow reacts is its own business; it is running or cancelled.
    let status = handle.describe().await.expect("describe").status;
    assert!(
        matches!(status, WorkflowStatus::Running | WorkflowStatus::Cancelled),
        "{status:?}"
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_count_find_a_completed_workflow_by_id() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-list");
    let worker = timer_worker(&env, &task_queue).await;
    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &10,
            WorkflowOptions::new("listed", &task_queue),
        )
        .await
        .expect("start the timer workflow");
    let report: TimerReport = handle.result().await.expect("the workflow completes");
    assert!(report.slept_ms >= 10, "{report:?}");

    // Visibility is eventually consistent: wait until it shows the run as completed.
    let query = "WorkflowId = 'listed'";
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        let listed = env.client.list_workflows(query).await.expect("list");
        if let [summary] = listed.as_slice()
            && summary.status == WorkflowStatus::Completed
        {
            break summary.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the completed run is not listed within 20 s: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(summary.workflow_id, "listed");
    assert_eq!(Some(summary.run_id.as_str()), handle.run_id());
    assert_eq!(summary.workflow_type, "TimerWorkflow");
    assert_eq!(summary.task_queue, task_queue);
    assert!(summary.start_time.is_some() && summary.close_time.is_some());
    assert!(summary.close_time >= summary.start_time, "{summary:?}");

    assert_eq!(env.client.count_workflows(query).await.expect("count"), 1);
    assert!(
        env.client
            .list_workflows("WorkflowId = 'no-such-workflow'")
            .await
            .expect("list")
            .is_empty()
    );
    let error = env
        .client
        .list_workflows("this is not a query")
        .await
        .expect_err("an invalid query");
    assert!(matches!(error, ClientError::Rpc { .. }), "{error}");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn id_conflict_policies_decide_what_a_second_start_does() {
    let env = TestEnv::start().await;
    // No worker: the runs stay open.
    let task_queue = unique_task_queue("client-conflict");
    let options = || WorkflowOptions::new("conflict", &task_queue);
    let first = env
        .client
        .start_workflow(TIMER_WORKFLOW, &PARKED_MS, options())
        .await
        .expect("start the first run");
    let first_run = first.run_id().expect("a run id").to_owned();

    let error = env
        .client
        .start_workflow(TIMER_WORKFLOW, &PARKED_MS, options())
        .await
        .expect_err("Fail is the default conflict policy");
    match &error {
        ClientError::AlreadyStarted {
            workflow_id,
            run_id,
            ..
        } => {
            assert_eq!(workflow_id, "conflict");
            assert_eq!(run_id.as_deref(), Some(first_run.as_str()));
        }
        other => panic!("expected AlreadyStarted, got {other:?}"),
    }

    let existing = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &PARKED_MS,
            options().with_id_conflict_policy(WorkflowIdConflictPolicy::UseExisting),
        )
        .await
        .expect("UseExisting returns the running run");
    assert_eq!(existing.run_id(), Some(first_run.as_str()));

    let replacement = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &PARKED_MS,
            options().with_id_conflict_policy(WorkflowIdConflictPolicy::TerminateExisting),
        )
        .await
        .expect("TerminateExisting starts a new run");
    assert_ne!(replacement.run_id(), Some(first_run.as_str()));
    assert_eq!(
        first
            .describe()
            .await
            .expect("describe the first run")
            .status,
        WorkflowStatus::Terminated
    );
    assert_eq!(
        replacement.describe().await.expect("describe").status,
        WorkflowStatus::Running
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn id_reuse_policies_decide_whether_a_closed_id_starts_again() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-reuse");
    let worker = timer_worker(&env, &task_queue).await;
    let options = |id: &str| WorkflowOptions::new(id, &task_queue);

    // A completed run: RejectDuplicate and AllowDuplicateFailedOnly refuse its id,
    // AllowDuplicate (the default) takes it.
    let done = env
        .client
        .start_workflow(TIMER_WORKFLOW, &1, options("reused"))
        .await
        .expect("start");
    done.result().await.expect("the first run completes");
    for policy in [
        WorkflowIdReusePolicy::RejectDuplicate,
        WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
    ] {
        let error = env
            .client
            .start_workflow(
                TIMER_WORKFLOW,
                &1,
                options("reused").with_id_reuse_policy(policy),
            )
            .await
            .expect_err("the id of a completed run is not reused");
        assert!(
            matches!(error, ClientError::AlreadyStarted { .. }),
            "{policy:?}: {error}"
        );
        assert!(error.to_string().contains("reuse policy"), "{error}");
    }
    let again = env
        .client
        .start_workflow(TIMER_WORKFLOW, &1, options("reused"))
        .await
        .expect("AllowDuplicate reuses the id");
    assert_ne!(again.run_id(), done.run_id());
    again.result().await.expect("the second run completes");

    // A terminated run counts as failed: AllowDuplicateFailedOnly takes its id.
    let stopped = env
        .client
        .start_workflow(TIMER_WORKFLOW, &PARKED_MS, options("retried"))
        .await
        .expect("start");
    stopped.terminate("make it fail").await.expect("terminate");
    env.client
        .start_workflow(
            TIMER_WORKFLOW,
            &1,
            options("retried")
                .with_id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicateFailedOnly),
        )
        .await
        .expect("a failed run's id is reused")
        .result()
        .await
        .expect("the retry completes");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_reach_open_workflows_and_name_closed_or_unknown_ones() {
    let env = TestEnv::start().await;
    // No worker: the run stays open and its signals stay in its history.
    let task_queue = unique_task_queue("client-signal");
    let handle = env
        .client
        .start_workflow(
            TIMER_WORKFLOW,
            &PARKED_MS,
            WorkflowOptions::new("signalled", &task_queue),
        )
        .await
        .expect("start");
    handle
        .signal(NOTE, &"first".to_owned())
        .await
        .expect("signal");
    handle
        .signal(PING, &())
        .await
        .expect("signal without input");
    assert_eq!(
        signal_inputs(&handle, "note").await,
        [Some("first".to_owned())]
    );
    // `()` travels as no argument at all, as other SDKs send an argument-less signal.
    assert_eq!(signal_inputs(&handle, "ping").await, [None]);

    // A handle without a run id follows the latest run.
    let latest = env.client.workflow_handle::<TimerReport>("signalled", None);
    latest
        .signal(NOTE, &"second".to_owned())
        .await
        .expect("signal the latest run");
    assert_eq!(signal_inputs(&handle, "note").await.len(), 2);

    handle.terminate("closed").await.expect("terminate");
    assert_not_found(
        handle
            .signal(NOTE, &"late".to_owned())
            .await
            .expect_err("a closed workflow takes no signals"),
        "signalled",
    );
    let unknown = env.client.workflow_handle::<()>("never-started", None);
    assert_not_found(
        unknown
            .signal(NOTE, &"lost".to_owned())
            .await
            .expect_err("an unknown workflow takes no signals"),
        "never-started",
    );
    assert_not_found(
        unknown.describe().await.expect_err("nothing to describe"),
        "never-started",
    );
    assert_not_found(
        unknown.cancel().await.expect_err("nothing to cancel"),
        "never-started",
    );
    assert_not_found(
        unknown
            .terminate("no reason")
            .await
            .expect_err("nothing to terminate"),
        "never-started",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signal_with_start_starts_a_workflow_or_signals_the_running_one() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-signal-with-start");
    let options = || WorkflowOptions::new("signal-with-start", &task_queue);
    let started = env
        .client
        .signal_with_start(
            TIMER_WORKFLOW,
            &PARKED_MS,
            options(),
            NOTE,
            &"hello".to_owned(),
        )
        .await
        .expect("signal-with-start starts the workflow");
    let description = started.describe().await.expect("describe");
    assert_eq!(description.status, WorkflowStatus::Running);
    assert_eq!(description.workflow_type, "TimerWorkflow");
    assert_eq!(Some(description.run_id.as_str()), started.run_id());

    // Again while it runs: the same run gets the second signal (the default conflict
    // policy means "use the existing run" for signal-with-start).
    let signalled = env
        .client
        .signal_with_start(
            TIMER_WORKFLOW,
            &PARKED_MS,
            options(),
            NOTE,
            &"again".to_owned(),
        )
        .await
        .expect("signal-with-start signals the running workflow");
    assert_eq!(signalled.run_id(), started.run_id());
    assert_eq!(
        signal_inputs(&started, "note").await,
        [Some("hello".to_owned()), Some("again".to_owned())]
    );

    // The workflow's input arrived as its one argument.
    let history = started.fetch_history().await.expect("history");
    let input = history
        .events
        .iter()
        .find_map(|event| match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => started
                .input
                .as_ref()
                .and_then(|input| input.payloads.first())
                .map(|payload| from_payload::<u64>(payload).expect("a number")),
            _ => None,
        });
    assert_eq!(input, Some(PARKED_MS));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_failure_reads_its_type_message_and_details() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("client-failure");
    let worker = env
        .serve(&task_queue, |worker| {
            worker.workflow_module(test_component()).sync_activity(
                FAILS_NON_RETRYABLE,
                |_ctx, ()| {
                    Err::<u32, _>(
                        ActivityFailure::application("CardDeclined", "the card was declined")
                            .non_retryable()
                            .with_detail(&42u32),
                    )
                },
            )
        })
        .await;
    let error = env
        .client
        .execute_workflow(
            NON_RETRYABLE_ACTIVITY_WORKFLOW,
            &(),
            WorkflowOptions::new("declined", &task_queue),
        )
        .await
        .expect_err("the workflow fails with the activity's error");
    // The workflow's own error comes first; the activity's is further down the chain.
    let outermost = error
        .application_failure()
        .unwrap_or_else(|| panic!("no application failure in {error:?}"));
    assert!(
        outermost.message().contains("the card was declined"),
        "{}",
        outermost.message()
    );
    let WorkflowResultError::Failed(failure) = &error else {
        panic!("expected a failed workflow, got {error:?}");
    };
    let declined = ApplicationFailure::chain(failure)
        .find(|f| f.error_type() == "CardDeclined")
        .unwrap_or_else(|| panic!("no CardDeclined failure in {failure:#?}"));
    assert_eq!(declined.message(), "the card was declined");
    assert!(declined.non_retryable());
    assert_eq!(declined.details::<u32>().expect("details"), 42);
    assert!(declined.details::<String>().is_err(), "42 is no string");
    worker.stop().await.expect("worker stops cleanly");
}
