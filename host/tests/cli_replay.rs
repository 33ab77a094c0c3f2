//! `sandglass replay` on a history exported by the real `temporal` CLI: the exit code
//! tells a clean replay (0) from nondeterminism (2), as a CI gate would use it.
//!
//! Lives in the host package so the test can run the `sandglass` binary cargo built.

use std::path::{Path, PathBuf};
use std::process::Command;

use sandglass_host::testing::DevServer;
use sandglass_host::{
    ActivityDefinition, Client, ConnectionSettings, Worker, WorkflowDefinition, WorkflowOptions,
};

const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
const GREETING: WorkflowDefinition<String, String> = WorkflowDefinition::new("GreetingWorkflow");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn component(package: &str) -> PathBuf {
    sandglass_host::guest_build::build_workflow_crate(&workspace(), package)
        .unwrap_or_else(|e| panic!("building {package}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_cli_reads_cli_exports_and_flags_nondeterminism() {
    let server = tokio::task::spawn_blocking(DevServer::start)
        .await
        .expect("join")
        .expect("dev server");
    let client = Client::connect(ConnectionSettings::default().with_address(server.address()))
        .await
        .expect("connect");
    let greeting = component("greeting-workflows");
    let changed = component("sandglass-test-workflows");

    let worker = Worker::builder(client.clone(), "cli-replay")
        .workflow_module(&greeting)
        .sync_activity(GREET, |_ctx, name: String| Ok(format!("Hello, {name}!")))
        .build()
        .await
        .expect("worker");
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(async move { worker.run().await });
    let result = client
        .execute_workflow(
            GREETING,
            &"cli".to_owned(),
            WorkflowOptions::new("cli-1", "cli-replay"),
        )
        .await
        .expect("workflow result");
    assert_eq!(result, "Hello, cli!");
    shutdown.shutdown();
    running.await.expect("join").expect("worker run");

    let export = Command::new("temporal")
        .args([
            "workflow",
            "show",
            "--workflow-id",
            "cli-1",
            "--output",
            "json",
        ])
        .args(["--address", &server.address()])
        .output()
        .expect("run the temporal CLI");
    assert!(export.status.success(), "temporal workflow show failed");
    let dir = std::env::temp_dir().join(format!("sandglass-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let history = dir.join("history.json");
    std::fs::write(&history, &export.stdout).expect("write history");

    let replay = |module: &Path| {
        Command::new(env!("CARGO_BIN_EXE_sandglass"))
            .arg("replay")
            .arg(module)
            .arg("--history")
            .arg(&history)
            .output()
            .expect("run sandglass replay")
    };
    let clean = replay(&greeting);
    let stdout = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cli-1 replayed cleanly"), "{stdout}");

    let broken = replay(&changed);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("[TMPRL1100]"),
        "names core's nondeterminism code: {stdout}"
    );
    assert!(
        stdout.contains("ActivityTaskScheduled"),
        "names the event: {stdout}"
    );

    // The same check against the server directly, without an export.
    let fetched = Command::new(env!("CARGO_BIN_EXE_sandglass"))
        .args([
            "replay",
            "--workflow-id",
            "cli-1",
            "--address",
            &server.address(),
        ])
        .arg(&greeting)
        .output()
        .expect("run sandglass replay");
    assert_eq!(
        fetched.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fetched.stdout)
    );
    let _ = std::fs::remove_dir_all(dir);
}
