//! The task that turns directory changes into versions; see the [module docs](super).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use temporalio_client::tonic;
use tokio::sync::{mpsc, oneshot, watch};

use super::deployment::{self, ServerVersion, SetCurrentError};
use super::directory::{self, Stamp};
use super::replay_check;
use super::store::VersionManifest;
use super::version::Version;
use super::{
    ReloadError, ReloadHandle, ReloadOptions, ReloadOutcome, ReloadProblem, VersionReport,
};
use crate::sandbox::{ModuleError, Sandbox, WorkflowModule};
use crate::worker::{LaneFactory, LaneSet, LaneVersion};
use temporalio_common::protos::temporal::api::enums::v1::WorkerDeploymentVersionStatus;

/// How often the server is asked which old versions have drained, and how many
/// executions each version has.
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How often a worker that does not scan wakes up for retries and refreshes.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// Longest wait before retrying an activation that failed for a passing reason.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);
/// How long a new version may take to register with the server and become current.
const ACTIVATION_PATIENCE: Duration = Duration::from_secs(30);

type Request = Option<oneshot::Sender<ReloadOutcome>>;

/// Why the reload task woke up.
enum Wake {
    Tick,
    /// A [`ReloadHandle`] asked, maybe waiting for the outcome.
    Asked(Request),
}

/// What kind of reload runs; all but `Scan` read every file again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The first, when the worker starts: it does not roll the deployment back.
    Startup,
    /// Files whose stamp changed, on the scan interval.
    Scan,
    /// After a failure that may pass.
    Retry,
    /// A [`ReloadHandle`] or SIGHUP asked.
    Asked,
}

/// When to try again after a reload failed for a reason that may pass (the server was
/// unreachable, another worker changed the deployment), with backoff.
#[derive(Clone, Copy, Debug)]
struct Retry {
    at: Option<(Instant, Duration)>,
    /// A startup that failed is retried as a startup, which does not roll back.
    pass: Pass,
}

impl Retry {
    fn after(pass: Pass, outcome: &ReloadOutcome) -> Self {
        Self { at: None, pass }.next(pass, outcome)
    }

    fn next(self, pass: Pass, outcome: &ReloadOutcome) -> Self {
        if !outcome.problems.iter().any(ReloadProblem::is_transient) {
            return Self { at: None, pass };
        }
        let backoff = match self.at {
            Some((_, backoff)) => (backoff * 2).min(MAX_RETRY_BACKOFF),
            None => Duration::from_secs(1),
        };
        Self {
            at: Some((Instant::now() + backoff, backoff)),
            pass,
        }
    }

    /// The pass to run now, if a retry is due.
    fn due(&self) -> Option<Pass> {
        let due = self.at.is_some_and(|(at, _)| Instant::now() >= at);
        due.then_some(match self.pass {
            Pass::Startup => Pass::Startup,
            _ => Pass::Retry,
        })
    }
}

pub(crate) struct Reloader {
    factory: Arc<LaneFactory>,
    lanes: Arc<LaneSet>,
    dir: PathBuf,
    options: ReloadOptions,
    deployment: String,
    requests: mpsc::UnboundedSender<Request>,
    /// Set once the startup restore and load are done.
    started: watch::Sender<bool>,
    /// Taken by [`run`](Self::run).
    from_handles: Mutex<Option<mpsc::UnboundedReceiver<Request>>>,
    published: Mutex<Published>,
}

/// What reports read while the reload task changes it.
#[derive(Default)]
struct Published {
    current: Option<Arc<Version>>,
    /// Every version with a lane, current or draining.
    serving: BTreeMap<String, Arc<Version>>,
    /// Open executions per version, by the server's visibility.
    open_executions: HashMap<String, u64>,
}

/// The reload task's view of the directory.
#[derive(Default)]
struct Files {
    by_path: BTreeMap<PathBuf, FileState>,
}

struct FileState {
    /// `None` until read (a module restored from the store for this path).
    stamp: Option<Stamp>,
    /// The last module this path loaded, and its bytes for the store.
    good: Option<(WorkflowModule, Arc<Vec<u8>>)>,
}

