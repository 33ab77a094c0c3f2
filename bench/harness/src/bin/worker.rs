//! The Sandglass side of the benchmark: a worker serving the greeting example's
//! component and the bench component, with the peers' command line (see
//! `bench/peers/README.md`). Prints `ready` once polling, runs until SIGTERM or Ctrl-C,
//! then prints one JSON line with the worker's time split (also on each SIGUSR1).

use std::path::PathBuf;

use anyhow::Context;
use greeting_activities::{GREET, greet};
use sandglass_bench::args::Args;
use sandglass_host::{Client, ConnectionSettings, Worker, WorkerOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_bench::init_logging();
    let mut args = Args::from_env();
    let address = args.required("--address")?;
    let task_queue = args.required("--task-queue")?;
    let max_cached: usize = args.parsed("--max-cached", 10_000)?;
    let components: Vec<PathBuf> = args
        .all("--component")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    args.finish()?;
    anyhow::ensure!(
        !components.is_empty(),
        "pass --component PATH (one or more)"
    );

    let client = Client::connect(ConnectionSettings::default().with_address(address))
        .await
        .context("connect")?;
    let options = WorkerOptions::default()
        .with_max_cached_workflows(max_cached)
        .with_activity_threads(100);
    let mut builder = Worker::builder(client, task_queue)
        .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
        .options(options);
    for component in components {
        builder = builder.workflow_module(component);
    }
    let worker = builder.build().await.context("build the worker")?;
    // SIGUSR1 prints the time split so far, so the harness can bracket one load.
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .context("install the SIGUSR1 handler")?;
    println!("ready");
    let run = worker.run_until_ctrl_c();
    tokio::pin!(run);
    loop {
        tokio::select! {
            result = &mut run => {
                result?;
                break;
            }
            Some(()) = usr1.recv() => print_stats(&worker),
        }
    }
    print_stats(&worker);
    Ok(())
}

fn print_stats(worker: &Worker) {
    let stats = worker.stats();
    println!(
        "{}",
        serde_json::json!({
            "activations": stats.activations,
            "instances_created": stats.instances_created,
            "activities_run": stats.activities_run,
            "instantiate_seconds": stats.instantiate_time.as_secs_f64(),
            "guest_seconds": stats.guest_time.as_secs_f64(),
            "conversion_seconds": stats.conversion_time.as_secs_f64(),
            "activity_seconds": stats.activity_time.as_secs_f64(),
        })
    );
}
