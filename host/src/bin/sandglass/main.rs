//! `sandglass`: run and inspect Sandglass workflow modules.

mod dev;
mod dev_server;
mod new;
mod server_args;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandglass_host::history::history_from_json;
use sandglass_host::reload::{ReloadOptions, VersioningPolicy};
use sandglass_host::sandbox::{CodeCache, ModuleError, escape_controls};
use sandglass_host::sandbox::{Sandbox, SandboxLimits, WorkflowModule};
use sandglass_host::{Client, ReplayError, Replayer, Worker};
pub(crate) use server_args::ServerArgs;

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
    /// Serve the workflow types of modules on a task queue (workflows only; activities
    /// are native and live in your own worker binary).
    ///
    /// With --dir, serve every `.wasm` file in a directory and reload it while running:
    /// a change is noticed within the scan interval, or at once on SIGHUP
    /// (`kill -HUP <pid>`).
    Worker {
        /// Task queue to poll.
        #[arg(long, short = 'q')]
        task_queue: String,
        /// Workflow component files (`.wasm`), served as they are.
        #[arg(required_unless_present = "dir", conflicts_with = "dir")]
        modules: Vec<PathBuf>,
        /// A directory of workflow components to serve and hot-reload.
        #[arg(long)]
        dir: Option<PathBuf>,
        #[command(flatten)]
        reload: ReloadArgs,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Develop a workflow crate: start a local dev server if none answers, build the
    /// crate, serve it, and rebuild and reload it each time its sources change.
    ///
    /// Like `worker`, it serves workflows only. Activities scheduled on the same task
    /// queue go to the version's workers, so run them on another task queue, or build
    /// your own worker with `Worker::builder(..).workflow_dir(..)` and your activities.
    Dev(dev::DevArgs),
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
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Run a local Temporal dev server (headless, in memory) until Ctrl-C, unless one
    /// already answers on the port. Needs the `temporal` CLI on PATH.
    DevServer {
        /// Loopback port to serve on.
        #[arg(long, default_value_t = dev_server::DEFAULT_PORT)]
        port: u16,
    },
    /// Create a new app (workflows, activities, a worker and a starter) in a new
    /// directory, depending on this Sandglass checkout or a git repository.
    New(new::NewArgs),
    /// Print a module's digest, WIT package, workflow types and imports.
    Inspect {
        /// Workflow component file (`.wasm`).
        module: PathBuf,
    },
}

/// How a hot-reloading worker versions what it serves.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct ReloadArgs {
    /// What running executions do when a new version takes over: `pinned` (finish on
    /// their version) or `auto-upgrade` (move once the new version replays them).
    #[arg(long, default_value = "pinned")]
    policy: VersioningPolicy,
    /// A policy for one workflow type, as `Type=pinned` or `Type=auto-upgrade`;
    /// repeatable.
    #[arg(long = "policy-for", value_parser = parse_type_policy)]
    policy_for: Vec<(String, VersioningPolicy)>,
    /// Worker deployment name (default: the task queue).
    #[arg(long)]
    deployment: Option<String>,
    /// How often to scan the directory, in milliseconds; 0 scans only on SIGHUP.
    #[arg(long, default_value_t = 1000)]
    scan_interval_ms: u64,
    /// Most open executions per auto-upgrade type replayed before a version takes over.
    #[arg(long, default_value_t = 100)]
    replay_check_limit: usize,
}

impl ReloadArgs {
    /// Whether any flag differs from its default (they mean nothing without `--dir`).
    fn is_default(&self) -> bool {
        self.policy == VersioningPolicy::Pinned
            && self.policy_for.is_empty()
            && self.deployment.is_none()
            && self.scan_interval_ms == 1000
            && self.replay_check_limit == 100
    }

    pub(crate) fn options(&self) -> ReloadOptions {
        let options = ReloadOptions::default()
            .with_policy(self.policy)
            .with_policies(self.policy_for.clone())
            .with_scan_interval(
                (self.scan_interval_ms > 0).then(|| Duration::from_millis(self.scan_interval_ms)),
            )
            .with_replay_check_limit(self.replay_check_limit);
        match &self.deployment {
            Some(deployment) => options.with_deployment_name(deployment.clone()),
            None => options,
        }
    }
}

