//! The benchmark's workflows besides the greeting example's: `ParkedWorkflow` (a run
//! that waits on a long timer, to measure what a cached idle run costs) and
//! `ChainWorkflow` (sequential activities, to make a long history for replay). The peer
//! SDKs in `bench/peers` implement the same types, so one history replays on all three.

use std::rc::Rc;
use std::time::Duration;

use greeting_activities::GREET;
use sandglass::prelude::*;

/// Sleeps the given number of seconds on a workflow timer.
#[derive(Default)]
pub struct ParkedWorkflow;

impl Workflow for ParkedWorkflow {
    type Input = u64;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u64, String> = WorkflowDefinition::new("ParkedWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, seconds: u64) -> WorkflowResult<String> {
        ctx.sleep(Duration::from_secs(seconds)).await?;
        Ok("woke".to_owned())
    }
}

/// Runs `greet` `n` times, one after another.
#[derive(Default)]
pub struct ChainWorkflow;

impl Workflow for ChainWorkflow {
    type Input = u32;
    type Output = u32;
    const DEFINITION: WorkflowDefinition<u32, u32> = WorkflowDefinition::new("ChainWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, n: u32) -> WorkflowResult<u32> {
        for i in 0..n {
            let options = ActivityOptions::start_to_close(Duration::from_secs(10));
            ctx.execute_activity(GREET, format!("link {i}"), options)
                .await?;
        }
        Ok(n)
    }
}

sandglass::export_workflows!(ParkedWorkflow, ChainWorkflow);
