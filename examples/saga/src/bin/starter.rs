//! Books two trips: Ada's, which succeeds, and Bob's, whose flight is unavailable, so
//! the workflow cancels his hotel and car. Prints one line per trip.

use saga_declarations::{Step, TRIP_FAILED, TRIP_WORKFLOW, Trip, TripFailed, list};
use saga_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let trips = [
        Trip {
            name: "Ada".to_owned(),
            unavailable: None,
        },
        Trip {
            name: "Bob".to_owned(),
            unavailable: Some(Step::Flight),
        },
    ];
    for trip in trips {
        let id = format!("trip-{}-{}", trip.name, uuid::Uuid::new_v4());
        let handle = client
            .start_workflow(TRIP_WORKFLOW, &trip, WorkflowOptions::new(id, TASK_QUEUE))
            .await?;
        match handle.result().await {
            Ok(booked) => {
                let steps: Vec<Step> = booked.bookings.iter().map(|b| b.step).collect();
                println!("Trip for {} booked: {}", booked.name, list(&steps));
            }
            Err(error) => {
                // A failed booking is an expected outcome; anything else is an error.
                let Some(failure) = error
                    .application_failure()
                    .filter(|failure| failure.error_type() == TRIP_FAILED)
                else {
                    return Err(error.into());
                };
                let failed: TripFailed = failure.details()?;
                println!(
                    "Trip for {} failed: {} ({}); compensated: {}",
                    trip.name,
                    failed.error_type,
                    failed.reason,
                    list(&failed.compensated)
                );
            }
        }
    }
    Ok(())
}
