//! Ships a batch of three orders, expediting the second, and prints each shipment.

use std::collections::BTreeSet;

use child_workflows_declarations::{ORDER_BATCH_WORKFLOW, Order, OrderBatch};
use child_workflows_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let order = |id: &str, item: &str, quantity| Order {
        id: id.to_owned(),
        item: item.to_owned(),
        quantity,
    };
    let batch = OrderBatch {
        orders: vec![
            order("A-1", "kettle", 1),
            order("A-2", "teapot", 2),
            order("A-3", "mugs", 6),
        ],
        expedite: Some("A-2".to_owned()),
    };
    let id = format!("order-batch-{}", uuid::Uuid::new_v4());
    let summary = client
        .execute_workflow(
            ORDER_BATCH_WORKFLOW,
            &batch,
            WorkflowOptions::new(id, TASK_QUEUE),
        )
        .await?;
    for shipment in &summary.shipments {
        println!(
            "Order {}: {} x {} shipped {}, tracking {}",
            shipment.order.id,
            shipment.order.quantity,
            shipment.order.item,
            shipment.service,
            shipment.tracking_number
        );
    }
    let expedited = summary
        .shipments
        .iter()
        .filter(|shipment| shipment.service == "express")
        .count();
    // Each shipment names the child that shipped it; count the distinct ones.
    let children: BTreeSet<&str> = summary
        .shipments
        .iter()
        .map(|shipment| shipment.shipped_by.as_str())
        .collect();
    println!(
        "Shipped {} orders with {} child workflows, {expedited} expedited",
        summary.shipments.len(),
        children.len()
    );
    Ok(())
}