impl Reloader {
    pub fn new(
        factory: Arc<LaneFactory>,
        lanes: Arc<LaneSet>,
        dir: PathBuf,
        options: ReloadOptions,
    ) -> Result<Self, ReloadError> {
        std::fs::read_dir(&dir).map_err(|source| ReloadError::Directory {
            dir: dir.clone(),
            source,
        })?;
        let deployment = options
            .deployment_name
            .clone()
            .unwrap_or_else(|| factory.task_queue().to_owned());
        let (requests, from_handles) = mpsc::unbounded_channel();
        Ok(Self {
            factory,
            lanes,
            dir,
            options,
            deployment,
            requests,
            started: watch::Sender::new(false),
            from_handles: Mutex::new(Some(from_handles)),
            published: Mutex::default(),
        })
    }

    pub fn handle(&self) -> ReloadHandle {
        ReloadHandle {
            requests: self.requests.clone(),
            started: self.started.subscribe(),
        }
    }

    pub fn current_build_id(&self) -> Option<String> {
        self.lock_published()
            .current
            .as_ref()
            .map(|version| version.build_id().to_owned())
    }

    pub fn report(&self) -> Vec<VersionReport> {
        let published = self.lock_published();
        let current = published.current.as_ref().map(|v| v.build_id());
        let lanes = self.lanes.lanes();
        published
            .serving
            .values()
            .map(|version| VersionReport {
                build_id: version.build_id().to_owned(),
                current: current == Some(version.build_id()),
                modules: version
                    .modules()
                    .iter()
                    .map(|m| (m.origin().to_owned(), m.digest().to_owned()))
                    .collect(),
                workflow_types: version.workflow_types(),
                cached_runs: lanes
                    .iter()
                    .filter(|lane| lane.build_id() == Some(version.build_id()))
                    .filter_map(|lane| lane.workflows())
                    .map(|runner| runner.cached_runs())
                    .sum(),
                open_executions: published.open_executions.get(version.build_id()).copied(),
            })
            .collect()
    }

    /// Restores the versions still in use, loads the directory, then follows it until
    /// the worker shuts down.
    pub async fn run(self: Arc<Self>) {
        let Some(mut from_handles) = self
            .from_handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let mut files = Files::default();
        self.restore(&mut files).await;
        let startup = self.reload(&mut files, Pass::Startup).await;
        let mut retry = Retry::after(Pass::Startup, &startup);
        self.started.send_replace(true);
        let tick = self.options.scan_interval.unwrap_or(IDLE_TICK);
        let mut next_refresh = Instant::now();
        loop {
            let wake = tokio::select! {
                _ = self.lanes.stopped() => break,
                request = from_handles.recv() => Wake::Asked(request.flatten()),
                _ = tokio::time::sleep(tick) => Wake::Tick,
            };
            let pass = match &wake {
                Wake::Asked(_) => Some(Pass::Asked),
                Wake::Tick => retry
                    .due()
                    .or(self.options.scan_interval.map(|_| Pass::Scan)),
            };
            if let Some(pass) = pass {
                let outcome = self.reload(&mut files, pass).await;
                // A scan that found nothing to do leaves a pending retry pending.
                let idle = pass == Pass::Scan && !outcome.activated && outcome.problems.is_empty();
                if !idle {
                    retry = retry.next(pass, &outcome);
                }
                if let Wake::Asked(Some(reply)) = wake {
                    let _ = reply.send(outcome);
                }
            }
            if Instant::now() >= next_refresh && !self.lanes.is_stopping() {
                self.refresh_versions().await;
                next_refresh = Instant::now() + REFRESH_INTERVAL;
            }
        }
    }

    /// Starts polling for each version of the deployment that still has executions and
    /// whose modules the store has, so pinned executions outlive their files.
    async fn restore(&self, files: &mut Files) {
        let Some(store) = &self.options.module_store else {
            return;
        };
        let versions = match deployment::describe(self.factory.client(), &self.deployment).await {
            Ok(deployment) => deployment.versions,
            Err(status) => {
                tracing::warn!(deployment = self.deployment, %status, "cannot ask the server which versions are in use; serving the directory only");
                return;
            }
        };
        for server_version in versions.iter().filter(|v| v.in_use()) {
            let Some(manifest) = store.version(&self.deployment, &server_version.build_id) else {
                tracing::warn!(
                    deployment = self.deployment,
                    build_id = server_version.build_id,
                    store = %store.dir().display(),
                    "a version still in use is not in this worker's module store; unless the directory holds it, its executions wait for a worker that has it"
                );
                continue;
            };
            match self.restore_version(&manifest, server_version).await {
                Ok((version, loaded)) => {
                    if server_version.status == WorkerDeploymentVersionStatus::Current {
                        // Its modules stand in for their files until those are read,
                        // and stay if a file turns out broken.
                        for (module, bytes) in loaded {
                            files.by_path.insert(
                                PathBuf::from(module.origin()),
                                FileState {
                                    stamp: None,
                                    good: Some((module, bytes)),
                                },
                            );
                        }
                        self.lock_published().current = Some(version);
                    }
                }
                Err(message) => tracing::error!(
                    build_id = server_version.build_id,
                    message,
                    "could not restore a version still in use"
                ),
            }
        }
    }

