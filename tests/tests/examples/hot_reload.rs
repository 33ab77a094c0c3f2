//! The hot-reload example, the way its README runs it: version 1 in the directory, a
//! greeting of each kind waiting, version 2 installed, the scan picks it up.

use std::time::Duration;

use hot_reload_declarations::{GreetingRequest, PINNED_GREETING, UPGRADING_GREETING};
use sandglass_host::reload::ModuleStore;
use sandglass_host::{WorkflowDefinition, WorkflowHandle, WorkflowOptions};
use sandglass_tests::{RunningWorker, TestEnv, wait_for_timer_started};

async fn start(
    env: &TestEnv,
    workflow: WorkflowDefinition<GreetingRequest, String>,
    name: &str,
    wait_seconds: u64,
) -> WorkflowHandle<String> {
    let request = GreetingRequest {
        name: name.to_owned(),
        wait_seconds,
    };
    env.client
        .start_workflow(
            workflow,
            &request,
            WorkflowOptions::new(format!("greet-{name}"), hot_reload_example::TASK_QUEUE),
        )
        .await
        .expect("start a greeting")
}

async fn result(handle: &WorkflowHandle<String>) -> String {
    tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .expect("the greeting finishes within 60 s")
        .expect("the greeting succeeds")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hot_reload_example_swaps_versions_under_running_greetings() {
    let env = TestEnv::start().await;
    let root = std::env::temp_dir().join(format!("sandglass-hot-reload-{}", uuid::Uuid::new_v4()));
    let dir = root.join("workflows");
    hot_reload_example::install("v1", &dir).expect("install version 1");
    let options = hot_reload_example::reload_options()
        .with_module_store(Some(ModuleStore::new(root.join("store"))));
    let running = RunningWorker::start(hot_reload_example::worker_builder(
        env.client.clone(),
        &dir,
        options,
    ))
    .await;
    let worker = running.worker();

    assert_eq!(
        result(&start(&env, PINNED_GREETING, "Ada", 0).await).await,
        "Hello, Ada!"
    );
    let version_1 = worker
        .versions()
        .into_iter()
        .find(|v| v.current)
        .expect("a current version");
    // Their timers outlast loading version 2, which compiles it: seconds on a busy
    // 2-core machine running the whole suite.
    let pinned = start(&env, PINNED_GREETING, "Grace", 20).await;
    let upgrading = start(&env, UPGRADING_GREETING, "Linus", 20).await;
    // Both have started their timers before version 2 arrives.
    wait_for_timer_started(&pinned).await;
    wait_for_timer_started(&upgrading).await;

    hot_reload_example::install("v2", &dir).expect("install version 2");
    // The directory scan (every second) notices the file.
    let mut waited = Duration::ZERO;
    while worker
        .versions()
        .iter()
        .all(|v| !v.current || v.build_id == version_1.build_id)
    {
        assert!(
            waited < Duration::from_secs(30),
            "version 2 not current: {:?}",
            worker.versions()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }

    assert_eq!(
        result(&start(&env, PINNED_GREETING, "Bob", 0).await).await,
        "Hi there, Bob!"
    );
    assert_eq!(
        result(&pinned).await,
        "Hello, Grace!",
        "pinned: finished on version 1"
    );
    assert_eq!(
        result(&upgrading).await,
        "Hi there, Linus!",
        "auto-upgrade: moved to version 2"
    );

    running.stop().await.expect("worker ran cleanly");
    let _ = std::fs::remove_dir_all(root);
}
