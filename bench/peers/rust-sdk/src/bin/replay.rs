//! `rust-sdk-replay`: replays one recorded `ChainWorkflow` history K times with the official
//! Rust SDK's `WorkflowReplayer` and prints how many events per second it replayed.
//!
//! Only the replays are timed: not process start, file reading or decoding. Each replay is one
//! `replay_workflow` call, which builds a fresh replay worker, as a user checking a history
//! would. Exits 1 if any replay fails (nondeterminism included).

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::{Context, bail};
use prost::Message;
use rust_sdk_bench::{
    args::{Args, ArgsError},
    init_logging,
    workflows::ChainWorkflow,
};
use temporalio_client::WorkflowHistory;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

const USAGE: &str = "usage: rust-sdk-replay --history PATH --workflow-id ID [--repeat K]

  --history      binary protobuf temporal.api.history.v1.History (not JSON; convert the
                 CLI's JSON with bench/peers/python/history_to_binary.py)
  --workflow-id  the workflow id the history was recorded under
  --repeat       how many times to replay it (default 1)";

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
            eprintln!("rust-sdk-replay: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rust-sdk-replay: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for.
struct ReplayArgs {
    history: PathBuf,
    workflow_id: String,
    repeat: u32,
}

fn parse_args() -> Result<ReplayArgs, ArgsError> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["history", "workflow-id", "repeat"],
    )?;
    let repeat = args.parsed_or("repeat", 1u32, "a positive integer")?;
    if repeat == 0 {
        return Err(ArgsError::Invalid {
            flag: "repeat",
            value: "0".to_owned(),
            expected: "a positive integer",
        });
    }
    Ok(ReplayArgs {
        history: PathBuf::from(args.required("history")?),
        workflow_id: args.required("workflow-id")?.to_owned(),
        repeat,
    })
}

async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let history = read_history(&args)?;
    let events_per_history = history.events.len();

    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<ChainWorkflow>()?
            .build(),
    )?;
    // Built before the clock starts: copying thousands of events is not replay work.
    let histories: Vec<WorkflowHistory> = (0..args.repeat)
        .map(|_| WorkflowHistory::from(history.clone()))
        .collect();

    let start = Instant::now();
    for (round, history) in histories.into_iter().enumerate() {
        replayer
            .replay_workflow(history)
            .await
            .with_context(|| format!("replay {} of {} failed", round + 1, args.repeat))?;
    }
    let seconds = start.elapsed().as_secs_f64();

    let events = events_per_history as u64 * u64::from(args.repeat);
    println!(
        "{{\"events\": {events}, \"seconds\": {seconds:.6}, \"events_per_second\": {:.1}}}",
        events as f64 / seconds
    );
    Ok(())
}

/// Reads and decodes the history file, and records `--workflow-id` in its started event.
///
/// The SDK's `WorkflowHistory` takes the workflow id only from the started event's
/// `workflow_id` attribute (there is no constructor taking one), so that is where the id goes.
fn read_history(args: &ReplayArgs) -> anyhow::Result<History> {
    let bytes = std::fs::read(&args.history)
        .with_context(|| format!("reading the history file {}", args.history.display()))?;
    let mut history = History::decode(bytes.as_slice()).with_context(|| {
        format!(
            "{} is not a binary temporal.api.history.v1.History; if it is JSON from \
             `temporal workflow show --output json`, convert it with \
             bench/peers/python/history_to_binary.py",
            args.history.display()
        )
    })?;
    let Some(first) = history.events.first_mut() else {
        bail!("{} holds no events", args.history.display());
    };
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) =
        first.attributes.as_mut()
    else {
        bail!(
            "{} does not start with WorkflowExecutionStarted; is it a whole history?",
            args.history.display()
        );
    };
    started.workflow_id = args.workflow_id.clone();
    Ok(history)
}