    async fn restore_version(
        &self,
        manifest: &VersionManifest,
        server_version: &ServerVersion,
    ) -> Result<(Arc<Version>, Vec<(WorkflowModule, Arc<Vec<u8>>)>), String> {
        let Some(store) = self.options.module_store.clone() else {
            return Err("no module store".into());
        };
        let mut loaded = Vec::new();
        for (origin, digest) in &manifest.modules {
            let bytes = store
                .module(digest)
                .map_err(|error| format!("module {digest} is missing from the store: {error}"))?;
            loaded.push(
                load(self.factory.sandbox(), origin.clone(), bytes)
                    .await
                    .map_err(|error| error.to_string())?,
            );
        }
        let modules = loaded.iter().map(|(module, _)| module.clone()).collect();
        let version = Arc::new(Version::new(modules).map_err(|problem| problem.to_string())?);
        if version.build_id() != manifest.build_id {
            return Err(format!(
                "the stored modules make version {}, not {}",
                version.build_id(),
                manifest.build_id
            ));
        }
        self.start_lane(&version)
            .await
            .map_err(|problem| problem.to_string())?;
        tracing::info!(
            build_id = version.build_id(),
            status = ?server_version.status,
            workflow_types = ?version.workflow_types(),
            "restored a version that still has executions"
        );
        Ok((version, loaded))
    }

