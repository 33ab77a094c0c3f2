//! Hot reload against a real dev server: versions swap while executions wait on timers,
//! pinned executions stay on their version (across a restart too), auto-upgrade ones
//! move only to a version that replays them, and a broken file changes nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sandglass_host::guest_build::install_component;
use sandglass_host::reload::ModuleStore;
use sandglass_host::reload::{ReloadOptions, ReloadProblem, VersioningPolicy};
use sandglass_host::{Client, Worker, WorkflowDefinition, WorkflowHandle, WorkflowOptions};
use sandglass_tests::{
    RunningWorker, TestEnv, greeting_component, reload_component, unique_task_queue,
    wait_for_timer_started,
};

const PINNED: WorkflowDefinition<u64, String> = WorkflowDefinition::new("PinnedCountdown");
const UPGRADING: WorkflowDefinition<u64, String> = WorkflowDefinition::new("UpgradingCountdown");

/// Long enough for the reloads a test makes while these executions wait.
const LONG_TIMER_MS: u64 = 8_000;

struct Setup {
    dir: PathBuf,
    store: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let root = std::env::temp_dir().join(format!("sandglass-reload-{}", uuid::Uuid::new_v4()));
        let setup = Self {
            dir: root.join("workflows"),
            store: root.join("store"),
        };
        std::fs::create_dir_all(&setup.dir).expect("create the workflow directory");
        setup
    }

    /// Puts `component` in the directory as `name`, by rename as a deployment would.
    fn install(&self, component: &Path, name: &str) {
        install_component(component, &self.dir.join(name)).expect("install the component");
    }

    fn options(&self) -> ReloadOptions {
        ReloadOptions::default()
            .with_policy(VersioningPolicy::Pinned)
            .with_policies(vec![(
                "UpgradingCountdown".into(),
                VersioningPolicy::AutoUpgrade,
            )])
            // The tests reload explicitly, so each step's outcome is theirs to check.
            .with_scan_interval(None)
            .with_module_store(Some(ModuleStore::new(&self.store)))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(root) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// A hot-reloading worker serving `setup`'s directory, running.
async fn start_worker(client: &Client, task_queue: &str, setup: &Setup) -> RunningWorker {
    RunningWorker::start(
        Worker::builder(client.clone(), task_queue)
            .workflow_dir(&setup.dir)
            .reload_options(setup.options()),
    )
    .await
}

async fn start(
    client: &Client,
    task_queue: &str,
    workflow: WorkflowDefinition<u64, String>,
    id: &str,
    millis: u64,
) -> WorkflowHandle<String> {
    client
        .start_workflow(workflow, &millis, WorkflowOptions::new(id, task_queue))
        .await
        .expect("start the workflow")
}

async fn result(handle: &WorkflowHandle<String>) -> String {
    tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .unwrap_or_else(|_| panic!("{} finished within 60 s", handle.workflow_id()))
        .unwrap_or_else(|e| panic!("{} failed: {e}", handle.workflow_id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_swap_under_pinned_and_auto_upgrade_and_bad_ones_are_refused() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("reload");
    let setup = Setup::new();
    setup.install(&reload_component("v1"), "countdown.wasm");
    let running = start_worker(&env.client, &task_queue, &setup).await;
    let first = running.reload().await;
    let v1 = first
        .current
        .clone()
        .expect("the directory's version is current");
    assert!(first.problems.is_empty(), "{:?}", first.problems);

    // Executions of both policies wait on timers under version 1.
    let pinned = start(&env.client, &task_queue, PINNED, "pinned-1", LONG_TIMER_MS).await;
    let upgrading = start(
        &env.client,
        &task_queue,
        UPGRADING,
        "upgrading-1",
        LONG_TIMER_MS,
    )
    .await;
    wait_for_timer_started(&pinned).await;
    wait_for_timer_started(&upgrading).await;

    // Version 2 is compatible: it replays the auto-upgrade execution and takes over.
    setup.install(&reload_component("v2"), "countdown.wasm");
    let second = running.reload().await;
    assert!(second.activated, "{second:?}");
    assert!(second.problems.is_empty(), "{:?}", second.problems);
    assert_eq!(second.replayed, 1, "the one open auto-upgrade execution");
    let v2 = second.current.clone().expect("version 2 is current");
    assert_ne!(v1, v2);
    let versions = running.worker().versions();
    assert_eq!(
        versions.len(),
        2,
        "version 1 stays loaded for its executions"
    );
    assert!(versions.iter().any(|v| v.build_id == v1 && !v.current));
    assert!(versions.iter().any(|v| v.build_id == v2 && v.current));

    // New executions get the new code.
    let fresh = start(&env.client, &task_queue, PINNED, "pinned-new", 0).await;
    assert_eq!(result(&fresh).await, "v2");
    let fresh = start(&env.client, &task_queue, UPGRADING, "upgrading-new", 0).await;
    assert_eq!(result(&fresh).await, "v2");

    // The auto-upgrade execution that will still be open when version 3 arrives.
    let open = start(
        &env.client,
        &task_queue,
        UPGRADING,
        "upgrading-2",
        LONG_TIMER_MS,
    )
    .await;
    wait_for_timer_started(&open).await;

    // Version 3 changes the commands before the timer: it cannot replay that execution,
    // so it is rejected with a report naming it, and version 2 keeps serving.
    setup.install(&reload_component("v3"), "countdown.wasm");
    let third = running.reload().await;
    assert!(!third.activated, "{third:?}");
    assert_eq!(third.current.as_deref(), Some(v2.as_str()));
    match third.problems.as_slice() {
        [ReloadProblem::Incompatible { workflow_id, .. }] => assert_eq!(workflow_id, "upgrading-2"),
        other => panic!("expected one incompatibility report, got {other:?}"),
    }
    let report = third.problems[0].to_string();
    assert!(report.contains("Nondeterminism"), "{report}");
    let fresh = start(&env.client, &task_queue, PINNED, "after-v3", 0).await;
    assert_eq!(result(&fresh).await, "v2");

    // A version without the auto-upgrade type would strand its open execution.
    std::fs::remove_file(setup.dir.join("countdown.wasm")).expect("remove the module");
    setup.install(&greeting_component(), "greeting.wasm");
    let stranding = running.reload().await;
    assert!(!stranding.activated, "{stranding:?}");
    match stranding.problems.as_slice() {
        [ReloadProblem::Stranded { workflow_id, .. }] => assert_eq!(workflow_id, "upgrading-2"),
        other => panic!("expected the stranded execution named, got {other:?}"),
    }
    std::fs::remove_file(setup.dir.join("greeting.wasm")).expect("remove the module");
    setup.install(&reload_component("v3"), "countdown.wasm");

    // A broken file: nothing changes, new executions still get version 2.
    std::fs::write(setup.dir.join("countdown.wasm"), b"not a component").expect("break it");
    let broken = running.reload().await;
    assert!(!broken.activated, "{broken:?}");
    assert!(
        broken
            .problems
            .iter()
            .any(|p| matches!(p, ReloadProblem::BrokenModule { .. })),
        "{:?}",
        broken.problems
    );
    assert_eq!(broken.current.as_deref(), Some(v2.as_str()));
    let fresh = start(&env.client, &task_queue, PINNED, "after-broken", 0).await;
    assert_eq!(result(&fresh).await, "v2");

    // Adding a module adds its types; removing it takes them away again.
    setup.install(&reload_component("v2"), "countdown.wasm");
    setup.install(&greeting_component(), "greeting.wasm");
    let added = running.reload().await;
    assert!(added.activated, "{added:?}");
    assert!(
        running
            .worker()
            .workflow_types()
            .contains(&"GreetingWorkflow".to_owned())
    );
    std::fs::remove_file(setup.dir.join("greeting.wasm")).expect("remove the module");
    let removed = running.reload().await;
    assert!(removed.activated, "{removed:?}");
    assert_eq!(
        removed.current.as_deref(),
        Some(v2.as_str()),
        "back to version 2"
    );
    assert!(
        !running
            .worker()
            .workflow_types()
            .contains(&"GreetingWorkflow".to_owned())
    );

    // Pinned finished where it started; auto-upgrade moved to version 2.
    assert_eq!(result(&pinned).await, "v1");
    assert_eq!(result(&upgrading).await, "v2");
    assert_eq!(result(&open).await, "v2");
    running.stop().await.expect("worker ended cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinning_holds_across_a_worker_restart() {
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("restart");
    let setup = Setup::new();
    setup.install(&reload_component("v1"), "countdown.wasm");
    let running = start_worker(&env.client, &task_queue, &setup).await;
    let v1 = running
        .reload()
        .await
        .current
        .expect("version 1 is current");
    let pinned = start(&env.client, &task_queue, PINNED, "pinned", LONG_TIMER_MS).await;
    wait_for_timer_started(&pinned).await;

    setup.install(&reload_component("v2"), "countdown.wasm");
    let second = running.reload().await;
    assert!(second.activated, "{second:?}");
    running.stop().await.expect("worker ended cleanly");

    // The directory now holds version 2 only; version 1 comes back from the store
    // because the server says it still has an execution.
    let restarted = start_worker(&env.client, &task_queue, &setup).await;
    let after = restarted.reload().await;
    assert_eq!(after.current, second.current, "version 2 stays current");
    assert!(
        restarted
            .worker()
            .versions()
            .iter()
            .any(|v| v.build_id == v1 && !v.current),
        "version 1 restored: {:?}",
        restarted.worker().versions()
    );
    // The server counts the execution still on version 1.
    let mut counted = None;
    for _ in 0..150 {
        counted = restarted
            .worker()
            .versions()
            .into_iter()
            .find(|v| v.build_id == v1)
            .and_then(|v| v.open_executions);
        if counted == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counted, Some(1), "{:?}", restarted.worker().versions());
    assert_eq!(result(&pinned).await, "v1");
    let fresh = start(&env.client, &task_queue, PINNED, "fresh", 0).await;
    assert_eq!(result(&fresh).await, "v2");
    restarted.stop().await.expect("worker ended cleanly");

    // A worker that starts with the old version's file does not roll the deployment
    // back (a rolling deploy restarting an old worker); version 2 keeps serving.
    setup.install(&reload_component("v1"), "countdown.wasm");
    let old = start_worker(&env.client, &task_queue, &setup).await;
    let handle = old.worker().reload_handle().expect("a reload handle");
    tokio::time::timeout(Duration::from_secs(60), handle.started())
        .await
        .expect("started within 60 s")
        .expect("the worker is running");
    let current: Vec<_> = old
        .worker()
        .versions()
        .into_iter()
        .filter(|v| v.current)
        .collect();
    assert_eq!(
        current.first().map(|v| &v.build_id),
        second.current.as_ref(),
        "{current:?}"
    );
    let fresh = start(&env.client, &task_queue, PINNED, "after-old-start", 0).await;
    assert_eq!(result(&fresh).await, "v2");
    // Asked explicitly, it does.
    let asked = old.reload().await;
    assert!(asked.activated, "{asked:?}");
    assert_eq!(asked.current.as_deref(), Some(v1.as_str()));
    old.stop().await.expect("worker ended cleanly");
}
