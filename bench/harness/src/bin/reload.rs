//! `sandglass-bench-reload`: how long a changed workflow file takes to serve new
//! executions, against restarting the worker in the same run.
//!
//! For each component given, on one dev server:
//! - **cold reload**: a new digest (the component plus a custom section, so the code is
//!   the same but nothing is cached) is written to the directory and a reload is
//!   triggered; timed until the new version is current, which includes Cranelift;
//! - **warm reload**: a digest the code cache has seen, the same way;
//! - **restart** (the baseline): a digest new to the server but in the code cache is
//!   written, the worker is shut down and a new one started on the directory; timed
//!   until it has loaded the directory and that version is current.
//!
//! The guest's own build (`cargo build`) is not included: the components are prebuilt.
//! Reloads are triggered directly, so the directory scan interval (default 1 s) is not
//! included either; a scanning worker adds up to one interval.
//!
//! Temporal applies one routing change of a deployment at a time and takes about 2 s to
//! propagate it; a change made sooner waits for the previous one. Each measurement here
//! starts [`SETTLE`] after the previous change, so it shows the worker's latency; changes
//! closer together than that take until the server is ready.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sandglass_bench::args::Args;
use sandglass_host::reload::ModuleStore;
use sandglass_host::reload::ReloadOptions;
use sandglass_host::sandbox::CodeCache;
use sandglass_host::sandbox::{Sandbox, SandboxLimits, WorkflowModule};
use sandglass_host::testing::DevServer;
use sandglass_host::{
    Client, ConnectionSettings, Worker, WorkerOptions, WorkflowDefinition, WorkflowOptions,
};
use tokio::task::JoinHandle;

const COUNTDOWN: WorkflowDefinition<u64, String> = WorkflowDefinition::new("PinnedCountdown");

/// How long after a routing change the next measured one starts.
const SETTLE: Duration = Duration::from_millis(2500);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_bench::init_logging();
    let mut args = Args::from_env();
    let components: Vec<PathBuf> = args
        .all("--component")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let fixture = [
        PathBuf::from(args.required("--fixture-v1")?),
        PathBuf::from(args.required("--fixture-v2")?),
    ];
    let repeat: usize = args.parsed("--repeat", 3)?;
    args.finish()?;
    anyhow::ensure!(!components.is_empty(), "give at least one --component");

    let server = tokio::task::spawn_blocking(DevServer::start)
        .await
        .context("dev server task")??;
    let client = Client::connect(ConnectionSettings::default().with_address(server.address()))
        .await
        .context("connecting to the dev server")?;
    let scratch =
        std::env::temp_dir().join(format!("sandglass-bench-reload-{}", std::process::id()));

    println!(
        "{:<36} {:>12} {:>12} {:>12} {:>10}",
        "component (median of runs)", "cold reload", "warm reload", "restart", "restart/warm"
    );
    for component in &components {
        let name = component
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("component")
            .to_owned();
        let bytes =
            std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
        let mut bench = Bench::new(&client, &scratch.join(&name), &name)?;
        let timings = bench.measure(&bytes, repeat).await?;
        println!(
            "{:<36} {:>12} {:>12} {:>12} {:>10}",
            name,
            millis(median(&timings.cold)),
            millis(median(&timings.warm)),
            millis(median(&timings.restart)),
            format!(
                "×{:.1}",
                median(&timings.restart).as_secs_f64() / median(&timings.warm).as_secs_f64()
            ),
        );
    }

    let end_to_end = end_to_end(&client, &scratch.join("end-to-end"), &fixture, repeat).await?;
    println!(
        "\nchanged file → first new execution finished on the new code (reload fixture, \
         warm, median of {repeat}): {}",
        millis(median(&end_to_end))
    );
    let _ = std::fs::remove_dir_all(&scratch);
    drop(server);
    Ok(())
}

#[derive(Default)]
struct Timings {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    restart: Vec<Duration>,
}

struct Bench {
    client: Client,
    dir: PathBuf,
    store: PathBuf,
    cache: PathBuf,
    task_queue: String,
}

struct Running {
    worker: Arc<Worker>,
    task: JoinHandle<Result<(), sandglass_host::WorkerError>>,
}

impl Bench {
    fn new(client: &Client, root: &Path, name: &str) -> anyhow::Result<Self> {
        let bench = Self {
            client: client.clone(),
            dir: root.join("workflows"),
            store: root.join("store"),
            cache: root.join("code"),
            task_queue: format!("reload-{name}-{}", uuid::Uuid::new_v4().simple()),
        };
        std::fs::create_dir_all(&bench.dir)?;
        Ok(bench)
    }