    /// Rescans the directory and activates the version it now holds, if it is new and
    /// valid.
    async fn reload(&self, files: &mut Files, pass: Pass) -> ReloadOutcome {
        let mut outcome = ReloadOutcome {
            current: self.current_build_id(),
            ..Default::default()
        };
        let dir = self.dir.clone();
        let scanned = tokio::task::spawn_blocking(move || directory::scan(&dir))
            .await
            .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())));
        let scanned = match scanned {
            Ok(scanned) => scanned,
            Err(source) => {
                let dir = self.dir.clone();
                return self.reject(outcome, ReloadProblem::Directory { dir, source });
            }
        };
        let reread = pass != Pass::Scan;
        let removed: Vec<PathBuf> = files
            .by_path
            .keys()
            .filter(|path| !scanned.contains_key(*path))
            .cloned()
            .collect();
        let changed: Vec<(PathBuf, Stamp)> = scanned
            .iter()
            .filter(|(path, stamp)| {
                reread || files.by_path.get(*path).and_then(|f| f.stamp) != Some(**stamp)
            })
            .map(|(path, stamp)| (path.clone(), *stamp))
            .collect();
        if removed.is_empty() && changed.is_empty() && pass == Pass::Scan {
            return outcome;
        }
        for path in removed {
            // A restored module whose file never existed here is no loss; say so only
            // for files this worker loaded.
            if files.by_path.remove(&path).and_then(|f| f.stamp).is_some() {
                tracing::info!(path = %path.display(), "workflow module removed");
            }
        }
        for (path, stamp) in changed {
            let unchanged_digest = files
                .by_path
                .get(&path)
                .and_then(|file| file.good.as_ref())
                .map(|(module, _)| module.digest().to_owned());
            let loaded = match tokio::fs::read(&path).await {
                Ok(bytes) => load(self.factory.sandbox(), path.display().to_string(), bytes).await,
                Err(source) => Err(ModuleError::Read {
                    path: path.clone(),
                    source,
                }),
            };
            let entry = files.by_path.entry(path.clone()).or_insert(FileState {
                stamp: None,
                good: None,
            });
            entry.stamp = Some(stamp);
            match loaded {
                Ok((module, bytes)) => {
                    if unchanged_digest.as_deref() != Some(module.digest()) {
                        tracing::info!(path = %path.display(), digest = module.digest(), workflow_types = ?module.workflow_types(), "workflow module loaded");
                    }
                    entry.good = Some((module, bytes));
                }
                Err(source) => {
                    let problem = ReloadProblem::BrokenModule { path, source };
                    tracing::error!(%problem, "workflow module rejected");
                    outcome.problems.push(problem);
                }
            }
        }

        let modules: Vec<WorkflowModule> = files
            .by_path
            .values()
            .filter_map(|file| file.good.as_ref().map(|(module, _)| module.clone()))
            .collect();
        if modules.is_empty() {
            if outcome.current.is_some() {
                tracing::warn!(dir = %self.dir.display(), "the workflow directory has no loadable modules; the current version keeps serving");
            }
            return outcome;
        }
        let version = match Version::new(modules) {
            Ok(version) => Arc::new(version),
            Err(problem) => return self.reject(outcome, problem),
        };
        match self.activate(files, &version, pass).await {
            Ok(Some(replayed)) => {
                outcome.current = Some(version.build_id().to_owned());
                outcome.activated = true;
                outcome.replayed = replayed;
                outcome
            }
            Ok(None) => {
                outcome.current = self.current_build_id();
                outcome
            }
            Err(problem) => self.reject(outcome, problem),
        }
    }

    /// Makes `version` current once it is checked against the executions that would
    /// move to it. Returns how many histories it replayed, or `None` if it already was
    /// current.
    async fn activate(
        &self,
        files: &Files,
        version: &Arc<Version>,
        pass: Pass,
    ) -> Result<Option<usize>, ReloadProblem> {
        let started = Instant::now();
        let build_id = version.build_id().to_owned();
        let server_error = |status: tonic::Status| ReloadProblem::Activation {
            build_id: build_id.clone(),
            message: format!("asking the server for the deployment failed: {status}"),
        };
        let server = deployment::describe(self.factory.client(), &self.deployment)
            .await
            .map_err(server_error)?;
        let local_current = self.lock_published().current.clone();
        if server.current.as_deref() == Some(version.build_id()) {
            // Current already (this worker restarted, or another promoted it): serve it.
            if !self.is_serving(version.build_id()) {
                self.keep_in_store(files, version).await;
                self.start_lane(version).await?;
            }
            self.lock_published().current = Some(version.clone());
            return Ok(None);
        }
        if let (Pass::Startup, Some(current)) = (pass, &server.current)
            && server.knows(version.build_id())
        {
            return Err(ReloadProblem::Superseded {
                build_id: version.build_id().to_owned(),
                current: current.clone(),
            });
        }

        // What moves to the new version is what is not pinned; compare modules only with
        // a version known to be the server's current one.
        let known_current = local_current
            .as_ref()
            .filter(|local| server.current.as_deref() == Some(local.build_id()));
        let client = self.factory.client();
        let task_queue = self.factory.task_queue();
        if let Some((workflow_id, workflow_type)) =
            replay_check::stranded_execution(client, task_queue, version)
                .await
                .map_err(|error| ReloadProblem::ReplayCheck {
                    build_id: build_id.clone(),
                    workflow_type: "(types it does not define)".into(),
                    message: error.to_string(),
                })?
        {
            return Err(ReloadProblem::Stranded {
                build_id,
                workflow_type,
                workflow_id,
            });
        }
        let mut replayed = 0;
        let stopping = || self.lanes.is_stopping();
        for workflow_type in version.workflow_types() {
            let unchanged = known_current
                .is_some_and(|c| c.digest_of(&workflow_type) == version.digest_of(&workflow_type));
            if !unchanged {
                replayed += replay_check::check(
                    client,
                    self.factory.sandbox(),
                    task_queue,
                    version,
                    &workflow_type,
                    self.options.replay_check_limit,
                    &stopping,
                )
                .await?;
            }
        }

        self.keep_in_store(files, version).await;
        if !self.is_serving(version.build_id()) {
            self.start_lane(version).await?;
        }
        let set = deployment::set_current(
            client,
            &self.deployment,
            version.build_id(),
            server.current.as_deref(),
            ACTIVATION_PATIENCE,
        )
        .await;
        if let Err(error) = set {
            return Err(match error {
                SetCurrentError::Conflict { now } => ReloadProblem::Conflict {
                    build_id,
                    now: now.unwrap_or_else(|| "none".into()),
                },
                SetCurrentError::Rpc(status) => ReloadProblem::Activation {
                    build_id,
                    message: format!("the server refused to make it current: {status}"),
                },
            });
        }
        let previous = self
            .lock_published()
            .current
            .replace(version.clone())
            .map(|previous| previous.build_id().to_owned());
        tracing::info!(
            build_id = version.build_id(),
            previous,
            workflow_types = ?version.workflow_types(),
            modules = ?version.modules().iter().map(|m| m.origin()).collect::<Vec<_>>(),
            replayed,
            took_ms = started.elapsed().as_millis() as u64,
            "new version serving new executions"
        );
        self.log_versions();
        Ok(Some(replayed))
    }

    fn is_serving(&self, build_id: &str) -> bool {
        self.lock_published().serving.contains_key(build_id)
    }

    /// A lane polling as `version`, added to the worker and recorded as serving. It
    /// stays even if the version does not become current: a version the server knows
    /// may get executions, and a later reload retries with it.
    async fn start_lane(&self, version: &Arc<Version>) -> Result<(), ReloadProblem> {
        let behaviors: HashMap<_, _> = version
            .workflow_types()
            .into_iter()
            .map(|workflow_type| {
                let behavior = self.options.policy_of(&workflow_type).behavior();
                (workflow_type, behavior)
            })
            .collect();
        let lane = self
            .factory
            .lane(
                version.by_type().clone(),
                Some(LaneVersion {
                    deployment_name: self.deployment.clone(),
                    build_id: version.build_id().to_owned(),
                    default_behavior: self.options.policy.behavior(),
                    behaviors,
                }),
            )
            .await
            .map_err(|error| ReloadProblem::Activation {
                build_id: version.build_id().to_owned(),
                message: error.to_string(),
            })?;
        match self.lanes.add(lane) {
            Ok(()) => {
                self.lock_published()
                    .serving
                    .insert(version.build_id().to_owned(), version.clone());
                Ok(())
            }
            Err(lane) => {
                lane.abandon().await;
                Err(ReloadProblem::Activation {
                    build_id: version.build_id().to_owned(),
                    message: "the worker is shutting down".into(),
                })
            }
        }
    }

    /// Copies the version's modules into the store, so it can be served after its files
    /// change or the worker restarts. A store that cannot be written is logged, not
    /// fatal: the version serves, it just cannot be restored.
    async fn keep_in_store(&self, files: &Files, version: &Version) {
        let Some(store) = self.options.module_store.clone() else {
            return;
        };
        let bytes_by_digest: HashMap<String, Arc<Vec<u8>>> = files
            .by_path
            .values()
            .filter_map(|file| file.good.as_ref())
            .map(|(module, bytes)| (module.digest().to_owned(), bytes.clone()))
            .collect();
        let modules: Vec<(String, Option<Arc<Vec<u8>>>)> = version
            .modules()
            .iter()
            .map(|m| {
                (
                    m.digest().to_owned(),
                    bytes_by_digest.get(m.digest()).cloned(),
                )
            })
            .collect();
        let manifest = VersionManifest {
            build_id: version.build_id().to_owned(),
            modules: version
                .modules()
                .iter()
                .map(|m| (m.origin().to_owned(), m.digest().to_owned()))
                .collect(),
        };
        let deployment = self.deployment.clone();
        let dir = store.dir().to_owned();
        let written = tokio::task::spawn_blocking(move || {
            for (digest, bytes) in &modules {
                if let Some(bytes) = bytes {
                    store.put_module(digest, bytes)?;
                }
            }
            store.put_version(&deployment, &manifest)
        })
        .await
        .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())));
        if let Err(error) = written {
            tracing::error!(store = %dir.display(), %error, "cannot keep the version in the module store; a restart will not restore it");
        }
    }

    /// Asks the server how each version stands: unloads old versions it reports
    /// drained (no execution needs them) and records each version's open executions.
    async fn refresh_versions(&self) {
        let serving: Vec<String> = self.lock_published().serving.keys().cloned().collect();
        if serving.is_empty() {
            return;
        }
        let client = self.factory.client();
        let server = match deployment::describe(client, &self.deployment).await {
            Ok(server) => server,
            Err(status) => {
                tracing::debug!(%status, "cannot check how the versions stand");
                return;
            }
        };
        let current = self.current_build_id();
        let before = self.lock_published().open_executions.clone();
        for build_id in serving {
            let drained = Some(&build_id) != current.as_ref()
                && server
                    .status_of(&build_id)
                    .is_none_or(|status| status == WorkerDeploymentVersionStatus::Drained);
            if drained {
                self.lanes.retire(&build_id);
                self.lock_published().serving.remove(&build_id);
                self.lock_published().open_executions.remove(&build_id);
                if let Some(store) = &self.options.module_store
                    && let Err(error) = store.remove_version(&self.deployment, &build_id)
                {
                    tracing::warn!(build_id, %error, "cannot forget a drained version in the module store");
                }
                tracing::info!(build_id, current, "version drained; unloaded");
                self.log_versions();
                continue;
            }
            match deployment::open_executions(client, &self.deployment, &build_id).await {
                Ok(count) => {
                    self.lock_published()
                        .open_executions
                        .insert(build_id, count);
                }
                Err(error) => tracing::debug!(%error, "cannot count a version's executions"),
            }
        }
        // Said again only when something moved, so an idle worker's log stays quiet.
        if self.lock_published().open_executions != before {
            self.log_versions();
        }
    }

    fn reject(&self, mut outcome: ReloadOutcome, problem: ReloadProblem) -> ReloadOutcome {
        tracing::error!(%problem, current = outcome.current, "reload rejected; the current version keeps serving");
        outcome.problems.push(problem);
        outcome
    }

    /// One line per version served, for operators following the log.
    fn log_versions(&self) {
        for version in self.report() {
            tracing::info!(
                build_id = version.build_id,
                current = version.current,
                workflow_types = ?version.workflow_types,
                cached_runs = version.cached_runs,
                open_executions = version.open_executions,
                "serving version"
            );
        }
    }

    fn lock_published(&self) -> std::sync::MutexGuard<'_, Published> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Compiles a module off the async threads (Cranelift is CPU-bound; the code cache
