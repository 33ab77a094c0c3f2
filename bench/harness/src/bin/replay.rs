//! Replays a binary `History` against the bench component in process, with the peers'
//! command line, and prints `{"events", "seconds", "events_per_second"}`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use prost::Message;
use sandglass_bench::args::Args;
use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{History, Replayer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_bench::init_logging();
    let mut args = Args::from_env();
    let history_path = PathBuf::from(args.required("--history")?);
    let workflow_id = args.required("--workflow-id")?;
    let repeat: u32 = args.parsed("--repeat", 1)?;
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

    let bytes =
        std::fs::read(&history_path).with_context(|| format!("read {}", history_path.display()))?;
    let history = History::decode(bytes.as_slice())
        .with_context(|| format!("{} is not a binary History", history_path.display()))?;
    let sandbox = Sandbox::new(Default::default())?;
    let modules = components
        .iter()
        .map(|path| WorkflowModule::from_file(&sandbox, path))
        .collect::<Result<Vec<_>, _>>()?;
    let replayer = Replayer::new(sandbox, modules);

    let events = history.events.len() as u64 * u64::from(repeat);
    let started = Instant::now();
    for _ in 0..repeat {
        replayer
            .replay(history.clone(), workflow_id.clone())
            .await
            .context("replay")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "events": events,
            "seconds": seconds,
            "events_per_second": events as f64 / seconds,
        })
    );
    Ok(())
}
