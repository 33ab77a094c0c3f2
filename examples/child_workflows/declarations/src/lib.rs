//! What the child-workflows example's workflows, worker and starter agree on: the
//! parent and child workflows, the child's signal, and the shipping activity.

use sandglass_declare::{ActivityDefinition, SignalDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// One order of a batch; its id names its child workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub item: String,
    pub quantity: u32,
}

/// The orders to ship, and which one the customer upgraded to express shipping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBatch {
    pub orders: Vec<Order>,
    /// The id of the order to expedite (the parent signals its child), if any.
    pub expedite: Option<String>,
}

/// What shipping asks the carrier for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    pub order: Order,
    pub expedited: bool,
}

/// A shipped order: the child workflow's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub order: Order,
    /// `"express"` or `"ground"`.
    pub service: String,
    pub tracking_number: String,
    /// The workflow id of the child that shipped it.
    pub shipped_by: String,
}

/// What the parent returns: the shipments, in the batch's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub shipments: Vec<Shipment>,
}

/// The parent: one `ShipOrderWorkflow` child per order.
pub const ORDER_BATCH_WORKFLOW: WorkflowDefinition<OrderBatch, BatchSummary> =
    WorkflowDefinition::new("OrderBatchWorkflow");

/// The child: holds the order briefly in case it is expedited, then ships it.
pub const SHIP_ORDER_WORKFLOW: WorkflowDefinition<Order, Shipment> =
    WorkflowDefinition::new("ShipOrderWorkflow");

/// Upgrades a held order to express shipping.
pub const EXPEDITE: SignalDefinition<()> = SignalDefinition::new("expedite");

/// Books the shipment with the carrier; returns the tracking number.
pub const BOOK_SHIPMENT: ActivityDefinition<ShipmentRequest, String> =
    ActivityDefinition::new("book_shipment");
