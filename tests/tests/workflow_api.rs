//! The workflow API against a real dev server: signals, queries and updates (with a
//! validator), child workflows, continue-as-new, cancellation, patching and signals to
//! other workflows; and the same messages and children across the official Python SDK.

use std::time::Duration;

use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{
    QueryDefinition, Replayer, UpdateDefinition, WorkflowDefinition, WorkflowOptions,
    WorkflowResultError,
};
use sandglass_host::{QueryError, UpdateError, UpdateOptions, UpdateStage};
use sandglass_tests::workflows::{
    ADD, ADD_AFTER_TIMER, ADD_CHECKED, CANCEL_OTHER_WORKFLOW, CANCELLABLE_WORKFLOW,
    COUNTDOWN_WORKFLOW, FINISH, MESSAGES_WORKFLOW, PARENT_WORKFLOW, PATCHED_WORKFLOW,
    PRE_PATCH_WORKFLOW, ParentInput, SIGNAL_OTHER_WORKFLOW, TOTAL, UPSERT_WORKFLOW,
};
use sandglass_tests::{
    SEARCH_ATTRIBUTE, TestEnv, count_events, python_client, start_python_worker, test_component,
    unique_task_queue,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

#[tokio::test(flavor = "multi_thread")]
async fn signals_queries_and_updates_reach_their_handlers() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("messages");
    let worker = env.test_worker(&task_queue).await;
    let handle = env
        .client
        .start_workflow(
            MESSAGES_WORKFLOW,
            &(),
            WorkflowOptions::new("messages", &task_queue),
        )
        .await
        .expect("start");

    handle.signal(ADD, &2).await.expect("signal");
    assert_eq!(handle.query(TOTAL, &()).await.expect("query"), 2);
    assert_eq!(
        handle
            .execute_update(ADD_CHECKED, &3)
            .await
            .expect("update"),
        5
    );

    // The validator rejects; the state is untouched.
    let error = handle
        .execute_update(ADD_CHECKED, &-1)
        .await
        .expect_err("the validator rejects negatives");
    let failure = error.application_failure().expect("an application failure");
    assert_eq!(failure.error_type(), "NegativeAmount");
    assert!(
        failure.message().contains("must not be negative"),
        "{error}"
    );

    // Unknown names and malformed arguments: errors for the caller, not the workflow.
    let unknown_query: QueryDefinition<(), i64> = QueryDefinition::new("no_such_query");
    match handle.query(unknown_query, &()).await {
        Err(QueryError::Failed { message, .. }) => {
            assert!(message.contains("no handler for query"), "{message}")
        }
        other => panic!("expected a failed query, got {other:?}"),
    }
    let unknown_update: UpdateDefinition<(), i64> = UpdateDefinition::new("no_such_update");
    let error = handle
        .execute_update(unknown_update, &())
        .await
        .expect_err("unknown update");
    assert!(
        matches!(&error, UpdateError::Failed(f) if f.message.contains("no handler for update")),
        "{error}"
    );
    let malformed: UpdateDefinition<String, i64> = UpdateDefinition::new("add_checked");
    let error = handle
        .execute_update(malformed, &"seven".to_owned())
        .await
        .expect_err("malformed arguments");
    assert!(error.to_string().contains("do not decode"), "{error}");

    // An async update, started and then awaited.
    let update = handle
        .start_update(
            ADD_AFTER_TIMER,
            &10,
            UpdateOptions::new().with_wait_for_stage(UpdateStage::Accepted),
        )
        .await
        .expect("accepted");
    assert_eq!(update.result().await.expect("update result"), 15);
    assert_eq!(handle.query(TOTAL, &()).await.expect("query"), 15);

    handle.signal(FINISH, &()).await.expect("signal");
    assert_eq!(handle.result().await.expect("result"), 15);

    // Only the two accepted updates are in history: rejections leave no trace.
    let history = handle.fetch_history().await.expect("history");
    let accepted = count_events(&history, |a| {
        matches!(
            a,
            Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(_)
        )
    });
    assert_eq!(accepted, 2);

    // A finished workflow takes no more signals, but still answers queries.
    let error = handle
        .signal(ADD, &1)
        .await
        .expect_err("signal after finish");
    assert!(error.to_string().contains("messages"), "{error}");
    assert_eq!(handle.query(TOTAL, &()).await.expect("query"), 15);

    // The history replays, messages and all.
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("module");
    Replayer::new(sandbox, [module])
        .replay(history, "messages")
        .await
        .expect("replays cleanly");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn children_continue_as_new_and_signals_to_other_workflows() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("api");
    let worker = env.test_worker(&task_queue).await;

    let said = env
        .client
        .execute_workflow(
            PARENT_WORKFLOW,
            &ParentInput {
                name: "Ada".into(),
                python_task_queue: None,
                python_deep_failure: false,
            },
            WorkflowOptions::new("parent", &task_queue),
        )
        .await
        .expect("parent result");
    assert_eq!(said, "parent got: Sandglass child of parent greets Ada");

    let countdown = env
        .client
        .start_workflow(
            COUNTDOWN_WORKFLOW,
            &3,
            WorkflowOptions::new("countdown", &task_queue),
        )
        .await
        .expect("start");
    assert_eq!(
        countdown.result().await.expect("follows the chain of runs"),
        "continued: true, same chain: true"
    );

    let target = env
        .client
        .start_workflow(
            MESSAGES_WORKFLOW,
            &(),
            WorkflowOptions::new("target", &task_queue),
        )
        .await
        .expect("start");
    env.client
        .execute_workflow(
            SIGNAL_OTHER_WORKFLOW,
            &"target".to_owned(),
            WorkflowOptions::new("signaller", &task_queue),
        )
        .await
        .expect("signaller result");
    assert_eq!(target.result().await.expect("target result"), 5);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn upserted_search_attributes_are_queryable() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("upsert");
    let worker = env.test_worker(&task_queue).await;
    let result = env
        .client
        .execute_workflow(
            UPSERT_WORKFLOW,
            &(),
            WorkflowOptions::new("upsert", &task_queue),
        )
        .await
        .expect("result");
    assert_eq!(result, "shipped hello");
    // Visibility catches up shortly after the run closes.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = env
            .client
            .list_workflows(&format!("{SEARCH_ATTRIBUTE} = 'shipped'"))
            .await
            .expect("list");
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ids: Vec<&str> = found.iter().map(|w| w.workflow_id.as_str()).collect();
    assert_eq!(ids, ["upsert"]);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_cancelled_by_another_cleans_up_then_ends_cancelled() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("cancel");
    let worker = env.test_worker(&task_queue).await;
    let handle = env
        .client
        .start_workflow(
            CANCELLABLE_WORKFLOW,
            &(),
            WorkflowOptions::new("cancellable", &task_queue),
        )
        .await
        .expect("start");
    // Wait for the timer, so the cancellation reaches a running workflow.
    for _ in 0..100 {
        let history = handle.fetch_history().await.expect("history");
        if count_events(&history, |a| {
            matches!(a, Attributes::TimerStartedEventAttributes(_))
        }) > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Another workflow asks it to cancel, as a client would.
    env.client
        .execute_workflow(
            CANCEL_OTHER_WORKFLOW,
            &"cancellable".to_owned(),
            WorkflowOptions::new("canceller", &task_queue),
        )
        .await
        .expect("the canceller completes");
    match handle.result().await {
        Err(WorkflowResultError::Cancelled) => {}
        other => panic!("expected a cancelled workflow, got {other:?}"),
    }
    let history = handle.fetch_history().await.expect("history");
    assert_eq!(
        count_events(&history, |a| matches!(
            a,
            Attributes::TimerCanceledEventAttributes(_)
        )),
        1
    );
    assert_eq!(
        count_events(&history, |a| matches!(
            a,
            Attributes::ActivityTaskCompletedEventAttributes(_)
        )),
        1,
        "the cleanup activity ran"
    );
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patch_takes_new_runs_and_replays_old_histories() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("patch");
    let worker = env.test_worker(&task_queue).await;
    let old = env
        .client
        .start_workflow(
            PRE_PATCH_WORKFLOW,
            &(),
            WorkflowOptions::new("old", &task_queue),
        )
        .await
        .expect("start");
    assert_eq!(old.result().await.expect("result"), "Hello, old!");
    let new = env
        .client
        .start_workflow(
            PATCHED_WORKFLOW,
            &(),
            WorkflowOptions::new("new", &task_queue),
        )
        .await
        .expect("start");
    assert_eq!(new.result().await.expect("result"), "Hello, new!");
    worker.stop().await.expect("worker stops cleanly");

    let new_history = new.fetch_history().await.expect("history");
    assert_eq!(
        count_events(&new_history, |a| matches!(
            a,
            Attributes::MarkerRecordedEventAttributes(_)
        )),
        1,
        "the patch marker"
    );
    // The old history, as if the patched code had been deployed under the old name.
    let mut old_history = old.fetch_history().await.expect("history");
    for event in &mut old_history.events {
        if let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) =
            &mut event.attributes
        {
            started.workflow_type = Some(PATCHED_WORKFLOW.name().into());
        }
    }
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("module");
    let replayer = Replayer::new(sandbox, [module]);
    replayer
        .replay(old_history, "old")
        .await
        .expect("a history from before the patch replays on the patched code");
    replayer
        .replay(new_history, "new")
        .await
        .expect("a history with the marker replays");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_signals_queries_and_updates_a_sandglass_workflow() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("py-messages");
    let worker = env.test_worker(&task_queue).await;
    let report: serde_json::Value = python_client(
        "messages_client.py",
        &[&env.address(), &task_queue, "py-messages"],
        &[],
    )
    .await;
    assert_eq!(report["total_after_signal"], 3);
    assert_eq!(report["updated"], 7);
    assert!(
        report["rejected"]
            .as_str()
            .is_some_and(|m| m.contains("must not be negative")),
        "{report}"
    );
    assert!(
        report["unknown_query"]
            .as_str()
            .is_some_and(|m| m.contains("no handler for query")),
        "{report}"
    );
    assert_eq!(report["result"], 7);
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn children_cross_between_sandglass_and_python() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("children");
    let python_queue = unique_task_queue("py-children");
    let _python = start_python_worker("child_worker.py", &env.address(), &python_queue);
    let worker = env.test_worker(&task_queue).await;

    let said = env
        .client
        .execute_workflow(
            PARENT_WORKFLOW,
            &ParentInput {
                name: "Ada".into(),
                python_task_queue: Some(python_queue.clone()),
                python_deep_failure: false,
            },
            WorkflowOptions::new("rust-parent", &task_queue),
        )
        .await
        .expect("parent result");
    assert_eq!(said, "parent got: Python child of rust-parent greets Ada");

    let python_parent: WorkflowDefinition<(String, String), String> =
        WorkflowDefinition::new("PythonParentWorkflow");
    let said = env
        .client
        .execute_workflow(
            python_parent,
            &("Grace".to_owned(), task_queue.clone()),
            WorkflowOptions::new("python-parent", &python_queue),
        )
        .await
        .expect("Python parent result");
    assert_eq!(
        said,
        "Python parent got: Sandglass child of python-parent greets Grace"
    );
    worker.stop().await.expect("worker stops cleanly");
}
