//! `sandglass dev`: the edit-save-run loop for a workflow crate.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use sandglass_host::guest_build::{build_workflow_crate, install_component};
use sandglass_host::testing::DevServer;
use sandglass_host::{Client, ClientError, ConnectionSettings, Worker};

use super::dev_server;
use super::{ReloadArgs, ServerArgs};

/// How often the crate's sources are checked for changes.
const SOURCE_POLL: Duration = Duration::from_millis(500);

#[derive(clap::Args)]
pub(crate) struct DevArgs {
    /// The workflow crate's package name.
    #[arg(long, short = 'p')]
    package: String,
    /// The workflow crate's directory (default: the current one).
    #[arg(long, default_value = ".")]
    crate_dir: PathBuf,
    /// Task queue to poll.
    #[arg(long, short = 'q')]
    task_queue: String,
    #[command(flatten)]
    reload: ReloadArgs,
    /// Where the server is; a dev server is started there if nothing answers.
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<()> {
    let (client, _server) = connect_or_start(args.server.settings()?).await?;

    let served = std::env::temp_dir().join(format!(
        "sandglass-dev-{}-{}",
        sanitize(&args.task_queue),
        std::process::id()
    ));
    std::fs::create_dir_all(&served)
        .with_context(|| format!("creating the served directory {}", served.display()))?;
    let target = served.join(format!("{}.wasm", sanitize(&args.package)));
    build_into(&args.crate_dir, &args.package, &target)
        .await
        .context("the first build failed; fix it and run `sandglass dev` again")?;

    // Reloads follow rebuilds, not a directory scan. Every save makes a version, so
    // keep none of them for restarts: a dev session starts from the crate's sources.
    let options = args
        .reload
        .options()
        .with_scan_interval(None)
        .with_module_store(None);
    let worker = Worker::builder(client, args.task_queue.clone())
        .workflow_dir(&served)
        .reload_options(options)
        .build()
        .await?;
    let reload = worker
        .reload_handle()
        .context("a worker with a workflow directory always has a reload handle")?;
    let watch = tokio::spawn({
        let crate_dir = args.crate_dir.clone();
        let package = args.package.clone();
        async move {
            let mut last = newest_source(crate_dir.clone()).await;
            loop {
                tokio::time::sleep(SOURCE_POLL).await;
                let newest = newest_source(crate_dir.clone()).await;
                if newest == last {
                    continue;
                }
                last = newest;
                tracing::info!(package, "sources changed; rebuilding");
                if let Err(error) = build_into(&crate_dir, &package, &target).await {
                    tracing::error!("{error:#}; the running version keeps serving");
                    continue;
                }
                match reload.reload().await {
                    Ok(outcome) if outcome.activated => {
                        tracing::info!(build_id = outcome.current, "reloaded")
                    }
                    Ok(outcome) if outcome.problems.is_empty() => {
                        tracing::info!("the build produced the same module; nothing to reload")
                    }
                    Ok(_) => {} // the worker has logged each problem
                    Err(error) => tracing::error!(%error, "reload failed"),
                }
            }
        }
    });
    tracing::info!(
        task_queue = args.task_queue,
        served = %served.display(),
        "dev worker running; edit the crate to reload, Ctrl-C to stop"
    );
    let result = worker.run_until_ctrl_c().await;
    watch.abort();
    let _ = std::fs::remove_dir_all(&served);
    Ok(result?)
}

/// Builds the crate (cargo's output goes to the terminal) and puts the component at
/// `target` by rename, so the worker never reads a half-copied file.
async fn build_into(crate_dir: &Path, package: &str, target: &Path) -> anyhow::Result<()> {
    let (crate_dir, package) = (crate_dir.to_owned(), package.to_owned());
    let built = tokio::task::spawn_blocking(move || build_workflow_crate(&crate_dir, &package))
        .await
        .context("the build task stopped")??;
    install_component(&built, target)
        .with_context(|| format!("copying {} to {}", built.display(), target.display()))
}

/// The latest modification time among the crate's sources and manifest, read off the
/// async threads.
async fn newest_source(crate_dir: PathBuf) -> Option<SystemTime> {
    tokio::task::spawn_blocking(move || walk_sources(&crate_dir))
        .await
        .ok()
        .flatten()
}

fn walk_sources(crate_dir: &Path) -> Option<SystemTime> {
    let mut newest = modified(&crate_dir.join("Cargo.toml"));
    let mut pending = vec![crate_dir.join("src")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                newest = newest.max(modified(&path));
            }
        }
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Connects to the configured server, or starts a dev server on that address when
/// nothing answers there and it is a loopback address.
async fn connect_or_start(
    settings: ConnectionSettings,
) -> anyhow::Result<(Client, Option<DevServer>)> {
    // Only a server that does not answer is a reason to start one; bad settings, TLS and
    // credentials are the user's to fix.
    match Client::connect(settings.clone()).await {
        Ok(client) => return Ok((client, None)),
        Err(ClientError::Unreachable { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    let address = settings.address.clone();
    let bare = address.rsplit("://").next().unwrap_or(&address);
    let (host, port) = bare
        .rsplit_once(':')
        .with_context(|| format!("cannot tell the port of {address}"))?;
    anyhow::ensure!(
        matches!(host, "localhost" | "127.0.0.1"),
        "nothing answers at {address}, and it is not a local address to start a dev server on"
    );
    let port: u16 = port
        .parse()
        .with_context(|| format!("{port} is not a port number"))?;
    tracing::info!(
        address,
        "no Temporal server answers; starting `temporal server start-dev`"
    );
    let server = dev_server::start(port).await?;
    let client = Client::connect(settings)
        .await
        .with_context(|| format!("the dev server started, but {address} does not answer"))?;
    Ok((client, Some(server)))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
