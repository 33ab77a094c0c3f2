//! The task that turns directory changes into versions; see the [module docs](super).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use temporalio_client::tonic;
use tokio::sync::{mpsc, oneshot, watch};

use super::deployment::{self, ServerVersion, SetCurrentError};
use super::directory::Files;
use super::host::{PollAs, VersionHost};
use super::replay_check;
use super::retry::{Pass, Retry};
use super::store::VersionManifest;
use super::version::Version;
use super::{
    ReloadError, ReloadHandle, ReloadOptions, ReloadOutcome, ReloadProblem, VersionReport,
};
use crate::sandbox::WorkflowModule;
use temporalio_common::protos::temporal::api::enums::v1::WorkerDeploymentVersionStatus;

/// How often the server is asked which old versions have drained, and how many
/// executions each version has.
const REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How often a worker that does not scan wakes up for retries and refreshes.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// How long a new version may take to register with the server and become current.
const ACTIVATION_PATIENCE: Duration = Duration::from_secs(30);

type Request = Option<oneshot::Sender<ReloadOutcome>>;

/// Why the reload task woke up.
enum Wake {
    Tick,
    /// A [`ReloadHandle`] asked, maybe waiting for the outcome.
    Asked(Request),
}

pub(crate) struct Reloader<H> {
    host: Arc<H>,
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

impl<H: VersionHost> Reloader<H> {
    pub fn new(host: Arc<H>, dir: PathBuf, options: ReloadOptions) -> Result<Self, ReloadError> {
        std::fs::read_dir(&dir).map_err(|source| ReloadError::Directory {
            dir: dir.clone(),
            source,
        })?;
        let deployment = options
            .deployment_name
            .clone()
            .unwrap_or_else(|| host.task_queue().to_owned());
        let (requests, from_handles) = mpsc::unbounded_channel();
        Ok(Self {
            host,
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
                cached_runs: self.host.cached_runs(version.build_id()),
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
                _ = self.host.stopped() => break,
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
            if Instant::now() >= next_refresh && !self.host.is_stopping() {
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
        let versions = match deployment::describe(self.host.client(), &self.deployment).await {
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
                        for (module, bytes) in loaded {
                            files.restore(module, bytes);
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
            let bytes = Arc::new(bytes);
            let module =
                WorkflowModule::load_bytes(self.host.sandbox(), origin.clone(), bytes.clone())
                    .await
                    .map_err(|error| error.to_string())?;
            loaded.push((module, bytes));
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
        let rescan = match files
            .rescan(&self.dir, self.host.sandbox(), pass != Pass::Scan)
            .await
        {
            Ok(rescan) => rescan,
            Err(problem) => return self.reject(outcome, problem),
        };
        if !rescan.changed && pass == Pass::Scan {
            return outcome;
        }
        outcome.problems.extend(rescan.problems);
        let modules = files.modules();
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
        match self.promote(files, &version, pass).await {
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
    async fn promote(
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
        let server = deployment::describe(self.host.client(), &self.deployment)
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
        let known_current =
            local_current.filter(|local| server.current.as_deref() == Some(local.build_id()));
        let replayed = self
            .check_against_executions(version, known_current.as_deref())
            .await?;

        self.keep_in_store(files, version).await;
        if !self.is_serving(version.build_id()) {
            self.start_lane(version).await?;
        }
        let set = deployment::set_current(
            self.host.client(),
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

    /// Checks `version` against the executions that would move to it: none may be of a
    /// type it does not define, and the histories of each type it changes (against
    /// `known_current`, the server's current version) must replay on it. Returns how
    /// many histories it replayed.
    async fn check_against_executions(
        &self,
        version: &Arc<Version>,
        known_current: Option<&Version>,
    ) -> Result<usize, ReloadProblem> {
        let build_id = version.build_id();
        let client = self.host.client();
        let task_queue = self.host.task_queue();
        let stranded = replay_check::stranded_execution(client, task_queue, version)
            .await
            .map_err(|error| ReloadProblem::ReplayCheck {
                build_id: build_id.to_owned(),
                workflow_type: "(types it does not define)".into(),
                message: error.to_string(),
            })?;
        if let Some((workflow_id, workflow_type)) = stranded {
            return Err(ReloadProblem::Stranded {
                build_id: build_id.to_owned(),
                workflow_type,
                workflow_id,
            });
        }
        let mut replayed = 0;
        let stopping = || self.host.is_stopping();
        for workflow_type in version.workflow_types() {
            let unchanged = known_current
                .is_some_and(|c| c.digest_of(&workflow_type) == version.digest_of(&workflow_type));
            if !unchanged {
                replayed += replay_check::check(
                    client,
                    self.host.sandbox(),
                    task_queue,
                    version,
                    &workflow_type,
                    self.options.replay_check_limit,
                    &stopping,
                )
                .await?;
            }
        }
        Ok(replayed)
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
        let poll_as = PollAs {
            deployment_name: self.deployment.clone(),
            build_id: version.build_id().to_owned(),
            default_behavior: self.options.policy.behavior(),
            behaviors,
        };
        self.host
            .serve(version.by_type().clone(), poll_as)
            .await
            .map_err(|message| ReloadProblem::Activation {
                build_id: version.build_id().to_owned(),
                message,
            })?;
        self.lock_published()
            .serving
            .insert(version.build_id().to_owned(), version.clone());
        Ok(())
    }

    /// Copies the version's modules into the store, so it can be served after its files
    /// change or the worker restarts. A store that cannot be written is logged, not
    /// fatal: the version serves, it just cannot be restored.
    async fn keep_in_store(&self, files: &Files, version: &Version) {
        let Some(store) = &self.options.module_store else {
            return;
        };
        let kept = store
            .keep(&self.deployment, version, &files.bytes_by_digest())
            .await;
        if let Err(error) = kept {
            tracing::error!(store = %store.dir().display(), %error, "cannot keep the version in the module store; a restart will not restore it");
        }
    }

    /// Asks the server how each version stands: unloads old versions it reports
    /// drained (no execution needs them) and records each version's open executions.
    async fn refresh_versions(&self) {
        let serving: Vec<String> = self.lock_published().serving.keys().cloned().collect();
        if serving.is_empty() {
            return;
        }
        let client = self.host.client();
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
                self.host.retire(&build_id);
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
