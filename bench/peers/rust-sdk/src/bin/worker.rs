//! `rust-sdk-worker`: a Temporal worker on the official Rust SDK serving the benchmark
//! contract's workflows and `greet` activity.
//!
//! Prints `ready` on stdout once the worker is built and its run loop starts, runs until
//! SIGTERM or SIGINT, then shuts down gracefully (in-flight tasks finish) and exits 0.

use std::{io::Write, process::ExitCode};

use anyhow::{Context, anyhow};
use rust_sdk_bench::{
    activities::Greeter,
    args::{Args, ArgsError},
    init_logging,
    workflows::{ChainWorkflow, GreetingWorkflow, ParkedWorkflow},
};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: rust-sdk-worker --address HOST:PORT --task-queue QUEUE [--max-cached N]

  --address      Temporal frontend, e.g. 127.0.0.1:7233 (http:// is implied)
  --task-queue   task queue to poll, in namespace `default`
  --max-cached   sticky workflow cache size (default 10000)";

/// The contract's default cache size: large enough that no benchmark run is evicted.
const DEFAULT_MAX_CACHED: usize = 10_000;

/// Concurrent task slots of each kind. 100 is also the SDK's default; spelled out because the
/// contract fixes concurrent activities at 100 for every peer.
const SLOTS: usize = 100;

const NAMESPACE: &str = "default";

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = match parse_args() {
        Ok(args) => args,
        Err(ArgsError::HelpRequested) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("rust-sdk-worker: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rust-sdk-worker: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for.
struct WorkerArgs {
    target: Url,
    task_queue: String,
    max_cached: usize,
}

fn parse_args() -> Result<WorkerArgs, ArgsError> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["address", "task-queue", "max-cached"],
    )?;
    let address = args.required("address")?;
    let with_scheme = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let target = Url::parse(&with_scheme).map_err(|_| ArgsError::Invalid {
        flag: "address",
        value: address.to_owned(),
        expected: "HOST:PORT, e.g. 127.0.0.1:7233",
    })?;
    Ok(WorkerArgs {
        target,
        task_queue: args.required("task-queue")?.to_owned(),
        max_cached: args.parsed_or(
            "max-cached",
            DEFAULT_MAX_CACHED,
            "a non-negative integer (0 turns the sticky cache off)",
        )?,
    })
}

async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    // Signal streams exist before `ready`, so a signal sent right after it is not lost.
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    let runtime = Runtime::from_current_tokio(Default::default())
        .context("creating the Temporal SDK runtime")?;
    let connection = Connection::connect(ConnectionOptions::new(args.target.clone()).build())
        .await
        .with_context(|| {
            format!(
                "connecting to the Temporal server at {}; is it running?",
                args.target
            )
        })?;
    let client = Client::new(connection, ClientOptions::new(NAMESPACE).build())
        .context("creating the Temporal client")?;

    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(SLOTS))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(SLOTS))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(SLOTS))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(SLOTS))
        .build();
    let options = WorkerOptions::new(args.task_queue.clone())
        .max_cached_workflows(args.max_cached)
        .tuner(tuner)
        .register_activities(Greeter)
        .register_workflow::<GreetingWorkflow>()?
        .register_workflow::<ParkedWorkflow>()?
        .register_workflow::<ChainWorkflow>()?
        .build();
    let mut worker =
        Worker::new(&runtime, client, options).context("creating the Temporal worker")?;
    let shutdown = worker.shutdown_handle();

    // `run` is !Send (workflows live in a LocalSet), so it is driven here, not spawned.
    let run = worker.run();
    tokio::pin!(run);
    announce_ready()?;

    tokio::select! {
        result = &mut run => {
            result.context("the worker stopped")?;
            return Err(anyhow!("the worker stopped before it was asked to"));
        }
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
    }
    shutdown();
    run.await.context("shutting the worker down")?;
    Ok(())
}

/// The harness waits for this line before it starts a load.
fn announce_ready() -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready").context("writing `ready` to stdout")?;
    stdout.flush().context("flushing stdout")
}
