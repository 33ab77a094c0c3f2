//! Workflows the integration tests drive against a real Temporal server.
//!
//! Each one isolates a behaviour the tests check: calling an activity served by a worker
//! of another SDK, an activity no worker registered, durable timers, plain `std` reading
//! the deterministic clock and randomness, and a changed version of the greeting
//! workflow for replay; and activity retries, non-retryable errors, heartbeat timeouts and
//! fan-out, for the activity tests.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sandglass::{
    ActivityCancellationType, ActivityDefinition, ActivityOptions, LocalActivityOptions,
    RetryPolicy, Workflow, WorkflowContext, WorkflowDefinition, WorkflowResult,
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
#[derive(Default)]
pub struct RemoteGreetingWorkflow;

impl Workflow for RemoteGreetingWorkflow {
    type Input = RemoteGreeting;
    type Output = String;
    const DEFINITION: WorkflowDefinition<RemoteGreeting, String> =
        WorkflowDefinition::new("RemoteGreetingWorkflow");

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
#[derive(Default)]
pub struct UnregisteredActivityWorkflow;

impl Workflow for UnregisteredActivityWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> =
        WorkflowDefinition::new("UnregisteredActivityWorkflow");

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
#[derive(Default)]
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

    async fn run(self: Rc<Self>, ctx: WorkflowContext, millis: u64) -> WorkflowResult<TimerReport> {
        let before = ctx.now();
        ctx.sleep(Duration::from_millis(millis)).await?;
        let slept = ctx.now().duration_since(before).unwrap_or_default();
        sandglass::info!("slept {slept:?}");
        Ok(TimerReport {
            slept_ms: u64::try_from(slept.as_millis()).unwrap_or(u64::MAX),
            random: ctx.random(),
        })
    }
}

/// What workflow code sees through plain `std` at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StdObservations {
    /// `SystemTime::now()`, in nanoseconds since the Unix epoch.
    pub system_time_nanos: u64,
    /// `ctx.now()` likewise: the same clock through the SDK.
    pub ctx_now_nanos: u64,
    /// The keys of a `HashMap` with std's `RandomState`, in iteration order.
    pub hash_map_order: Vec<u32>,
    /// `RandomState::new().hash_one(42)`: std's random hash keys, condensed.
    pub random_hash: u64,
}

/// What [`StdDeterminismWorkflow`] saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeterminismReport {
    pub before_timer: StdObservations,
    pub after_timer: StdObservations,
    /// `Instant::elapsed` across the timer, in nanoseconds.
    pub instant_elapsed_nanos: u64,
    /// The id of the activity the observations were sealed into.
    pub probe_activity_id: String,
}

/// Reads the clock and randomness through plain `std` (not the SDK) before and after a
/// durable timer of `millis`, prints them, and seals them into the id of a `greet`
/// activity: replaying the history checks that id, so a replay that saw different values
/// would be reported as nondeterministic.
#[derive(Default)]
pub struct StdDeterminismWorkflow;

impl Workflow for StdDeterminismWorkflow {
    type Input = u64;
    type Output = DeterminismReport;
    const DEFINITION: WorkflowDefinition<u64, DeterminismReport> =
        WorkflowDefinition::new("StdDeterminismWorkflow");

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        millis: u64,
    ) -> WorkflowResult<DeterminismReport> {
        let before_timer = observe(&ctx);
        println!("determinism probe before the timer: {before_timer:?}");
        let instant = Instant::now();
        ctx.sleep(Duration::from_millis(millis)).await?;
        let instant_elapsed_nanos = nanos(instant.elapsed());
        let after_timer = observe(&ctx);
        println!("determinism probe after the timer: {after_timer:?}");
        let probe_activity_id = format!(
            "probe-{:016x}",
            fnv1a(format!("{before_timer:?}{after_timer:?}{instant_elapsed_nanos}").as_bytes())
        );
        let options = ActivityOptions {
            activity_id: Some(probe_activity_id.clone()),
            ..ActivityOptions::start_to_close(Duration::from_secs(30))
        };
        ctx.execute_activity(GREET, "probe".to_owned(), options)
            .await?;
        Ok(DeterminismReport {
            before_timer,
            after_timer,
            instant_elapsed_nanos,
            probe_activity_id,
        })
    }
}

