//! The hot-reload example's native half: the `compose_greeting` activity, the worker
//! that serves it with whatever greeting module is in the workflow directory, and the
//! step that builds a version of the workflow crate and installs it there.

use std::path::{Path, PathBuf};

use hot_reload_declarations::{COMPOSE, Composition};
use sandglass_host::guest_build::{
    GuestBuildError, build_workflow_crate_with_features, install_component,
};
use sandglass_host::reload::{ReloadOptions, VersioningPolicy};
use sandglass_host::{ActivityContext, ActivityFailure, Client, Worker, WorkerBuilder};

/// The task queue of the example's worker and starter.
pub const TASK_QUEUE: &str = "hot-reload-example";

/// Set this to serve another directory than [`default_workflow_dir`].
pub const DIR_ENV: &str = "HOT_RELOAD_DIR";

/// `target/hot-reload-example/workflows` in this workspace.
pub fn default_workflow_dir() -> PathBuf {
    workspace_dir()
        .join("target")
        .join("hot-reload-example")
        .join("workflows")
}

/// [`DIR_ENV`] if set, else [`default_workflow_dir`].
pub fn workflow_dir() -> PathBuf {
    std::env::var_os(DIR_ENV).map_or_else(default_workflow_dir, PathBuf::from)
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `"<salutation>, <name>!"`.
pub fn compose(
    _ctx: &ActivityContext,
    composition: Composition,
) -> Result<String, ActivityFailure> {
    Ok(format!("{}, {}!", composition.salutation, composition.name))
}

/// `PinnedGreeting` pinned, `UpgradingGreeting` auto-upgrade; the directory is scanned
/// every second.
pub fn reload_options() -> ReloadOptions {
    ReloadOptions::default()
        .with_policy(VersioningPolicy::Pinned)
        .with_policies(vec![(
            "UpgradingGreeting".into(),
            VersioningPolicy::AutoUpgrade,
        )])
}

/// A worker serving `dir` (hot-reloaded, as `options` say) and the activity.
pub fn worker_builder(client: Client, dir: &Path, options: ReloadOptions) -> WorkerBuilder {
    Worker::builder(client, TASK_QUEUE)
        .workflow_dir(dir)
        .reload_options(options)
        .sync_activity(COMPOSE, compose)
}

/// Builds the workflow crate as `version` (`v1` or `v2`) and moves the component into
/// `dir` as `greetings.wasm` (through a new file and a rename, so a worker never reads
/// half a file).
pub fn install(version: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let features: &[&str] = match version {
        "v1" => &[],
        "v2" => &["v2"],
        other => anyhow::bail!("unknown version {other:?}; use v1 or v2"),
    };
    let built = build(features)?;
    let installed = dir.join("greetings.wasm");
    install_component(&built, &installed)?;
    Ok(installed)
}

fn build(features: &[&str]) -> Result<PathBuf, GuestBuildError> {
    build_workflow_crate_with_features(&workspace_dir(), "hot-reload-workflows", features)
}
