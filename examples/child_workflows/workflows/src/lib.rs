//! `OrderBatchWorkflow` fans a batch out to one `ShipOrderWorkflow` child per order,
//! expedites one child with a signal through its handle, and collects the shipments.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use child_workflows_declarations::{
    BOOK_SHIPMENT, BatchSummary, EXPEDITE, ORDER_BATCH_WORKFLOW, Order, OrderBatch,
    SHIP_ORDER_WORKFLOW, Shipment, ShipmentRequest,
};
use sandglass::prelude::*;
use sandglass::{ChildWorkflowOptions, ParentClosePolicy, join_all};

/// How long a child holds its order for an `expedite` signal before shipping by ground.
/// The parent signals within milliseconds of the start, so this is a wide margin.
const HOLD: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct OrderBatchWorkflow;

impl Workflow for OrderBatchWorkflow {
    type Input = OrderBatch;
    type Output = BatchSummary;
    const DEFINITION: WorkflowDefinition<OrderBatch, BatchSummary> = ORDER_BATCH_WORKFLOW;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        batch: OrderBatch,
    ) -> WorkflowResult<BatchSummary> {
        if let Some(id) = &batch.expedite
            && !batch.orders.iter().any(|order| &order.id == id)
        {
            return Err(WorkflowError::application(
                "UnknownOrder",
                format!("cannot expedite order {id:?}: it is not in the batch"),
            )
            .non_retryable());
        }

        // The start commands are issued here, all at once; the children run in parallel.
        let starts: Vec<_> = batch
            .orders
            .iter()
            .map(|order| {
                ctx.start_child_workflow(SHIP_ORDER_WORKFLOW, order, child_options(&ctx, order))
            })
            .collect();
        let children = join_all(starts)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        sandglass::info!("started {} children", children.len());

        // Children come back in the batch's order, so the handles line up with the orders.
        let to_expedite = children
            .iter()
            .zip(&batch.orders)
            .find(|(_, order)| batch.expedite.as_ref() == Some(&order.id));
        if let Some((child, _)) = to_expedite {
            child.signal(EXPEDITE, &()).await?;
            sandglass::info!("expedited {}", child.workflow_id());
        }

        let shipments = join_all(children)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BatchSummary { shipments })
    }
}

/// The child's options: an id derived from the parent's, and `Abandon` on parent close.
///
/// The id makes the child an idempotency key: a second batch workflow with the same id
/// cannot ship the same order twice while the first one's child still runs (the start
/// fails with "already exists"), and the Web UI shows which batch an order belongs to.
///
/// `Abandon` because a shipment handed to the carrier must finish even if the batch
/// workflow is terminated, times out or fails on another order; the default,
/// `Terminate`, would cut such shipments off halfway.
fn child_options(ctx: &WorkflowContext, order: &Order) -> ChildWorkflowOptions {
    ChildWorkflowOptions {
        parent_close_policy: ParentClosePolicy::Abandon,
        ..ChildWorkflowOptions::with_id(format!("{}-{}", ctx.info().workflow_id, order.id))
    }
}

/// Ships one order: holds it for [`HOLD`] in case it is expedited, then books it.
#[derive(Default)]
pub struct ShipOrderWorkflow {
    expedited: Cell<bool>,
}

impl Workflow for ShipOrderWorkflow {
    type Input = Order;
    type Output = Shipment;
    const DEFINITION: WorkflowDefinition<Order, Shipment> = SHIP_ORDER_WORKFLOW;

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers.signal(EXPEDITE, |workflow, _ctx, ()| workflow.expedited.set(true));
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, order: Order) -> WorkflowResult<Shipment> {
        let this = self.clone();
        // An expedited order ships at once; the others when the hold ends.
        let expedited = ctx
            .wait_condition_timeout(move || this.expedited.get(), HOLD)
            .await?;
        let request = ShipmentRequest {
            order: order.clone(),
            expedited,
        };
        let options = ActivityOptions::start_to_close(Duration::from_secs(10));
        let tracking_number = ctx
            .execute_activity(BOOK_SHIPMENT, request, options)
            .await?;
        Ok(Shipment {
            order,
            service: if expedited { "express" } else { "ground" }.to_owned(),
            tracking_number,
            shipped_by: ctx.info().workflow_id.clone(),
        })
    }
}

sandglass::export_workflows!(OrderBatchWorkflow, ShipOrderWorkflow);
