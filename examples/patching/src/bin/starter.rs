//! Runs one order on the current (patched) code and prints what it did; a new run
//! takes the new path, so it gets a receipt.

use patching_declarations::{ORDER_WORKFLOW, Order};
use patching_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let order = Order {
        id: "A-1001".to_owned(),
        customer: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
        amount_cents: 4200,
    };
    let id = format!("order-{}-{}", order.id, uuid::Uuid::new_v4());
    let result = client
        .execute_workflow(ORDER_WORKFLOW, &order, WorkflowOptions::new(id, TASK_QUEUE))
        .await?;
    println!(
        "Order {}: payment {}, receipt {}, tracking {}",
        result.order,
        result.payment,
        result.receipt.as_deref().unwrap_or("none"),
        result.tracking
    );
    Ok(())
}
