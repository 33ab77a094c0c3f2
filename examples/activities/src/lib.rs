//! The activities example's native half: its activities, and the worker that serves
//! them with the `ReportWorkflow` component.

use std::path::{Path, PathBuf};
use std::time::Duration;

use activities_example_declarations::{CHECKSUM, FETCH_CHUNKS, FetchReport, UPLOAD};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "activities-example";

/// Set this to a prebuilt component to skip building the workflow crate.
pub const WASM_ENV: &str = "ACTIVITIES_EXAMPLE_WASM";

/// How long fetching one chunk takes.
const CHUNK_TIME: Duration = Duration::from_millis(200);

/// Fetches `chunks` chunks, heartbeating the index of each one done. A retry starts
/// after the last heartbeated chunk. The first attempt fails halfway through, as a
/// flaky network would, to show the retry resuming.
pub fn fetch_chunks(ctx: &ActivityContext, chunks: u32) -> Result<FetchReport, ActivityFailure> {
    if chunks == 0 {
        return Err(
            ActivityFailure::application("ReportNotFound", "an empty report").non_retryable(),
        );
    }
    let resumed_at = match ctx.last_heartbeat_details::<u32>() {
        Some(Ok(done)) => done,
        Some(Err(error)) => return Err(error.into()),
        None => 0,
    };
    let attempt = ctx.info().attempt;
    for chunk in resumed_at..chunks {
        if ctx.is_cancelled() {
            return Err(ActivityFailure::cancelled());
        }
        if attempt == 1 && chunk == chunks / 2 {
            return Err(ActivityFailure::application(
                "ConnectionReset",
                format!("connection reset while fetching chunk {chunk}"),
            ));
        }
        std::thread::sleep(CHUNK_TIME);
        ctx.heartbeat(&(chunk + 1));
    }
    Ok(FetchReport {
        chunks,
        resumed_at,
        attempt,
    })
}

/// A stand-in checksum of the fetched chunks.
pub fn checksum(chunks: u32) -> String {
    let sum = (1..=u64::from(chunks)).fold(17u64, |acc, n| acc.wrapping_mul(31).wrapping_add(n));
    format!("{sum:016x}")
}

/// Uploads for ten seconds, heartbeating, unless cancelled first.
pub async fn upload(ctx: ActivityContext, checksum: String) -> Result<String, ActivityFailure> {
    let work = async {
        for second in 0..10u32 {
            ctx.heartbeat(&second);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = work => Ok(format!("uploaded report {checksum}")),
        () = ctx.cancelled() => {
            tracing::info!("upload cancelled; cleaning up the partial upload");
            Err(ActivityFailure::cancelled())
        }
    }
}

/// A worker on [`TASK_QUEUE`] serving `ReportWorkflow` and its three activities.
pub fn worker_builder(client: Client, component: PathBuf) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_module(component)
        .sync_activity(FETCH_CHUNKS, fetch_chunks)
        .sync_activity(CHECKSUM, |_ctx, chunks: u32| Ok(checksum(chunks)))
        .async_activity(UPLOAD, upload)
}

/// The workflow component: `$ACTIVITIES_EXAMPLE_WASM` if set, else built from
/// `examples/activities/workflows` for wasm32-wasip2 (a no-op when it is up to date).
pub fn workflow_component() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Ok(sandglass_host::guest_build::component_or_build(
        WASM_ENV,
        dir,
        "activities-example-workflows",
    )?)
}
