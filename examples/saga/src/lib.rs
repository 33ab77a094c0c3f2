//! The saga example's native half: the booking services and their cancellations (the
//! compensations), and the worker that serves them with the `TripWorkflow` component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use saga_declarations::{
    BOOK_CAR, BOOK_FLIGHT, BOOK_HOTEL, Booking, CANCEL_CAR, CANCEL_FLIGHT, CANCEL_HOTEL, Step, Trip,
};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "saga-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "SAGA_EXAMPLE_WASM";

/// How long a booking service takes to answer.
const SERVICE_TIME: Duration = Duration::from_millis(200);

/// A stand-in for a booking service: a short wait, then a reference, or a refusal if
/// the trip says this step is unavailable. A refusal is non-retryable: asking again
/// will not free a seat.
async fn book(ctx: &ActivityContext, step: Step, trip: &Trip) -> Result<Booking, ActivityFailure> {
    tracing::info!(traveller = %trip.name, "booking the {step}");
    tokio::time::sleep(SERVICE_TIME).await;
    if trip.unavailable == Some(step) {
        let (error_type, message) = match step {
            Step::Car => ("CarUnavailable", format!("no cars left for {}", trip.name)),
            Step::Hotel => (
                "HotelUnavailable",
                format!("no rooms left for {}", trip.name),
            ),
            Step::Flight => (
                "FlightUnavailable",
                format!("no seats left on the flight for {}", trip.name),
            ),
        };
        tracing::warn!(traveller = %trip.name, "{message}");
        return Err(ActivityFailure::application(error_type, message).non_retryable());
    }
    // Derived from the workflow id, so a retried attempt gets the same booking.
    let reference = format!("{}-{}", step.name().to_uppercase(), ctx.info().workflow_id);
    tracing::info!(traveller = %trip.name, %reference, "booked the {step}");
    Ok(Booking { step, reference })
}

/// Cancels a booking. Idempotent, as a compensation must be: it may run more than once
/// if an attempt times out after the service already cancelled.
async fn cancel(booking: &Booking) -> Result<(), ActivityFailure> {
    tracing::info!(reference = %booking.reference, "cancelling the {}", booking.step);
    tokio::time::sleep(SERVICE_TIME).await;
    tracing::info!(reference = %booking.reference, "cancelled the {}", booking.step);
    Ok(())
}

pub async fn book_car(ctx: ActivityContext, trip: Trip) -> Result<Booking, ActivityFailure> {
    book(&ctx, Step::Car, &trip).await
}

pub async fn book_hotel(ctx: ActivityContext, trip: Trip) -> Result<Booking, ActivityFailure> {
    book(&ctx, Step::Hotel, &trip).await
}

pub async fn book_flight(ctx: ActivityContext, trip: Trip) -> Result<Booking, ActivityFailure> {
    book(&ctx, Step::Flight, &trip).await
}

pub async fn cancel_car(_ctx: ActivityContext, booking: Booking) -> Result<(), ActivityFailure> {
    cancel(&booking).await
}

pub async fn cancel_hotel(_ctx: ActivityContext, booking: Booking) -> Result<(), ActivityFailure> {
    cancel(&booking).await
}

pub async fn cancel_flight(_ctx: ActivityContext, booking: Booking) -> Result<(), ActivityFailure> {
    cancel(&booking).await
}

/// A worker on [`TASK_QUEUE`] serving the trip workflow and its six activities.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .async_activity(BOOK_CAR, book_car)
        .async_activity(BOOK_HOTEL, book_hotel)
        .async_activity(BOOK_FLIGHT, book_flight)
        .async_activity(CANCEL_CAR, cancel_car)
        .async_activity(CANCEL_HOTEL, cancel_hotel)
        .async_activity(CANCEL_FLIGHT, cancel_flight)
}

/// The workflow component: `$SAGA_EXAMPLE_WASM` if set, else built from
/// `examples/saga/workflows` for wasm32-wasip2 (a no-op when up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "saga-workflows",
    )?)
}