fn observe(ctx: &WorkflowContext) -> StdObservations {
    let since_epoch = |time: SystemTime| nanos(time.duration_since(UNIX_EPOCH).unwrap_or_default());
    let map: HashMap<u32, ()> = (0..16).map(|key| (key, ())).collect();
    StdObservations {
        system_time_nanos: since_epoch(SystemTime::now()),
        ctx_now_nanos: since_epoch(ctx.now()),
        hash_map_order: map.into_keys().collect(),
        random_hash: RandomState::new().hash_one(42u64),
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// FNV-1a: a hash with no keys, so the same bytes give the same id on every worker.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Claims to be the greeting example's `GreetingWorkflow` but sleeps before calling the
/// activity: replaying a real greeting history against it must report nondeterminism.
#[derive(Default)]
pub struct ChangedGreetingWorkflow;

impl Workflow for ChangedGreetingWorkflow {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> =
        WorkflowDefinition::new("GreetingWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        ctx.sleep(Duration::from_secs(1)).await?;
        let options = ActivityOptions::start_to_close(Duration::from_secs(30));
        Ok(ctx.execute_activity(GREET, name, options).await?)
    }
}

const FLAKY_UNTIL_THIRD: ActivityDefinition<(), u32> = ActivityDefinition::new("flaky_until_third");
const FAILS_NON_RETRYABLE: ActivityDefinition<(), u32> =
    ActivityDefinition::new("fails_non_retryable");
const HEARTBEAT_THEN_STALL: ActivityDefinition<(), u32> =
    ActivityDefinition::new("heartbeat_then_stall");
const POOL_PROBE: ActivityDefinition<u32, u32> = ActivityDefinition::new("pool_probe");

/// Quick, flat retries, so tests of retrying take well under a second per attempt.
fn quick_retries(maximum_attempts: u32) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        initial_interval: Some(Duration::from_millis(100)),
        backoff_coefficient: Some(1.0),
        maximum_interval: Some(Duration::from_millis(100)),
        maximum_attempts,
        ..RetryPolicy::default()
    })
}

/// Calls `flaky_until_third` with quick retries and returns its result (the attempt
/// that succeeded).
#[derive(Default)]
pub struct ActivityRetryWorkflow;

impl Workflow for ActivityRetryWorkflow {
    type Input = ();
    type Output = u32;
    const DEFINITION: WorkflowDefinition<(), u32> =
        WorkflowDefinition::new("ActivityRetryWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions {
            retry_policy: quick_retries(5),
            ..ActivityOptions::start_to_close(Duration::from_secs(10))
        };
        Ok(ctx.execute_activity(FLAKY_UNTIL_THIRD, (), options).await?)
    }
}

/// Calls `fails_non_retryable` with a policy that would retry, and propagates its error.
#[derive(Default)]
pub struct NonRetryableActivityWorkflow;

impl Workflow for NonRetryableActivityWorkflow {
    type Input = ();
    type Output = u32;
    const DEFINITION: WorkflowDefinition<(), u32> =
        WorkflowDefinition::new("NonRetryableActivityWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions {
            retry_policy: quick_retries(5),
            ..ActivityOptions::start_to_close(Duration::from_secs(10))
        };
        Ok(ctx
            .execute_activity(FAILS_NON_RETRYABLE, (), options)
            .await?)
    }
}

/// Calls `heartbeat_then_stall` with a 1 s heartbeat timeout and quick retries.
#[derive(Default)]
pub struct HeartbeatResumeWorkflow;

impl Workflow for HeartbeatResumeWorkflow {
    type Input = ();
    type Output = u32;
    const DEFINITION: WorkflowDefinition<(), u32> =
        WorkflowDefinition::new("HeartbeatResumeWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<u32> {
        let options = ActivityOptions {
            heartbeat_timeout: Some(Duration::from_secs(1)),
            retry_policy: quick_retries(3),
            ..ActivityOptions::start_to_close(Duration::from_secs(30))
        };
        Ok(ctx
            .execute_activity(HEARTBEAT_THEN_STALL, (), options)
            .await?)
    }
}

/// Starts `count` `pool_probe` activities at once, then awaits them in turn.
#[derive(Default)]
pub struct ActivityFanOutWorkflow;

impl Workflow for ActivityFanOutWorkflow {
    type Input = u32;
    type Output = Vec<u32>;
    const DEFINITION: WorkflowDefinition<u32, Vec<u32>> =
        WorkflowDefinition::new("ActivityFanOutWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, count: u32) -> WorkflowResult<Vec<u32>> {
        let started: Vec<_> = (0..count)
            .map(|i| {
                let options = ActivityOptions::start_to_close(Duration::from_secs(30));
                ctx.execute_activity(POOL_PROBE, i, options)
            })
            .collect();
        let mut results = Vec::with_capacity(started.len());
        for activity in started {
            results.push(activity.await?);
        }
        Ok(results)
    }
}

const HEARTBEAT_UNTIL_CANCELLED: ActivityDefinition<(), String> =
    ActivityDefinition::new("heartbeat_until_cancelled");
