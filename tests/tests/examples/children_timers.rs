//! The child-workflows, continue-as-new and timers examples, run the way their READMEs
//! run them, against a real dev server.

use std::time::Duration;

use child_workflows_declarations::{ORDER_BATCH_WORKFLOW, Order, OrderBatch, Shipment};
use continue_as_new_declarations::{BATCH_PROCESSOR_WORKFLOW, ProcessorInput, Progress};
use sandglass_host::{Client, WorkflowHandle, WorkflowOptions, WorkflowResultError};
use sandglass_tests::{RunningWorker, TestEnv, component};
use timers_declarations::{
    ACKNOWLEDGE, Acknowledgement, Outcome, REMINDER_WORKFLOW, Reminder, STAGE, Stage,
};

fn order(id: &str, item: &str, quantity: u32) -> Order {
    Order {
        id: id.to_owned(),
        item: item.to_owned(),
        quantity,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_child_workflows_example_fans_out_signals_and_collects() {
    let env = TestEnv::start().await;
    let worker = RunningWorker::start(child_workflows_example::worker_builder(
        env.client.clone(),
        component("child-workflows-workflows"),
    ))
    .await;
    let task_queue = child_workflows_example::TASK_QUEUE;

    let orders = vec![
        order("A-1", "kettle", 1),
        order("A-2", "teapot", 2),
        order("A-3", "mugs", 6),
    ];
    let batch = OrderBatch {
        orders: orders.clone(),
        expedite: Some("A-2".to_owned()),
    };
    let summary = env
        .client
        .execute_workflow(
            ORDER_BATCH_WORKFLOW,
            &batch,
            WorkflowOptions::new("batch-7", task_queue),
        )
        .await
        .expect("the batch completes");
    let shipment = |order: &Order, service: &str, tracking: &str| Shipment {
        order: order.clone(),
        service: service.to_owned(),
        tracking_number: tracking.to_owned(),
        shipped_by: format!("batch-7-{}", order.id),
    };
    assert_eq!(
        summary.shipments,
        [
            shipment(&orders[0], "ground", "GND-A-1"),
            shipment(&orders[1], "express", "EXP-A-2"),
            shipment(&orders[2], "ground", "GND-A-3"),
        ],
        "one child per order, ids derived from the parent's, only A-2 expedited"
    );

    // An order to expedite that is not in the batch fails the parent before any child.
    let error = env
        .client
        .execute_workflow(
            ORDER_BATCH_WORKFLOW,
            &OrderBatch {
                orders,
                expedite: Some("Z-9".to_owned()),
            },
            WorkflowOptions::new("batch-8", task_queue),
        )
        .await
        .expect_err("an unknown order fails the batch");
    let WorkflowResultError::Failed(_) = &error else {
        panic!("expected a failed workflow: {error}");
    };
    let failure = error.application_failure().expect("an application failure");
    assert_eq!(failure.error_type(), "UnknownOrder");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_continue_as_new_example_carries_its_state_across_runs() {
    let env = TestEnv::start().await;
    let worker = RunningWorker::start(continue_as_new_example::worker_builder(
        env.client.clone(),
        component("continue-as-new-workflows"),
    ))
    .await;

    let input = ProcessorInput {
        items: 20,
        batch_size: 3,
        batches_per_run: 2,
        progress: Progress::default(),
    };
    let handle = env
        .client
        .start_workflow(
            BATCH_PROCESSOR_WORKFLOW,
            &input,
            WorkflowOptions::new("processor-1", continue_as_new_example::TASK_QUEUE),
        )
        .await
        .expect("start the processor");
    let progress = handle.result().await.expect("the chain completes");
    assert_eq!(
        progress,
        Progress {
            processed: 20,
            batches: 7,
            sum_of_squares: (1..=20u64).map(|n| n * n).sum(),
            runs: 4,
        },
        "seven batches, two per run, in four runs"
    );
    let first_run = handle.run_id().expect("the first run's id");
    let latest = env
        .client
        .workflow_handle::<Progress>("processor-1", None)
        .describe()
        .await
        .expect("describe the latest run");
    assert_ne!(latest.run_id, first_run, "the result came from a later run");
    worker.stop().await.expect("worker stops cleanly");
}

/// Starts a reminder on the timers example's task queue.
async fn start_reminder(
    client: &Client,
    id: &str,
    acknowledge_within: Duration,
    ring_for: Duration,
) -> WorkflowHandle<Outcome> {
    let reminder = Reminder {
        task: id.to_owned(),
        acknowledge_within,
        ring_for,
    };
    client
        .start_workflow(
            REMINDER_WORKFLOW,
            &reminder,
            WorkflowOptions::new(id, timers_example::TASK_QUEUE),
        )
        .await
        .expect("start the reminder")
}

async fn wait_for_stage(handle: &WorkflowHandle<Outcome>, stage: Stage) {
    for _ in 0..200 {
        if handle.query(STAGE, &()).await.expect("query the stage") == stage {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never reached {stage:?}", handle.workflow_id());
}

/// Cancels the reminder once it reaches `stage`; it must end cancelled, with the
/// cleanup activity in its history after the request.
async fn cancel_at(handle: &WorkflowHandle<Outcome>, stage: Stage) {
    wait_for_stage(handle, stage).await;
    handle.cancel().await.expect("cancel the reminder");
    let error = handle.result().await.expect_err("a cancelled reminder");
    assert!(
        matches!(error, WorkflowResultError::Cancelled),
        "cancelled at {stage:?}: {error}"
    );
    assert!(
        timers_example::withdrawn_after_cancel(handle)
            .await
            .expect("fetch the history"),
        "cancelled at {stage:?}: the reminder is withdrawn after the cancellation"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timers_example_races_deadlines_and_cleans_up_when_cancelled() {
    let env = TestEnv::start().await;
    let worker = RunningWorker::start(timers_example::worker_builder(
        env.client.clone(),
        component("timers-workflows"),
    ))
    .await;
    let client = &env.client;
    let (short, long) = (Duration::from_millis(500), Duration::from_secs(60));

    let acknowledged = async {
        let handle = start_reminder(client, "acknowledged", long, long).await;
        wait_for_stage(&handle, Stage::WaitingForAcknowledgement).await;
        let acknowledgement = Acknowledgement {
            by: "Ana".to_owned(),
        };
        handle
            .signal(ACKNOWLEDGE, &acknowledgement)
            .await
            .expect("acknowledge");
        let outcome = handle.result().await.expect("an acknowledged reminder");
        assert_eq!(
            outcome,
            Outcome::Acknowledged {
                by: "Ana".to_owned()
            }
        );
    };
    let unanswered = async {
        let handle = start_reminder(client, "unanswered", short, Duration::from_secs(1)).await;
        let outcome = handle.result().await.expect("an unanswered reminder");
        assert_eq!(
            outcome,
            Outcome::Unanswered,
            "the call's deadline cancels it"
        );
    };
    let answered = async {
        // The stand-in engineer picks up after five seconds; let it ring longer.
        let ring_for = timers_example::PICK_UP_AFTER + Duration::from_secs(5);
        let handle = start_reminder(client, "answered", short, ring_for).await;
        let outcome = handle.result().await.expect("an escalated reminder");
        assert_eq!(
            outcome,
            Outcome::Escalated {
                answered_by: timers_example::ON_CALL.to_owned()
            }
        );
    };
    let cancelled_waiting = async {
        let handle = start_reminder(client, "cancelled-waiting", long, long).await;
        cancel_at(&handle, Stage::WaitingForAcknowledgement).await;
    };
    let cancelled_calling = async {
        let handle = start_reminder(client, "cancelled-calling", short, long).await;
        cancel_at(&handle, Stage::CallingOnCall).await;
    };
    tokio::join!(
        acknowledged,
        unanswered,
        answered,
        cancelled_waiting,
        cancelled_calling
    );
    worker.stop().await.expect("worker stops cleanly");
}
