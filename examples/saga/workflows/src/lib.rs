//! `TripWorkflow`: books a car, a hotel and a flight; if one booking fails (or the trip
//! is cancelled), cancels the bookings already made, newest first. The saga pattern:
//! no distributed transaction, but a compensation recorded for every step that
//! succeeded, run in reverse when a later step fails.

use std::rc::Rc;
use std::time::Duration;

use saga_declarations::{Booking, Step, TRIP_FAILED, TRIP_WORKFLOW, Trip, TripBooked, TripFailed};
use sandglass::prelude::*;
use sandglass::{ActivityError, RetryPolicy};

#[derive(Default)]
pub struct TripWorkflow;

impl Workflow for TripWorkflow {
    type Input = Trip;
    type Output = TripBooked;
    const DEFINITION: WorkflowDefinition<Trip, TripBooked> = TRIP_WORKFLOW;

    async fn run(self: Rc<Self>, ctx: WorkflowContext, trip: Trip) -> WorkflowResult<TripBooked> {
        // The compensations, as the bookings they undo: one per step that succeeded.
        let mut booked: Vec<Booking> = Vec::new();
        for step in Step::ALL {
            let booking = ctx
                .execute_activity(step.book(), trip.clone(), booking_options())
                .await;
            match booking {
                Ok(booking) => {
                    sandglass::info!("booked the {step} for {}: {}", trip.name, booking.reference);
                    booked.push(booking);
                }
                Err(error) => {
                    sandglass::warn!("booking the {step} for {} failed: {error}", trip.name);
                    // Shielded from the workflow's cancellation, so a cancelled trip is
                    // still cleaned up.
                    let undone = ctx
                        .non_cancellable(|| compensate(ctx.clone(), booked))
                        .await;
                    return Err(trip_failed(&ctx, &trip, step, &error, undone));
                }
            }
        }
        Ok(TripBooked {
            name: trip.name,
            bookings: booked,
        })
    }
}

/// A few quick retries for transient errors; a refusal is non-retryable and ends the
/// booking at once.
fn booking_options() -> ActivityOptions {
    ActivityOptions {
        retry_policy: Some(RetryPolicy {
            initial_interval: Some(Duration::from_millis(500)),
            maximum_attempts: 3,
            ..RetryPolicy::default()
        }),
        ..ActivityOptions::start_to_close(Duration::from_secs(10))
    }
}

/// Compensations retry for longer than bookings: giving up leaves a booking nobody
/// pays for.
fn compensation_options() -> ActivityOptions {
    ActivityOptions {
        schedule_to_close_timeout: Some(Duration::from_secs(120)),
        retry_policy: Some(RetryPolicy {
            initial_interval: Some(Duration::from_secs(1)),
            maximum_interval: Some(Duration::from_secs(10)),
            ..RetryPolicy::default()
        }),
        ..ActivityOptions::start_to_close(Duration::from_secs(10))
    }
}

/// What the compensations did.
#[derive(Default)]
struct Undone {
    compensated: Vec<Step>,
    not_compensated: Vec<Step>,
}

/// Cancels `booked` newest first, one at a time. A cancellation that fails for good is
/// reported, not fatal: the others still run.
async fn compensate(ctx: WorkflowContext, booked: Vec<Booking>) -> Undone {
    let mut undone = Undone::default();
    for booking in booked.into_iter().rev() {
        let step = booking.step;
        let cancelled = ctx
            .execute_activity(step.cancel(), booking, compensation_options())
            .await;
        match cancelled {
            Ok(()) => {
                sandglass::info!("compensated: cancelled the {step}");
                undone.compensated.push(step);
            }
            Err(error) => {
                sandglass::error!("could not cancel the {step}: {error}");
                undone.not_compensated.push(step);
            }
        }
    }
    undone
}

/// The error that ends the run: cancelled if a client cancelled the trip, otherwise a
/// non-retryable `TripBookingFailed` naming what failed and what was undone, with a
/// [`TripFailed`] detail for clients to decode.
fn trip_failed(
    ctx: &WorkflowContext,
    trip: &Trip,
    step: Step,
    error: &ActivityError,
    undone: Undone,
) -> WorkflowError {
    let mut message = format!(
        "could not book the {step} for {}: {}; compensated: {}",
        trip.name,
        error.message(),
        saga_declarations::list(&undone.compensated)
    );
    if !undone.not_compensated.is_empty() {
        message.push_str("; could not cancel: ");
        message.push_str(&saga_declarations::list(&undone.not_compensated));
    }
    if ctx.is_cancel_requested() {
        return WorkflowError::cancelled(message);
    }
    let detail = TripFailed {
        failed: step,
        error_type: error
            .application_error_type()
            .unwrap_or("ActivityFailed")
            .to_owned(),
        reason: error.message().to_owned(),
        compensated: undone.compensated,
        not_compensated: undone.not_compensated,
    };
    WorkflowError::application(TRIP_FAILED, message)
        .non_retryable()
        .with_detail(&detail)
        .with_cause(error.clone())
}

sandglass::export_workflows!(TripWorkflow);
