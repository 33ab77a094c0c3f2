//! `sandglass`: run and inspect Sandglass workflow modules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandglass_host::history::history_from_json;
use sandglass_host::{
    Client, ConnectionSettings, ReplayError, Replayer, Sandbox, SandboxLimits, Worker,
    WorkflowModule,
};

#[derive(Parser)]
#[command(
    name = "sandglass",
    version,
    about = "Temporal workflows as WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the workflow types of one or more modules on a task queue (workflows only;
    /// activities are native and live in your own worker binary).
    Worker {
        /// Task queue to poll.
        #[arg(long, short = 'q')]
        task_queue: String,
        /// Workflow component files (`.wasm`).
        #[arg(required = true)]
        modules: Vec<PathBuf>,
        /// Temporal frontend address (default: $TEMPORAL_ADDRESS or localhost:7233).
        #[arg(long)]
        address: Option<String>,
        /// Namespace (default: $TEMPORAL_NAMESPACE or default).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Replay a recorded history against modules, to prove a code change is safe.
    ///
    /// Exit code 0: replayed cleanly; 2: nondeterminism (the code makes different
    /// decisions than the ones recorded); 3: a workflow task failed during replay;
    /// 1: anything else (bad files, server unreachable).
    Replay {
        /// Workflow component files (`.wasm`).
        #[arg(required = true)]
        modules: Vec<PathBuf>,
        /// A history exported with `temporal workflow show -w <id> --output json`.
        #[arg(long, conflicts_with = "workflow_id")]
        history: Option<PathBuf>,
        /// Fetch the history of this workflow from the server instead.
        #[arg(long, short = 'w')]
        workflow_id: Option<String>,
        /// The run to fetch (default: the latest).
        #[arg(long, requires = "workflow_id")]
        run_id: Option<String>,
        /// Temporal frontend address (default: $TEMPORAL_ADDRESS or localhost:7233).
        #[arg(long)]
        address: Option<String>,
        /// Namespace (default: $TEMPORAL_NAMESPACE or default).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Print a module's digest, WIT world and workflow types.
    Inspect {
        /// Workflow component file (`.wasm`).
        module: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A worker narrates what it serves; one-shot commands print only their answer.
    let default_filter = match cli.command {
        Command::Worker { .. } => "info",
        Command::Replay { .. } | Command::Inspect { .. } => "error",
    };
    sandglass_host::logging::init(default_filter);
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn connection_settings(address: Option<String>, namespace: Option<String>) -> ConnectionSettings {
    let mut settings = ConnectionSettings::from_env();
    if let Some(address) = address {
        settings = settings.with_address(address);
    }
    if let Some(namespace) = namespace {
        settings = settings.with_namespace(namespace);
    }
    settings
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Worker {
            task_queue,
            modules,
            address,
            namespace,
        } => {
            let client = Client::connect(connection_settings(address, namespace)).await?;
            let mut builder = Worker::builder(client, task_queue);
            for module in modules {
                builder = builder.workflow_module(module);
            }
            let worker = builder.build().await?;
            tracing::info!(task_queue = worker.task_queue(), workflow_types = ?worker.workflow_types(), "worker started; Ctrl-C to stop");
            worker.run_until_ctrl_c().await?;
        }
        Command::Inspect { module } => {
            let sandbox = Sandbox::new(SandboxLimits::default())?;
            let module = WorkflowModule::from_file(&sandbox, &module)?;
            println!("module:         {}", module.origin());
            println!("digest:         {}", module.digest());
            println!(
                "wit world:      {}/workflows",
                sandglass_host::sandbox::bindings::WIT_PACKAGE
            );
            println!("workflow types: {}", module.workflow_types().join(", "));
        }
        Command::Replay {
            modules,
            history,
            workflow_id,
            run_id,
            address,
            namespace,
        } => {
            return replay(modules, history, workflow_id, run_id, address, namespace).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay(
    modules: Vec<PathBuf>,
    history_file: Option<PathBuf>,
    workflow_id: Option<String>,
    run_id: Option<String>,
    address: Option<String>,
    namespace: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (history, workflow_id) = match (history_file, workflow_id) {
        (Some(path), workflow_id) => {
            let json = std::fs::read(&path)
                .with_context(|| format!("reading history file {}", path.display()))?;
            let history = history_from_json(&json)
                .with_context(|| format!("reading history file {}", path.display()))?;
            let id = workflow_id
                .or_else(|| sandglass_host::history::workflow_id(&history).map(str::to_owned))
                .unwrap_or_else(|| "replay".to_owned());
            (history, id)
        }
        (None, Some(workflow_id)) => {
            let client = Client::connect(connection_settings(address, namespace)).await?;
            let history = client
                .workflow_handle::<()>(&workflow_id, run_id)
                .fetch_history()
                .await
                .with_context(|| format!("fetching the history of {workflow_id}"))?;
            (history, workflow_id)
        }
        (None, None) => anyhow::bail!("give a history file (--history) or a workflow id (-w)"),
    };
    let sandbox = Sandbox::new(SandboxLimits::default())?;
    let modules = modules
        .iter()
        .map(|path| WorkflowModule::from_file(&sandbox, path))
        .collect::<Result<Vec<_>, _>>()?;
    let events = history.events.len();
    match Replayer::new(sandbox, modules)
        .replay(history, &workflow_id)
        .await
    {
        Ok(()) => {
            println!("ok: {workflow_id} replayed cleanly ({events} events)");
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ ReplayError::Nondeterminism { .. }) => {
            println!("nondeterministic: {workflow_id}: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error @ ReplayError::WorkflowTaskFailed { .. }) => {
            println!("failed: {workflow_id}: {error}");
            Ok(ExitCode::from(3))
        }
        Err(error) => Err(error.into()),
    }
}