fn parse_type_policy(text: &str) -> Result<(String, VersioningPolicy), String> {
    let (workflow_type, policy) = text
        .split_once('=')
        .ok_or_else(|| format!("expected Type=policy, got {text:?}"))?;
    Ok((workflow_type.to_owned(), policy.parse()?))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A worker narrates what it serves; one-shot commands print only their answer.
    let default_filter = match cli.command {
        Command::Worker { .. } | Command::Dev(_) | Command::DevServer { .. } => "info",
        Command::Replay { .. } | Command::Inspect { .. } | Command::New(_) => "error",
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Worker {
            task_queue,
            modules,
            dir,
            reload,
            server,
        } => {
            anyhow::ensure!(
                dir.is_some() || reload.is_default(),
                "--policy, --policy-for, --deployment, --scan-interval-ms and \
                 --replay-check-limit apply to a workflow directory; add --dir"
            );
            let client = Client::connect(server.settings()?).await?;
            let mut builder = Worker::builder(client, task_queue);
            for module in modules {
                builder = builder.workflow_module(module);
            }
            let pid = std::process::id();
            let worker = match dir {
                Some(dir) => {
                    let worker = builder
                        .workflow_dir(&dir)
                        .reload_options(reload.options())
                        .build()
                        .await?;
                    tracing::info!(task_queue = worker.task_queue(), dir = %dir.display(), pid, "worker started; `kill -HUP {pid}` reloads, Ctrl-C stops");
                    worker
                }
                None => {
                    let worker = builder.build().await?;
                    tracing::info!(task_queue = worker.task_queue(), workflow_types = ?worker.workflow_types(), pid, "worker started; Ctrl-C to stop");
                    worker
                }
            };
            worker.run_until_ctrl_c().await?;
        }
        Command::Dev(args) => dev::run(args).await?,
        Command::DevServer { port } => dev_server::run(port).await?,
        Command::New(args) => new::run(args)?,
        Command::Inspect { module } => {
            let sandbox =
                Sandbox::with_code_cache(SandboxLimits::default(), CodeCache::default_location())?;
            let module = match WorkflowModule::from_file(&sandbox, &module) {
                Ok(module) => module,
                Err(error @ ModuleError::WitVersion { .. }) => {
                    let bytes = std::fs::read(&module)?;
                    println!("module:         {}", module.display());
                    println!(
                        "digest:         {}",
                        sandglass_host::sandbox::digest_of(&bytes)
                    );
                    if let ModuleError::WitVersion { found, .. } = &error {
                        println!("wit package:    {found} (not served by this worker)");
                    }
                    return Err(error.into());
                }
                Err(error) => return Err(error.into()),
            };
            println!("module:         {}", module.origin());
            println!("digest:         {}", module.digest());
            println!("wit package:    {}", module.wit_package());
            println!("workflow types:");
            // The names are the module's own: printed escaped, one per line.
            for workflow in module.descriptions() {
                println!("  {}", escape_controls(&workflow.name));
                let dynamic = |on: bool| if on { " (+ dynamic)" } else { "" };
                for (kind, names, is_dynamic) in [
                    ("signals", &workflow.signals, workflow.dynamic_signals),
                    ("queries", &workflow.queries, workflow.dynamic_queries),
                    ("updates", &workflow.updates, workflow.dynamic_updates),
                ] {
                    if !names.is_empty() || is_dynamic {
                        let names: Vec<_> = names.iter().map(|n| escape_controls(n)).collect();
                        println!("    {kind}: {}{}", names.join(", "), dynamic(is_dynamic));
                    }
                }
            }
            println!("imports:");
            for import in module.imports() {
                println!("  {import}");
            }
        }
        Command::Replay {
            modules,
            history,
            workflow_id,
            run_id,
            server,
        } => {
            return replay(modules, history, workflow_id, run_id, server).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay(
    modules: Vec<PathBuf>,
    history_file: Option<PathBuf>,
    workflow_id: Option<String>,
    run_id: Option<String>,
    server: ServerArgs,
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
            let client = Client::connect(server.settings()?).await?;
            let history = client
                .workflow_handle::<()>(&workflow_id, run_id)
                .fetch_history()
                .await
                .with_context(|| format!("fetching the history of {workflow_id}"))?;
            (history, workflow_id)
        }
        (None, None) => anyhow::bail!("give a history file (--history) or a workflow id (-w)"),
    };
    let sandbox =
        Sandbox::with_code_cache(SandboxLimits::default(), CodeCache::default_location())?;
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
