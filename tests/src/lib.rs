//! Shared fixtures for the integration tests: a dev server per test, components built
//! from this workspace, workers run in-process, and the Python interop scripts.
//!
//! Every test starts its own `temporal server start-dev` (or, for tests of long timers,
//! its own time-skipping `temporal-test-server`) on free ports, so tests run in parallel
//! and never see each other's workflows.

pub mod sandbox;
pub mod tls_proxy;
pub mod workflows;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use greeting_activities::{GREET, greet};
use sandglass_host::reload::ReloadOutcome;
use sandglass_host::testing::{DevServer, DevServerOptions, ServerError, TimeSkippingServer};
use sandglass_host::{
    Client, ConnectionSettings, ShutdownHandle, Worker, WorkerBuilder, WorkerError, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};
use tokio::task::JoinHandle;

/// The workspace root, for building components and finding scripts.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds (once per test binary) the workflow crate `package` for wasm32-wasip2.
pub fn component(package: &'static str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = built.iter().find(|(name, _)| *name == package) {
        return path.clone();
    }
    let path = sandglass_host::guest_build::build_workflow_crate(&workspace_dir(), package)
        .unwrap_or_else(|e| panic!("building {package}: {e}"));
    built.push((package, path.clone()));
    path
}

/// The hot-reload fixture (`tests/reload-workflows`) built as `variant` (`v1`, `v2` or
/// `v3`), copied to a file of its own: the builds share cargo's output path.
pub fn reload_component(variant: &'static str) -> PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let copy = workspace_dir()
        .join("target")
        .join("sandglass-reload-variants")
        .join(format!("{variant}-{}.wasm", std::process::id()));
    if copy.exists() {
        return copy;
    }
    let features: &[&str] = match variant {
        "v1" => &[],
        other => &[other],
    };
    let built = sandglass_host::guest_build::build_workflow_crate_with_features(
        &workspace_dir(),
        "sandglass-reload-workflows",
        features,
    )
    .unwrap_or_else(|e| panic!("building the reload fixture as {variant}: {e}"));
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("create variants dir");
    std::fs::copy(&built, &copy).expect("copy the built variant");
    copy
}

pub fn greeting_component() -> PathBuf {
    component("greeting-workflows")
}

pub fn test_component() -> PathBuf {
    component("sandglass-test-workflows")
}

/// Logs from the host under test, shown for failing tests (`RUST_LOG` to change).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sandglass_host=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A custom `Keyword` search attribute every test dev server registers.
pub const SEARCH_ATTRIBUTE: &str = "SandglassStage";

/// A dev server of this test's own and a client connected to it.
pub struct TestEnv {
    pub server: DevServer,
    pub client: Client,
}

impl TestEnv {
    pub async fn start() -> Self {
        init_logging();
        let server = start_server(|| {
            DevServer::start_with(
                DevServerOptions::default().search_attribute(SEARCH_ATTRIBUTE, "Keyword"),
            )
        })
        .await;
        let client = Client::connect(ConnectionSettings::default().with_address(server.address()))
            .await
            .expect("connect to the dev server");
        Self { server, client }
    }

    pub fn address(&self) -> String {
        self.server.address()
    }

    /// A worker on this server's client, set up by `configure`, running on a
    /// background task.
    pub async fn serve(
        &self,
        task_queue: &str,
        configure: impl FnOnce(WorkerBuilder) -> WorkerBuilder,
    ) -> RunningWorker {
        RunningWorker::start(configure(Worker::builder(self.client.clone(), task_queue))).await
    }

    /// A worker builder serving the greeting example (workflow and `greet` activity);
    /// add more modules before building.
    pub fn greeting_worker_builder(&self, task_queue: &str) -> WorkerBuilder {
        Worker::builder(self.client.clone(), task_queue)
            .workflow_module(greeting_component())
            .sync_activity(GREET, |_ctx, name: String| Ok(greet(name)))
    }

    /// A worker serving the greeting example and the test workflows
    /// (`tests/workflows`), running.
    pub async fn test_worker(&self, task_queue: &str) -> RunningWorker {
        RunningWorker::start(
            self.greeting_worker_builder(task_queue)
                .workflow_module(test_component()),
        )
        .await
    }

    /// The greeting example's worker, running.
    pub async fn greeting_worker(&self, task_queue: &str) -> RunningWorker {
        RunningWorker::start(self.greeting_worker_builder(task_queue)).await
    }
}

/// A time-skipping test server of this test's own and a time-skipping client of it.
pub struct TimeSkippingEnv {
    pub server: TimeSkippingServer,
    pub client: Client,
}

impl TimeSkippingEnv {
    pub async fn start() -> Self {
        init_logging();
        let server = start_server(TimeSkippingServer::start).await;
        let client = server.client().await.unwrap_or_else(|err| {
            panic!(
                "connect to the test server: {err}\nits output:\n{}",
                server.output_tail()
            )
        });
        Self { server, client }
    }
}

impl TimeSkippingEnv {
    /// A worker on the test server's client, set up by `configure`, running on a
    /// background task; a worker that does not build panics with the server's output.
    pub async fn serve(
        &self,
        task_queue: &str,
        configure: impl FnOnce(WorkerBuilder) -> WorkerBuilder,
    ) -> RunningWorker {
        let builder = configure(Worker::builder(self.client.clone(), task_queue));
        let worker = builder.build().await.unwrap_or_else(|err| {
            panic!(
                "build a worker on the test server: {err}\nserver output:\n{}",
                self.server.output_tail()
            )
        });
        RunningWorker::spawn(worker)
    }
}

