//! The starter: runs one `GreetingWorkflow` and prints its result. The Python SDK's
//! `starter.py`.

use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};
use {{crate}}::TASK_QUEUE;
use {{crate}}_activities::GREETING_WORKFLOW;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "my name".to_owned());
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let result = client
        .execute_workflow(GREETING_WORKFLOW, &name, WorkflowOptions::new(id, TASK_QUEUE))
        .await?;
    println!("Result: {result}");
    Ok(())
}
