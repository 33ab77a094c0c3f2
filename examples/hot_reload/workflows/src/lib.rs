//! `PinnedGreeting` and `UpgradingGreeting`: wait, then greet. Built without features
//! this is version 1 ("Hello"); with `--features v2` it is version 2 ("Hi there").

use std::rc::Rc;
use std::time::Duration;

use hot_reload_declarations::{
    COMPOSE, Composition, GreetingRequest, PINNED_GREETING, UPGRADING_GREETING,
};
use sandglass::prelude::*;

const SALUTATION: &str = if cfg!(feature = "v2") {
    "Hi there"
} else {
    "Hello"
};

async fn greet(ctx: &WorkflowContext, request: GreetingRequest) -> WorkflowResult<String> {
    ctx.sleep(Duration::from_secs(request.wait_seconds)).await?;
    let composition = Composition {
        salutation: SALUTATION.to_owned(),
        name: request.name,
    };
    let options = ActivityOptions::start_to_close(Duration::from_secs(10));
    Ok(ctx.execute_activity(COMPOSE, composition, options).await?)
}

#[derive(Default)]
pub struct PinnedGreeting;

impl Workflow for PinnedGreeting {
    type Input = GreetingRequest;
    type Output = String;
    const DEFINITION: WorkflowDefinition<GreetingRequest, String> = PINNED_GREETING;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        request: GreetingRequest,
    ) -> WorkflowResult<String> {
        greet(&ctx, request).await
    }
}

#[derive(Default)]
pub struct UpgradingGreeting;

impl Workflow for UpgradingGreeting {
    type Input = GreetingRequest;
    type Output = String;
    const DEFINITION: WorkflowDefinition<GreetingRequest, String> = UPGRADING_GREETING;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        request: GreetingRequest,
    ) -> WorkflowResult<String> {
        greet(&ctx, request).await
    }
}

sandglass::export_workflows!(PinnedGreeting, UpgradingGreeting);
