//! The three workflow types of the contract.
//!
//! Type names are spelled out in `#[run(name = ...)]` so that renaming a Rust type cannot
//! silently break the cross-SDK contract. Activity ids are left to the SDK, which numbers
//! them `"1"`, `"2"`, ... like the Python SDK and Sandglass.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, TimerResult, WorkflowContext, WorkflowResult};

use crate::activities::Greeter;

/// Every `greet` call: start-to-close 10 s, default retry policy.
fn greet_options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(Duration::from_secs(10))
}

/// `GreetingWorkflow(name: str) -> str`: one `greet` activity, returns its result.
#[workflow]
#[derive(Default)]
pub struct GreetingWorkflow;

#[workflow_methods]
impl GreetingWorkflow {
    #[run(name = "GreetingWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        Ok(ctx
            .execute_activity(Greeter::greet, name, greet_options())
            .await?)
    }
}

/// `ParkedWorkflow(seconds: int) -> str`: sleeps on a workflow timer, returns `"woke"`.
///
/// Used to measure what an idle cached run costs a worker.
#[workflow]
#[derive(Default)]
pub struct ParkedWorkflow;

#[workflow_methods]
impl ParkedWorkflow {
    #[run(name = "ParkedWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, seconds: u64) -> WorkflowResult<String> {
        match ctx.timer(Duration::from_secs(seconds)).await {
            TimerResult::Fired => Ok("woke".to_owned()),
            // Only workflow cancellation cancels this timer.
            TimerResult::Cancelled => Err(temporalio_sdk::WorkflowTermination::cancelled()),
        }
    }
}

/// `ChainWorkflow(n: int) -> int`: `greet("link {i}")` for i in 0..n, one after another.
///
/// Its history (6 events per link) is what the replay benchmark replays.
#[workflow]
#[derive(Default)]
pub struct ChainWorkflow;

#[workflow_methods]
impl ChainWorkflow {
    #[run(name = "ChainWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: i64) -> WorkflowResult<i64> {
        for i in 0..n {
            ctx.execute_activity(Greeter::greet, format!("link {i}"), greet_options())
                .await?;
        }
        Ok(n)
    }
}