    async fn measure(&mut self, bytes: &[u8], repeat: usize) -> anyhow::Result<Timings> {
        let mut timings = Timings::default();
        self.install(&variant(bytes, 0))?;
        let mut running = self.start().await?;
        reload(&running).await?;
        for run in 1..=repeat {
            // A digest never seen: compiled from scratch.
            tokio::time::sleep(SETTLE).await;
            self.install(&variant(bytes, run))?;
            let started = Instant::now();
            reload(&running).await?;
            timings.cold.push(started.elapsed());
            // The previous digest: its code is in the cache.
            tokio::time::sleep(SETTLE).await;
            self.install(&variant(bytes, run - 1))?;
            let started = Instant::now();
            reload(&running).await?;
            timings.warm.push(started.elapsed());
        }
        for run in 0..repeat {
            // A digest new to the deployment (a restarted worker does not roll back to
            // one it knows) whose code is in the cache, as for a warm reload.
            let changed = variant(bytes, 1000 + run);
            self.precompile(&changed)?;
            tokio::time::sleep(SETTLE).await;
            self.install(&changed)?;
            let before = current(&running);
            let started = Instant::now();
            stop(running).await?;
            running = self.start().await?;
            running
                .worker
                .reload_handle()
                .context("no reload handle")?
                .started()
                .await?;
            timings.restart.push(started.elapsed());
            let after = current(&running);
            anyhow::ensure!(
                after.is_some() && after != before,
                "the restarted worker did not serve the change"
            );
        }
        stop(running).await?;
        Ok(timings)
    }

    /// Compiles `bytes` into the code cache, as a module seen before would be.
    fn precompile(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let sandbox =
            Sandbox::with_code_cache(SandboxLimits::default(), Some(CodeCache::new(&self.cache)))?;
        WorkflowModule::from_bytes(&sandbox, "precompiled", bytes)?;
        Ok(())
    }

    fn install(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let staging = self.dir.join(".module.partial");
        std::fs::write(&staging, bytes)?;
        std::fs::rename(&staging, self.dir.join("module.wasm"))?;
        Ok(())
    }

    async fn start(&self) -> anyhow::Result<Running> {
        let options = WorkerOptions::default().with_code_cache(Some(CodeCache::new(&self.cache)));
        let reload = ReloadOptions::default()
            .with_scan_interval(None)
            .with_module_store(Some(ModuleStore::new(&self.store)));
        let worker = Worker::builder(self.client.clone(), self.task_queue.clone())
            .workflow_dir(&self.dir)
            .options(options)
            .reload_options(reload)
            .build()
            .await?;
        let worker = Arc::new(worker);
        let task = tokio::spawn({
            let worker = worker.clone();
            async move { worker.run().await }
        });
        Ok(Running { worker, task })
    }
}

/// `bytes` with a custom section naming `run`: the same code under a new digest.
fn variant(bytes: &[u8], run: usize) -> Vec<u8> {
    let name = b"sandglass-bench-variant";
    let payload = run.to_le_bytes();
    let mut section = Vec::new();
    leb128(&mut section, name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb128(&mut out, section.len());
    out.extend_from_slice(&section);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Triggers a reload; it must activate a new version.
async fn reload(running: &Running) -> anyhow::Result<()> {
    let handle = running.worker.reload_handle().context("no reload handle")?;
    let outcome = handle.reload().await?;
    anyhow::ensure!(
        outcome.problems.is_empty() && outcome.current.is_some(),
        "reload failed: {outcome:?}"
    );
    Ok(())
}

/// The build id serving new executions.
fn current(running: &Running) -> Option<String> {
    running
        .worker
        .versions()
        .into_iter()
        .find(|version| version.current)
        .map(|version| version.build_id)
}

async fn stop(running: Running) -> anyhow::Result<()> {
    running.worker.shutdown_handle().shutdown();
    running.task.await??;
    Ok(())
}

/// File write → reload → a new execution's result shows the new code.
async fn end_to_end(
    client: &Client,
    root: &Path,
    fixture: &[PathBuf; 2],
    repeat: usize,
) -> anyhow::Result<Vec<Duration>> {
    let bench = Bench::new(client, root, "fixture")?;
    let versions = [std::fs::read(&fixture[0])?, std::fs::read(&fixture[1])?];
    bench.install(&versions[0])?;
    let running = bench.start().await?;
    reload(&running).await?;
    let mut timings = Vec::new();
    for run in 1..=repeat {
        let next = run % 2;
        tokio::time::sleep(SETTLE).await;
        bench.install(&versions[next])?;
        let started = Instant::now();
        reload(&running).await?;
        let result = client
            .execute_workflow(
                COUNTDOWN,
                &0,
                WorkflowOptions::new(format!("end-to-end-{run}"), bench.task_queue.clone()),
            )
            .await?;
        timings.push(started.elapsed());
        let expected = if next == 0 { "v1" } else { "v2" };
        anyhow::ensure!(result == expected, "ran {result}, expected {expected}");
    }
    stop(running).await?;
    Ok(timings)
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}