const LOCAL_FLAKY: ActivityDefinition<(), u32> = ActivityDefinition::new("local_flaky");

/// What [`CancelActivityWorkflow`] saw.
#[derive(Serialize, Deserialize)]
pub struct CancelReport {
    /// Whether the activity's result was a cancellation.
    pub cancelled: bool,
    /// The error (or result) the workflow got, as text.
    pub outcome: String,
}

/// Starts `heartbeat_until_cancelled`, waits the given milliseconds of workflow time,
/// cancels it and waits until the activity confirms (`WaitCancellationCompleted`).
#[derive(Default)]
pub struct CancelActivityWorkflow;

impl Workflow for CancelActivityWorkflow {
    type Input = u64;
    type Output = CancelReport;
    const DEFINITION: WorkflowDefinition<u64, CancelReport> =
        WorkflowDefinition::new("CancelActivityWorkflow");

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        wait_ms: u64,
    ) -> WorkflowResult<CancelReport> {
        let options = ActivityOptions {
            heartbeat_timeout: Some(Duration::from_secs(5)),
            cancellation_type: ActivityCancellationType::WaitCancellationCompleted,
            retry_policy: quick_retries(1),
            ..ActivityOptions::start_to_close(Duration::from_secs(60))
        };
        let handle = ctx.execute_activity(HEARTBEAT_UNTIL_CANCELLED, (), options);
        ctx.sleep(Duration::from_millis(wait_ms)).await?;
        handle.cancel();
        Ok(match handle.await {
            Ok(result) => CancelReport {
                cancelled: false,
                outcome: result,
            },
            Err(error) => CancelReport {
                cancelled: error.is_cancelled(),
                outcome: error.to_string(),
            },
        })
    }
}

/// Runs `local_flaky` as a local activity, retrying every 1.5 s for up to 3 attempts;
/// with `true`, a 1 s local retry threshold makes each retry wait on a workflow timer,
/// otherwise core waits in the worker. Returns the activity's result.
#[derive(Default)]
pub struct LocalActivityWorkflow;

impl Workflow for LocalActivityWorkflow {
    type Input = bool;
    type Output = u32;
    const DEFINITION: WorkflowDefinition<bool, u32> =
        WorkflowDefinition::new("LocalActivityWorkflow");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, timer_backoff: bool) -> WorkflowResult<u32> {
        let options = LocalActivityOptions {
            retry_policy: Some(RetryPolicy {
                initial_interval: Some(Duration::from_millis(1_500)),
                backoff_coefficient: Some(1.0),
                maximum_attempts: 3,
                ..RetryPolicy::default()
            }),
            local_retry_threshold: Some(Duration::from_secs(if timer_backoff { 1 } else { 10 })),
            ..LocalActivityOptions::start_to_close(Duration::from_secs(5))
        };
        Ok(ctx.execute_local_activity(LOCAL_FLAKY, (), options).await?)
    }
}

mod api;

use api::{
    CancelOtherWorkflow, CancellableWorkflow, ChildWorkflow, CountdownWorkflow, MessagesWorkflow,
    ParentWorkflow, PatchedWorkflow, PrePatchWorkflow, SignalOtherWorkflow, UpsertWorkflow,
};

/// Computes for `rounds` rounds of a hash before returning, in one activation: a healthy
/// workflow that needs real CPU time, for the deadline's tests.
#[derive(Default)]
pub struct BusyWorkflow;

impl Workflow for BusyWorkflow {
    type Input = u64;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u64, String> = WorkflowDefinition::new("BusyWorkflow");

    async fn run(self: Rc<Self>, _ctx: WorkflowContext, rounds: u64) -> WorkflowResult<String> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..rounds {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state = std::hint::black_box(state);
        }
        Ok(format!("{state:016x}"))
    }
}

sandglass::export_workflows!(
    BusyWorkflow,
    MessagesWorkflow,
    ParentWorkflow,
    ChildWorkflow,
    CountdownWorkflow,
    CancellableWorkflow,
    CancelOtherWorkflow,
    PrePatchWorkflow,
    PatchedWorkflow,
    SignalOtherWorkflow,
    UpsertWorkflow,
    RemoteGreetingWorkflow,
    UnregisteredActivityWorkflow,
    TimerWorkflow,
    StdDeterminismWorkflow,
    ChangedGreetingWorkflow,
    ActivityRetryWorkflow,
    NonRetryableActivityWorkflow,
    HeartbeatResumeWorkflow,
    ActivityFanOutWorkflow,
    CancelActivityWorkflow,
    LocalActivityWorkflow
);
