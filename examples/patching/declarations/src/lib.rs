//! What the patching example's workflow, worker and starter agree on: the order
//! workflow, its activities, and the id of the patch that added the receipt.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// An order to fulfil.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub customer: String,
    /// Where the receipt goes.
    pub email: String,
    pub amount_cents: u64,
}

/// What fulfilling an order did: the references the services returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderResult {
    pub order: String,
    pub payment: String,
    /// `None` for orders that ran the code from before the receipt was added.
    pub receipt: Option<String>,
    pub tracking: String,
}

/// The id of the change that added [`SEND_RECEIPT`]; it is recorded in the history of
/// every run that takes the new path, so it must never be reused for another change.
pub const SEND_RECEIPT_PATCH: &str = "send-receipt";

/// Charges, (since the patch) sends a receipt, then ships an order.
pub const ORDER_WORKFLOW: WorkflowDefinition<Order, OrderResult> =
    WorkflowDefinition::new("OrderWorkflow");

/// The change made without a patch: not for production. It exists to show that a
/// history from before the change does not replay on it.
pub const UNPATCHED_ORDER_WORKFLOW: WorkflowDefinition<Order, OrderResult> =
    WorkflowDefinition::new("UnpatchedOrderWorkflow");

/// Charges the customer; returns the payment reference.
pub const CHARGE: ActivityDefinition<Order, String> = ActivityDefinition::new("charge");

/// Emails the receipt; returns the receipt number. Added by [`SEND_RECEIPT_PATCH`].
pub const SEND_RECEIPT: ActivityDefinition<Order, String> = ActivityDefinition::new("send_receipt");

/// Hands the order to the carrier; returns the tracking number.
pub const SHIP: ActivityDefinition<Order, String> = ActivityDefinition::new("ship");
