//! `hot-reload-starter [pinned|upgrading] <name> <wait seconds>`: starts a greeting,
//! waits for it and prints it.

use hot_reload_declarations::{GreetingRequest, PINNED_GREETING, UPGRADING_GREETING};
use hot_reload_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("warn");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, name, wait] = args.as_slice() else {
        anyhow::bail!("usage: hot-reload-starter pinned|upgrading <name> <wait seconds>");
    };
    let workflow = match kind.as_str() {
        "pinned" => PINNED_GREETING,
        "upgrading" => UPGRADING_GREETING,
        other => anyhow::bail!("unknown kind {other:?}; use pinned or upgrading"),
    };
    let request = GreetingRequest {
        name: name.clone(),
        wait_seconds: wait.parse()?,
    };
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let id = format!("hot-reload-{kind}-{name}-{}", uuid::Uuid::new_v4().simple());
    let handle = client
        .start_workflow(workflow, &request, WorkflowOptions::new(id, TASK_QUEUE))
        .await?;
    println!(
        "started {} ({kind}); waiting {wait} s",
        handle.workflow_id()
    );
    println!("Result: {}", handle.result().await?);
    Ok(())
}
