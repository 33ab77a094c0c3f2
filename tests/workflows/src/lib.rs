//! Workflows the integration tests drive against a real Temporal server.
//!
//! Each one isolates a behaviour the tests check: calling an activity served by a worker
//! of another SDK, an activity no worker registered, durable timers, and a changed
//! version of the greeting workflow for replay.

use std::rc::Rc;
use std::time::Duration;

use sandglass::{
    ActivityDefinition, ActivityOptions, RetryPolicy, Workflow, WorkflowContext,
    WorkflowDefinition, WorkflowResult,
};
use serde::{Deserialize, Serialize};

const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
const MISSING: ActivityDefinition<String, String> =
    ActivityDefinition::new("activity_no_worker_registered");

/// Where [`RemoteGreetingWorkflow`] sends its activity.
#[derive(Serialize, Deserialize)]
pub struct RemoteGreeting {
    pub name: String,
    pub task_queue: String,
}

/// Runs `greet` on another task queue, e.g. one served by a Python worker.
pub struct RemoteGreetingWorkflow;

impl Workflow for RemoteGreetingWorkflow {
    type Input = RemoteGreeting;
    type Output = String;
    const DEFINITION: WorkflowDefinition<RemoteGreeting, String> =
        WorkflowDefinition::new("RemoteGreetingWorkflow");

    fn init(_ctx: &WorkflowContext, _input: &RemoteGreeting) -> Self {
        Self
    }

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        input: RemoteGreeting,
    ) -> WorkflowResult<String> {
        let options = ActivityOptions {
            task_queue: Some(input.task_queue),
            ..ActivityOptions::start_to_close(Duration::from_secs(30))
        };
        Ok(ctx.execute_activity(GREET, input.name, options).await?)
    }
}

/// Calls an activity no worker registered, with a single attempt.
pub struct UnregisteredActivityWorkflow;

impl Workflow for UnregisteredActivityWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> =
        WorkflowDefinition::new("UnregisteredActivityWorkflow");

    fn init(_ctx: &WorkflowContext, _input: &String) -> Self {
        Self
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, input: String) -> WorkflowResult<String> {
        let options = ActivityOptions {
            retry_policy: Some(RetryPolicy {
                maximum_attempts: 1,
                ..RetryPolicy::default()
            }),
            ..ActivityOptions::start_to_close(Duration::from_secs(10))
        };
        Ok(ctx.execute_activity(MISSING, input, options).await?)
    }
}

/// Sleeps on a durable timer, then reports workflow time before and after, and a
/// random number drawn from the run's seed.
pub struct TimerWorkflow;

#[derive(Serialize, Deserialize)]
pub struct TimerReport {
    pub slept_ms: u64,
    pub random: u64,
}

impl Workflow for TimerWorkflow {
    type Input = u64;
    type Output = TimerReport;
    const DEFINITION: WorkflowDefinition<u64, TimerReport> =
        WorkflowDefinition::new("TimerWorkflow");

    fn init(_ctx: &WorkflowContext, _input: &u64) -> Self {
        Self
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, millis: u64) -> WorkflowResult<TimerReport> {
        let before = ctx.now();
        ctx.sleep(Duration::from_millis(millis)).await;
        let slept = ctx.now().duration_since(before).unwrap_or_default();
        sandglass::info!("slept {slept:?}");
        Ok(TimerReport {
            slept_ms: u64::try_from(slept.as_millis()).unwrap_or(u64::MAX),
            random: ctx.random(),
        })
    }
}

/// Claims to be the greeting example's `GreetingWorkflow` but sleeps before calling the
/// activity: replaying a real greeting history against it must report nondeterminism.
pub struct ChangedGreetingWorkflow;

impl Workflow for ChangedGreetingWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> =
        WorkflowDefinition::new("GreetingWorkflow");

    fn init(_ctx: &WorkflowContext, _input: &String) -> Self {
        Self
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        ctx.sleep(Duration::from_secs(1)).await;
        let options = ActivityOptions::start_to_close(Duration::from_secs(30));
        Ok(ctx.execute_activity(GREET, name, options).await?)
    }
}

sandglass::export_workflows!(
    RemoteGreetingWorkflow,
    UnregisteredActivityWorkflow,
    TimerWorkflow,
    ChangedGreetingWorkflow
);