/// makes a digest seen before quick).
async fn load(
    sandbox: &Sandbox,
    origin: String,
    bytes: Vec<u8>,
) -> Result<(WorkflowModule, Arc<Vec<u8>>), ModuleError> {
    let sandbox = sandbox.clone();
    let bytes = Arc::new(bytes);
    let shared = bytes.clone();
    let origin_for_error = origin.clone();
    tokio::task::spawn_blocking(move || WorkflowModule::from_bytes(&sandbox, origin, &shared))
        .await
        .unwrap_or_else(|join_error| {
            Err(ModuleError::Read {
                path: Path::new(&origin_for_error).to_owned(),
                source: std::io::Error::other(join_error.to_string()),
            })
        })
        .map(|module| (module, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(problem: ReloadProblem) -> ReloadOutcome {
        ReloadOutcome {
            problems: vec![problem],
            ..Default::default()
        }
    }

    #[test]
    fn passing_failures_are_retried_with_backoff_and_others_are_not() {
        let transient = || ReloadProblem::Activation {
            build_id: "sg-1".into(),
            message: "server unreachable".into(),
        };
        let first = Retry::after(Pass::Startup, &failed(transient()));
        let (_, backoff) = first.at.expect("a retry is scheduled");
        assert_eq!(backoff, Duration::from_secs(1));
        assert_eq!(first.due(), None, "not before its backoff");
        let second = first.next(Pass::Startup, &failed(transient()));
        assert_eq!(second.at.map(|(_, b)| b), Some(Duration::from_secs(2)));
        let due = Retry {
            at: Some((Instant::now(), backoff)),
            ..second
        };
        assert_eq!(due.due(), Some(Pass::Startup), "a startup retries as one");

        let broken = ReloadProblem::Superseded {
            build_id: "sg-1".into(),
            current: "sg-2".into(),
        };
        assert!(Retry::after(Pass::Asked, &failed(broken)).at.is_none());
        assert!(
            second
                .next(Pass::Retry, &ReloadOutcome::default())
                .at
                .is_none()
        );
    }
}
