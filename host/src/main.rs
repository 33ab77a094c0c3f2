//! `sandglass`: run and inspect Sandglass workflow modules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sandglass_host::{Client, ConnectionSettings, Sandbox, SandboxLimits, Worker, WorkflowModule};

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
    /// Print a module's digest, WIT world and workflow types.
    Inspect {
        /// Workflow component file (`.wasm`).
        module: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Worker {
            task_queue,
            modules,
            address,
            namespace,
        } => {
            let mut settings = ConnectionSettings::from_env();
            if let Some(address) = address {
                settings = settings.with_address(address);
            }
            if let Some(namespace) = namespace {
                settings = settings.with_namespace(namespace);
            }
            let client = Client::connect(settings).await?;
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
    }
    Ok(())
}
