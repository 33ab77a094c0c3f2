//! What the saga example's workflow, worker and starter agree on: the trip workflow, the
//! booking activities and their compensations, with their types.

use std::fmt;

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// One booking of a trip; the workflow books them in [`Step::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Car,
    Hotel,
    Flight,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::Car, Step::Hotel, Step::Flight];

    /// The activity that books this step.
    pub const fn book(self) -> ActivityDefinition<Trip, Booking> {
        match self {
            Step::Car => BOOK_CAR,
            Step::Hotel => BOOK_HOTEL,
            Step::Flight => BOOK_FLIGHT,
        }
    }

    /// The activity that undoes [`book`](Self::book): its compensation.
    pub const fn cancel(self) -> ActivityDefinition<Booking, ()> {
        match self {
            Step::Car => CANCEL_CAR,
            Step::Hotel => CANCEL_HOTEL,
            Step::Flight => CANCEL_FLIGHT,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Step::Car => "car",
            Step::Hotel => "hotel",
            Step::Flight => "flight",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `car, hotel, flight`: how the starter and the workflow's messages list steps.
pub fn list(steps: &[Step]) -> String {
    let names: Vec<&str> = steps.iter().map(|step| step.name()).collect();
    names.join(", ")
}

/// A trip to book.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trip {
    /// The traveller.
    pub name: String,
    /// A step whose booking service will turn the trip down, to see the compensations
    /// run; `None` books everything.
    pub unavailable: Option<Step>,
}

/// A confirmed booking: what its compensation needs to cancel it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub step: Step,
    /// The booking service's reference.
    pub reference: String,
}

/// The result of a trip booked in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripBooked {
    pub name: String,
    pub bookings: Vec<Booking>,
}

/// The error type the trip workflow fails with when a booking fails.
pub const TRIP_FAILED: &str = "TripBookingFailed";

/// The detail of a [`TRIP_FAILED`] failure: what failed, and what was undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripFailed {
    /// The step whose booking failed.
    pub failed: Step,
    /// The error type the booking activity raised (`FlightUnavailable`), or
    /// `ActivityFailed` for a timeout or a failure without one.
    pub error_type: String,
    /// The booking activity's message.
    pub reason: String,
    /// The steps cancelled, in the order they were (the reverse of booking).
    pub compensated: Vec<Step>,
    /// Steps whose cancellation itself failed; they need a human.
    pub not_compensated: Vec<Step>,
}

/// Books a car, a hotel and a flight; if one fails, cancels the ones already booked.
pub const TRIP_WORKFLOW: WorkflowDefinition<Trip, TripBooked> =
    WorkflowDefinition::new("TripWorkflow");

pub const BOOK_CAR: ActivityDefinition<Trip, Booking> = ActivityDefinition::new("book_car");
pub const BOOK_HOTEL: ActivityDefinition<Trip, Booking> = ActivityDefinition::new("book_hotel");
pub const BOOK_FLIGHT: ActivityDefinition<Trip, Booking> = ActivityDefinition::new("book_flight");

pub const CANCEL_CAR: ActivityDefinition<Booking, ()> = ActivityDefinition::new("cancel_car");
pub const CANCEL_HOTEL: ActivityDefinition<Booking, ()> = ActivityDefinition::new("cancel_hotel");
pub const CANCEL_FLIGHT: ActivityDefinition<Booking, ()> = ActivityDefinition::new("cancel_flight");
