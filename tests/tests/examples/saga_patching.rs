//! The saga and patching examples, run the way their READMEs run them, against a real
//! dev server; and the patching example's checked-in histories, replayed.

use std::time::Duration;

use patching_declarations::{ORDER_WORKFLOW, Order, OrderResult, UNPATCHED_ORDER_WORKFLOW};
use saga_declarations::{
    BOOK_CAR, BOOK_FLIGHT, BOOK_HOTEL, Booking, CANCEL_CAR, CANCEL_FLIGHT, CANCEL_HOTEL, Step,
    TRIP_FAILED, TRIP_WORKFLOW, Trip, TripBooked, TripFailed,
};
use sandglass_host::history::history_from_json;
use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{
    ActivityContext, ActivityFailure, History, ReplayError, Replayer, Worker, WorkflowOptions,
    WorkflowResultError,
};
use sandglass_tests::{RunningWorker, TestEnv, component, workspace_dir};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// The activity types scheduled in `history`, in order.
fn scheduled_activities(history: &History) -> Vec<String> {
    history
        .events
        .iter()
        .filter_map(|event| match &event.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) => scheduled
                .activity_type
                .as_ref()
                .map(|activity_type| activity_type.name.clone()),
            _ => None,
        })
        .collect()
}

fn trip(name: &str, unavailable: Option<Step>) -> Trip {
    Trip {
        name: name.to_owned(),
        unavailable,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_saga_example_books_a_trip_and_compensates_a_failed_one() {
    let env = TestEnv::start().await;
    let worker = RunningWorker::start(saga_example::worker_builder(
        env.client.clone(),
        component("saga-workflows"),
    ))
    .await;

    let booked = env
        .client
        .execute_workflow(
            TRIP_WORKFLOW,
            &trip("Ada", None),
            WorkflowOptions::new("trip-Ada", saga_example::TASK_QUEUE),
        )
        .await
        .expect("Ada's trip is booked");
    let booking = |step: Step, reference: &str| Booking {
        step,
        reference: reference.to_owned(),
    };
    assert_eq!(
        booked,
        TripBooked {
            name: "Ada".to_owned(),
            bookings: vec![
                booking(Step::Car, "CAR-trip-Ada"),
                booking(Step::Hotel, "HOTEL-trip-Ada"),
                booking(Step::Flight, "FLIGHT-trip-Ada"),
            ],
        }
    );

    let bob = env
        .client
        .start_workflow(
            TRIP_WORKFLOW,
            &trip("Bob", Some(Step::Flight)),
            WorkflowOptions::new("trip-Bob", saga_example::TASK_QUEUE),
        )
        .await
        .expect("start Bob's trip");
    let error = bob.result().await.expect_err("Bob's flight is unavailable");
    let failure = error.application_failure().expect("an application failure");
    assert_eq!(failure.error_type(), TRIP_FAILED);
    assert!(failure.non_retryable());
    assert_eq!(
        failure.message(),
        "could not book the flight for Bob: no seats left on the flight for Bob; \
         compensated: hotel, car"
    );
    assert_eq!(
        failure.details::<TripFailed>().expect("the detail decodes"),
        TripFailed {
            failed: Step::Flight,
            error_type: "FlightUnavailable".to_owned(),
            reason: "no seats left on the flight for Bob".to_owned(),
            compensated: vec![Step::Hotel, Step::Car],
            not_compensated: Vec::new(),
        }
    );
    // The activity's own failure is the cause, under the workflow's.
    let causes: Vec<&str> = sandglass_host::ApplicationFailure::chain(failure.failure())
        .map(|cause| cause.error_type())
        .collect();
    assert_eq!(causes, [TRIP_FAILED, "FlightUnavailable"]);
    let history = bob.fetch_history().await.expect("history");
    assert_eq!(
        scheduled_activities(&history),
        [
            "book_car",
            "book_hotel",
            "book_flight",
            "cancel_hotel",
            "cancel_car"
        ],
        "a non-retryable refusal is not retried, and the compensations run newest first"
    );
    worker.stop().await.expect("worker stops cleanly");
}

/// A flight booking that never answers: it heartbeats until it is cancelled or the
/// worker shuts down, so the test can cancel the trip while it runs.
async fn book_flight_forever(
    ctx: ActivityContext,
    _trip: Trip,
) -> Result<Booking, ActivityFailure> {
    loop {
        ctx.heartbeat(&());
        tokio::select! {
            () = ctx.cancelled() => return Err(ActivityFailure::cancelled()),
            () = ctx.worker_shutdown() => return Err(ActivityFailure::cancelled()),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_saga_example_compensates_a_cancelled_trip() {
    let env = TestEnv::start().await;
    let task_queue = sandglass_tests::unique_task_queue("saga-cancel");
    let worker = RunningWorker::start(
        Worker::builder(env.client.clone(), &task_queue)
            .workflow_module(component("saga-workflows"))
            .async_activity(BOOK_CAR, saga_example::book_car)
            .async_activity(BOOK_HOTEL, saga_example::book_hotel)
            .async_activity(BOOK_FLIGHT, book_flight_forever)
            .async_activity(CANCEL_CAR, saga_example::cancel_car)
            .async_activity(CANCEL_HOTEL, saga_example::cancel_hotel)
            .async_activity(CANCEL_FLIGHT, saga_example::cancel_flight),
    )
    .await;

    let handle = env
        .client
        .start_workflow(
            TRIP_WORKFLOW,
            &trip("Cy", None),
            WorkflowOptions::new("trip-Cy", &task_queue),
        )
        .await
        .expect("start Cy's trip");
    // Cancel once the car and hotel are booked and the flight is being booked.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let history = handle.fetch_history().await.expect("history");
        if scheduled_activities(&history).contains(&"book_flight".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "book_flight was never scheduled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.cancel().await.expect("request cancellation");

    let error = handle.result().await.expect_err("the trip was cancelled");
    assert!(
        matches!(error, WorkflowResultError::Cancelled),
        "expected a cancelled workflow, got {error}"
    );
    let history = handle.fetch_history().await.expect("history");
    assert_eq!(
        scheduled_activities(&history),
        [
            "book_car",
            "book_hotel",
            "book_flight",
            "cancel_hotel",
            "cancel_car"
        ],
        "the compensations run although the workflow was cancelled"
    );
    let completed = history
        .events
        .iter()
        .filter(|event| {
            matches!(
                event.attributes,
                Some(Attributes::ActivityTaskCompletedEventAttributes(_))
            )
        })
        .count();
    assert_eq!(completed, 4, "car, hotel and both of their cancellations");
    worker.stop().await.expect("worker stops cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patching_example_sends_a_receipt_on_new_runs() {
    let env = TestEnv::start().await;
    let worker = RunningWorker::start(patching_example::worker_builder(
        env.client.clone(),
        component("patching-workflows"),
    ))
    .await;

    let order = Order {
        id: "A-1001".to_owned(),
        customer: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
        amount_cents: 4200,
    };
    let handle = env
        .client
        .start_workflow(
            ORDER_WORKFLOW,
            &order,
            WorkflowOptions::new("order-A-1001", patching_example::TASK_QUEUE),
        )
        .await
        .expect("start the order");
    assert_eq!(
        handle.result().await.expect("the order completes"),
        OrderResult {
            order: "A-1001".to_owned(),
            payment: "PAY-A-1001".to_owned(),
            receipt: Some("RCPT-A-1001".to_owned()),
            tracking: "TRACK-A-1001".to_owned(),
        }
    );
    let history = handle.fetch_history().await.expect("history");
    assert_eq!(
        scheduled_activities(&history),
        ["charge", "send_receipt", "ship"]
    );
    let markers = history
        .events
        .iter()
        .filter(|event| {
            matches!(
                event.attributes,
                Some(Attributes::MarkerRecordedEventAttributes(_))
            )
        })
        .count();
    assert_eq!(markers, 1, "the patch marker");
    worker.stop().await.expect("worker stops cleanly");
}

fn checked_in_history(file: &str) -> History {
    let path = workspace_dir()
        .join("examples/patching/histories")
        .join(file);
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    history_from_json(&json).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn replayer() -> Replayer {
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module =
        WorkflowModule::from_file(&sandbox, component("patching-workflows")).expect("module");
    Replayer::new(sandbox, [module])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patching_examples_histories_replay_on_the_current_code() {
    let before = checked_in_history("before-patch.json");
    assert_eq!(
        scheduled_activities(&before),
        ["charge", "ship"],
        "recorded by the code from before the patch"
    );
    let with_patch = checked_in_history("with-patch.json");
    assert_eq!(
        scheduled_activities(&with_patch),
        ["charge", "send_receipt", "ship"]
    );

    let replayer = replayer();
    replayer
        .replay(before.clone(), "order-before-patch")
        .await
        .expect("a history from before the patch replays on the patched code");
    replayer
        .replay(with_patch, "order-with-patch")
        .await
        .expect("a history with the patch marker replays");

    // The same change without `patched`, as if deployed under the old name: the old
    // history does not replay on it.
    let mut before = before;
    for event in &mut before.events {
        if let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) =
            &mut event.attributes
        {
            started.workflow_type = Some(UNPATCHED_ORDER_WORKFLOW.name().into());
        }
    }
    match replayer.replay(before, "order-before-patch").await {
        Err(ReplayError::Nondeterminism { message }) => {
            assert!(message.contains("send_receipt"), "{message}")
        }
        other => panic!("expected nondeterminism, got {other:?}"),
    }
}
