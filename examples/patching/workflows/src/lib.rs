//! `OrderWorkflow`, after a change: orders now get a receipt between payment and
//! shipping. Orders that started before the change are still running on old histories,
//! so the new step sits behind `ctx.patched`: runs replaying a history without the
//! patch's marker take the old path, new runs take the new one.

use std::rc::Rc;
use std::time::Duration;

use patching_declarations::{
    CHARGE, ORDER_WORKFLOW, Order, OrderResult, SEND_RECEIPT, SEND_RECEIPT_PATCH, SHIP,
    UNPATCHED_ORDER_WORKFLOW,
};
use sandglass::prelude::*;

fn options() -> ActivityOptions {
    ActivityOptions::start_to_close(Duration::from_secs(10))
}

#[derive(Default)]
pub struct OrderWorkflow;

impl Workflow for OrderWorkflow {
    type Input = Order;
    type Output = OrderResult;
    const DEFINITION: WorkflowDefinition<Order, OrderResult> = ORDER_WORKFLOW;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        order: Order,
    ) -> WorkflowResult<OrderResult> {
        let payment = ctx
            .execute_activity(CHARGE, order.clone(), options())
            .await?;
        // Step 1 of the change. Step 2, once no run from before it is left: replace
        // the `if` with `ctx.deprecate_patch(SEND_RECEIPT_PATCH);` and the new branch.
        // Step 3, once no run from before step 2 is left: remove that call too.
        let receipt = if ctx.patched(SEND_RECEIPT_PATCH) {
            let receipt = ctx
                .execute_activity(SEND_RECEIPT, order.clone(), options())
                .await?;
            Some(receipt)
        } else {
            None
        };
        let tracking = ctx.execute_activity(SHIP, order.clone(), options()).await?;
        sandglass::info!("order {} fulfilled", order.id);
        Ok(OrderResult {
            order: order.id,
            payment,
            receipt,
            tracking,
        })
    }
}

/// The same change made the wrong way, without `patched`: a run that scheduled `ship`
/// right after `charge` would now replay into `send_receipt` and fail with a
/// nondeterminism error. Never deploy this; it is here for the example's test.
#[derive(Default)]
pub struct UnpatchedOrderWorkflow;

impl Workflow for UnpatchedOrderWorkflow {
    type Input = Order;
    type Output = OrderResult;
    const DEFINITION: WorkflowDefinition<Order, OrderResult> = UNPATCHED_ORDER_WORKFLOW;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        order: Order,
    ) -> WorkflowResult<OrderResult> {
        let payment = ctx
            .execute_activity(CHARGE, order.clone(), options())
            .await?;
        let receipt = ctx
            .execute_activity(SEND_RECEIPT, order.clone(), options())
            .await?;
        let tracking = ctx.execute_activity(SHIP, order.clone(), options()).await?;
        Ok(OrderResult {
            order: order.id,
            payment,
            receipt: Some(receipt),
            tracking,
        })
    }
}

sandglass::export_workflows!(OrderWorkflow, UnpatchedOrderWorkflow);