/// Starts a server off the async threads (it blocks while the process comes up).
async fn start_server<S: Send + 'static>(start: fn() -> Result<S, ServerError>) -> S {
    tokio::task::spawn_blocking(start)
        .await
        .expect("server start task")
        .unwrap_or_else(|err| panic!("{err}\n(`cargo xtask setup` installs the servers)"))
}

/// A task queue name no other test uses.
pub fn unique_task_queue(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A worker running on a background task.
pub struct RunningWorker {
    worker: Arc<Worker>,
    shutdown: ShutdownHandle,
    task: JoinHandle<Result<(), WorkerError>>,
}

impl RunningWorker {
    /// Builds the worker `builder` describes and runs it; panics if it does not build.
    pub async fn start(builder: WorkerBuilder) -> Self {
        Self::spawn(builder.build().await.expect("build the worker"))
    }

    pub fn spawn(worker: Worker) -> Self {
        let shutdown = worker.shutdown_handle();
        let worker = Arc::new(worker);
        let task = tokio::spawn({
            let worker = worker.clone();
            async move { worker.run().await }
        });
        Self {
            worker,
            shutdown,
            task,
        }
    }

    /// The worker, to ask what it serves or to reload it while it runs.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Reloads a hot-reloading worker's directory and returns what happened.
    pub async fn reload(&self) -> ReloadOutcome {
        let handle = self.worker.reload_handle().expect("a hot-reloading worker");
        tokio::time::timeout(Duration::from_secs(60), handle.reload())
            .await
            .expect("reload within 60 s")
            .expect("the worker is running")
    }

    /// Shuts down gracefully and returns how `run` ended.
    pub async fn stop(self) -> Result<(), WorkerError> {
        self.shutdown.shutdown();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("worker shut down within 30 s")
            .expect("worker task did not panic")
    }
}

/// The failure and its causes, outermost first.
pub fn failure_chain(failure: &Failure) -> Vec<&Failure> {
    std::iter::successors(Some(failure), |f| f.cause.as_deref()).collect()
}

/// How many of the history's events `matches` picks.
pub fn count_events(history: &History, matches: impl Fn(&Attributes) -> bool) -> usize {
    history
        .events
        .iter()
        .filter(|event| event.attributes.as_ref().is_some_and(&matches))
        .count()
}

/// Waits until the run's history has an event that `wanted` picks, and returns it.
/// Panics after `within`.
pub async fn wait_for_event<O>(
    handle: &WorkflowHandle<O>,
    within: Duration,
    wanted: impl Fn(&Attributes) -> bool,
) -> Attributes {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let history = handle.fetch_history().await.expect("fetch history");
        if let Some(found) = history
            .events
            .into_iter()
            .filter_map(|event| event.attributes)
            .find(|attributes| wanted(attributes))
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: the awaited event did not come within {within:?}",
            handle.workflow_id()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run's history shows a started timer: its first workflow task ran,
/// so it is bound to the version that was current then. Panics after 10 s.
pub async fn wait_for_timer_started<O>(handle: &WorkflowHandle<O>) {
    wait_for_event(handle, Duration::from_secs(10), |event| {
        matches!(event, Attributes::TimerStartedEventAttributes(_))
    })
    .await;
}

/// Waits until the run's history shows a failed workflow task and returns the message
/// of the first one.
///
/// Temporal retries a failed workflow task with backoff, and core reports only the first
/// failure of a run's task to the server (later attempts time out instead), so the first
/// recorded failure is the one to assert on. Panics after 20 s without one.
pub async fn workflow_task_failure<O>(handle: &WorkflowHandle<O>) -> String {
    match wait_for_event(handle, Duration::from_secs(20), |event| {
        matches!(event, Attributes::WorkflowTaskFailedEventAttributes(_))
    })
    .await
    {
        Attributes::WorkflowTaskFailedEventAttributes(failed) => {
            failed.failure.map(|f| f.message).unwrap_or_default()
        }
        _ => unreachable!("the predicate picks task failures"),
    }
}

/// `python3` running one of `tests/python/*.py`.
pub fn python_script(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(workspace_dir().join("tests/python").join(script));
    command
}

/// Runs a Python client script (`tests/python/SCRIPT ARGS..`, with `envs` set) off the
/// async threads and returns the JSON it printed; panics if it fails.
pub async fn python_client<T: serde::de::DeserializeOwned>(
    script: &str,
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
) -> T {
    let mut command = python_script(script);
    command.args(args).stderr(Stdio::inherit());
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run python3");
    assert!(
        output.status.success(),
        "Python client {script} failed: {:?}",
        output.status
    );
    serde_json::from_slice(&output.stdout).expect("the Python client prints JSON")
}

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the Python `greet` worker on `task_queue` and waits until it polls.
pub fn start_python_greet_worker(address: &str, task_queue: &str) -> KillOnDrop {
    start_python_worker("greet_worker.py", address, task_queue)
}

/// Starts a Python worker script (`tests/python/SCRIPT ADDRESS TASK_QUEUE`, which prints
/// `ready`) and waits until it polls.
pub fn start_python_worker(script: &str, address: &str, task_queue: &str) -> KillOnDrop {
    use std::io::{BufRead, BufReader};
    let mut child = python_script(script)
        .args([address, task_queue])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3 (install the SDK with `cargo xtask setup`)");
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the Python worker's output");
    assert_eq!(line.trim(), "ready", "Python worker did not start");
    guard
}
