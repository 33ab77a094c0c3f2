//! Two workflow types that wait on a timer and then say which build of this crate ran
//! them, so the hot-reload tests can tell versions apart. The tests swap builds with
//! different features into a worker's directory.

use std::rc::Rc;
use std::time::Duration;

use sandglass::{Workflow, WorkflowContext, WorkflowDefinition, WorkflowResult};

/// Which build this is: the tests assert on it.
const VARIANT: &str = if cfg!(feature = "v3") {
    "v3"
} else if cfg!(feature = "v2") {
    "v2"
} else {
    "v1"
};

/// Sleeps for its input (milliseconds), then returns [`VARIANT`]. The tests serve it
/// under the pinned policy.
#[derive(Default)]
pub struct PinnedCountdown;

/// The same, served under the auto-upgrade policy.
#[derive(Default)]
pub struct UpgradingCountdown;

async fn countdown(ctx: &WorkflowContext, millis: u64) -> WorkflowResult<String> {
    if cfg!(feature = "v3") {
        ctx.upsert_memo(&[("variant", VARIANT)]);
    }
    ctx.sleep(Duration::from_millis(millis)).await?;
    Ok(VARIANT.to_owned())
}

impl Workflow for PinnedCountdown {
    type Input = u64;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u64, String> = WorkflowDefinition::new("PinnedCountdown");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, millis: u64) -> WorkflowResult<String> {
        countdown(&ctx, millis).await
    }
}

impl Workflow for UpgradingCountdown {
    type Input = u64;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u64, String> =
        WorkflowDefinition::new("UpgradingCountdown");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, millis: u64) -> WorkflowResult<String> {
        countdown(&ctx, millis).await
    }
}

sandglass::export_workflows!(PinnedCountdown, UpgradingCountdown);
