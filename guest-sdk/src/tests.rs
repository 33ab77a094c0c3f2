//! Whole-run tests: workflows driven through the runtime by fake activations, the way the
//! host drives them, with no wasm and no host imports involved.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::bindings::exports::sandglass::workflow::guest::{Activation, Command, Job};
use crate::bindings::sandglass::workflow::types::FailureInfo;
use crate::runtime::{Runtime, WorkflowEntry};
use crate::{
    ActivityDefinition, ActivityOptions, LocalActivityOptions, Workflow, WorkflowContext,
    WorkflowDefinition, WorkflowError, WorkflowInit, WorkflowResult, payload,
};
use harness::*;

const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");

fn thirty_seconds() -> ActivityOptions {
    ActivityOptions::start_to_close(Duration::from_secs(30))
}

/// The greeting example: one activity, its result returned.
#[derive(Default)]
struct Greeting;

impl Workflow for Greeting {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = WorkflowDefinition::new("Greeting");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, name: String) -> WorkflowResult<String> {
        Ok(ctx.execute_activity(GREET, name, thirty_seconds()).await?)
    }
}

/// Exercises timers, the clock, randomness, `init` and concurrent activities.
struct Sampler {
    from_init: String,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Sample {
    from_init: String,
    started: u64,
    woke: u64,
    random: u64,
    uuid: String,
    replaying: bool,
    history_length: u32,
    greetings: (String, String),
}

impl WorkflowInit for Sampler {
    fn init(ctx: &WorkflowContext, names: &Vec<String>) -> Self {
        Sampler {
            from_init: format!("{} for {}", ctx.info().workflow_id, names.join("+")),
        }
    }
}

impl Workflow for Sampler {
    type Input = Vec<String>;
    type Output = Sample;
    const DEFINITION: WorkflowDefinition<Vec<String>, Sample> = WorkflowDefinition::new("Sampler");

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        names: Vec<String>,
    ) -> WorkflowResult<Sample> {
        let started = seconds(ctx.now());
        ctx.sleep(Duration::ZERO).await?; // no timer
        ctx.sleep(Duration::from_secs(5)).await?;
        let woke = seconds(ctx.now());
        let first = ctx.execute_activity(GREET, names[0].clone(), thirty_seconds());
        let second = ctx.execute_activity(GREET, names[1].clone(), thirty_seconds());
        let (first, second) = join(first, second).await;
        Ok(Sample {
            from_init: self.from_init.clone(),
            started,
            woke,
            random: ctx.random(),
            uuid: ctx.uuid4(),
            replaying: ctx.is_replaying(),
            history_length: ctx.history_length(),
            greetings: (first?, second?),
        })
    }
}

/// Fails in the ways a workflow can, chosen by its input.
#[derive(Default)]
struct Failing;

impl Workflow for Failing {
    type Input = String;
    type Output = u32;
    const DEFINITION: WorkflowDefinition<String, u32> = WorkflowDefinition::new("Failing");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, how: String) -> WorkflowResult<u32> {
        match how.as_str() {
            "application" => Err(WorkflowError::application("Refused", "no").non_retryable()),
            "no timeout" => {
                let error = ctx
                    .execute_activity(GREET, how, ActivityOptions::default())
                    .await
                    .unwrap_err();
                Err(WorkflowError::application("Saw", error.message()))
            }
            "unencodable input" => {
                let odd: ActivityDefinition<HashMap<(u8, u8), u8>, u32> =
                    ActivityDefinition::new("odd");
                let input = HashMap::from([((1, 2), 3)]);
                Ok(ctx.execute_activity(odd, input, thirty_seconds()).await?)
            }
            _ => {
                let count: ActivityDefinition<String, u32> = ActivityDefinition::new("count");
                Ok(ctx.execute_activity(count, how, thirty_seconds()).await?)
            }
        }
    }
}

/// A local activity, or a cancelled activity, chosen by its input; returns what the
/// activity said or `"cancelled"`.
#[derive(Default)]
struct Cancelling;

impl Workflow for Cancelling {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = WorkflowDefinition::new("Cancelling");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, how: String) -> WorkflowResult<String> {
        let handle = if how.starts_with("local") {
            let options = LocalActivityOptions {
                local_retry_threshold: Some(Duration::from_secs(10)),
                ..LocalActivityOptions::start_to_close(Duration::from_secs(5))
            };
            ctx.execute_local_activity(GREET, how.clone(), options)
        } else {
            ctx.execute_activity(GREET, how.clone(), thirty_seconds())
        };
        let mut handle = handle;
        let result = if how.ends_with("cancel after a timer") {
            match timer_first(ctx.sleep(Duration::from_secs(1)), &mut handle).await {
                Some(result) => result,
                None => {
                    handle.cancel();
                    handle.cancel(); // a second call does nothing
                    handle.await
                }
            }
        } else {
            handle.await
        };
        match result {
            Ok(greeting) => Ok(greeting),
            Err(error) if error.is_cancelled() => Ok("cancelled".to_owned()),
            Err(error) => Err(error.into()),
        }
    }
}

const WORKFLOWS: &[WorkflowEntry] = &[
    WorkflowEntry::of::<Greeting>(),
    WorkflowEntry::of::<Sampler>(),
    WorkflowEntry::of::<Failing>(),
    WorkflowEntry::of::<Cancelling>(),
];

// ---- tests ------------------------------------------------------------------------------

#[test]
fn greeting_schedules_its_activity_then_completes_once() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let commands = runtime
        .activate(activation(100, vec![initialize("Greeting", &"World")]))
        .unwrap();
    let [Command::ScheduleActivity(schedule)] = commands.as_slice() else {
        panic!("expected one schedule-activity, got {commands:?}");
    };
    assert_eq!(schedule.seq, 1);
    assert_eq!(schedule.activity_id, "1");
    assert_eq!(schedule.activity_type, "greet");
    assert_eq!(schedule.task_queue, None);
    assert_eq!(schedule.arguments.len(), 1);
    assert_eq!(schedule.arguments[0].data, b"\"World\"");
    assert_eq!(schedule.start_to_close_timeout.map(|d| d.seconds), Some(30));
    assert!(schedule.schedule_to_close_timeout.is_none());

    let commands = runtime
        .activate(activation(101, vec![completed(1, &"Hello, World!")]))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "Hello, World!");

    // Finished: later activations issue nothing, whatever they carry.
    let later = runtime.activate(activation(102, vec![completed(9, &"late")]));
    assert!(later.unwrap().is_empty());
}

#[test]
fn timers_clock_randomness_and_concurrent_activities() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let names = vec!["Ada".to_owned(), "Grace".to_owned()];
    let commands = runtime
        .activate(activation(1_000, vec![initialize("Sampler", &names)]))
        .unwrap();
    let [Command::StartTimer(timer)] = commands.as_slice() else {
        panic!("expected one start-timer (none for the zero sleep), got {commands:?}");
    };
    assert_eq!((timer.seq, timer.duration.seconds), (1, 5));

    let commands = runtime
        .activate(activation(1_005, vec![Job::FireTimer(1)]))
        .unwrap();
    let scheduled = scheduled(&commands);
    assert_eq!(
        scheduled
            .iter()
            .map(|(seq, name, argument)| (*seq, name.as_str(), argument.data.as_slice()))
            .collect::<Vec<_>>(),
        [
            (1, "greet", &b"\"Ada\""[..]),
            (2, "greet", &b"\"Grace\""[..])
        ]
    );

    // Resolved in the other order, across two activations.
    let second = runtime
        .activate(activation(1_006, vec![completed(2, &"Hi Grace")]))
        .unwrap();
    assert!(second.is_empty(), "{second:?}");
    let mut last = activation(1_007, vec![completed(1, &"Hi Ada")]);
    last.is_replaying = true;
    last.history_length = 17;
    let sample: Sample = decode_completion(&runtime.activate(last).unwrap());

    let mut expected_rng = crate::random::Rng::new(7);
    assert_eq!(
        sample,
        Sample {
            from_init: "wf-1 for Ada+Grace".to_owned(),
            started: 1_000,
            woke: 1_005,
            random: expected_rng.next_u64(),
            uuid: expected_rng.uuid4(),
            replaying: true,
            history_length: 17,
            greetings: ("Hi Ada".to_owned(), "Hi Grace".to_owned()),
        }
    );
}

#[test]
fn update_random_seed_restarts_the_generator() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let names = vec!["a".to_owned(), "b".to_owned()];
    runtime
        .activate(activation(0, vec![initialize("Sampler", &names)]))
        .unwrap();
    runtime
        .activate(activation(
            5,
            vec![Job::UpdateRandomSeed(99), Job::FireTimer(1)],
        ))
        .unwrap();
    let sample: Sample = decode_completion(
        &runtime
            .activate(activation(6, vec![completed(1, &"x"), completed(2, &"y")]))
            .unwrap(),
    );
    assert_eq!(sample.random, crate::random::Rng::new(99).next_u64());
}

#[test]
fn workflow_error_fails_the_workflow() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let commands = runtime
        .activate(activation(0, vec![initialize("Failing", &"application")]))
        .unwrap();
    let [Command::FailWorkflow(frames)] = commands.as_slice() else {
        panic!("expected fail-workflow, got {commands:?}");
    };
    assert_eq!(frames.len(), 1);
    assert_eq!(message(frames), "no");
    assert!(matches!(
        &frames[0].info,
        FailureInfo::Application(a) if a.error_type == "Refused" && a.non_retryable
    ));
}

#[test]
fn activity_failure_is_the_cause_of_the_workflow_failure() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(0, vec![initialize("Failing", &"count")]))
        .unwrap();
    let commands = runtime.activate(activation(1, vec![failed(1)])).unwrap();
    let [Command::FailWorkflow(frames)] = commands.as_slice() else {
        panic!("expected fail-workflow, got {commands:?}");
    };
    let messages: Vec<&str> = frames.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "activity \"count\" failed: boom",
            "Activity task failed",
            "boom"
        ]
    );
}

#[test]
fn missing_close_timeout_resolves_the_activity_with_an_error() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let commands = runtime
        .activate(activation(0, vec![initialize("Failing", &"no timeout")]))
        .unwrap();
    let [Command::FailWorkflow(frames)] = commands.as_slice() else {
        panic!("expected fail-workflow and no schedule-activity, got {commands:?}");
    };
    assert!(
        message(frames).contains("start_to_close_timeout"),
        "{frames:?}"
    );
    assert!(message(frames).contains("\"greet\""), "{frames:?}");
}

#[test]
fn undecodable_input_fails_the_task_naming_type_and_workflow() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let failure = runtime
        .activate(activation(0, vec![initialize("Greeting", &42)]))
        .unwrap_err();
    let text = message(&failure);
    assert!(
        text.contains("\"Greeting\"") && text.contains("String"),
        "{text}"
    );
    assert!(text.contains("input"), "{text}");
    // The instance is broken: the same failure again, whatever comes next.
    let again = runtime.activate(activation(1, vec![])).unwrap_err();
    assert_eq!(message(&again), text);
}

#[test]
fn undecodable_activity_result_fails_the_task() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(0, vec![initialize("Failing", &"count")]))
        .unwrap();
    let failure = runtime
        .activate(activation(1, vec![completed(1, &"not a number")]))
        .unwrap_err();
    let text = message(&failure);
    assert!(
        text.contains("\"Failing\"") && text.contains("\"count\"") && text.contains("u32"),
        "{text}"
    );
    assert!(
        matches!(&failure[0].info, FailureInfo::Application(a) if a.error_type == "PayloadDecodeError")
    );
}

#[test]
fn unencodable_activity_input_fails_the_task() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let failure = runtime
        .activate(activation(
            0,
            vec![initialize("Failing", &"unencodable input")],
        ))
        .unwrap_err();
    let text = message(&failure);
    assert!(
        text.contains("\"Failing\"") && text.contains("\"odd\""),
        "{text}"
    );
    assert!(
        matches!(&failure[0].info, FailureInfo::Application(a) if a.error_type == "PayloadEncodeError")
    );
}

#[test]
fn unknown_workflow_type_lists_the_defined_ones() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let failure = runtime
        .activate(activation(0, vec![initialize("Nope", &"x")]))
        .unwrap_err();
    let text = message(&failure);
    assert!(text.contains("\"Nope\""), "{text}");
    assert!(
        text.contains("[\"Greeting\", \"Sampler\", \"Failing\", \"Cancelling\"]"),
        "{text}"
    );
}

#[test]
fn unknown_or_repeated_seq_fails_the_task() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(0, vec![initialize("Greeting", &"a")]))
        .unwrap();
    let failure = runtime
        .activate(activation(1, vec![completed(5, &"?")]))
        .unwrap_err();
    assert!(message(&failure).contains("seq 5"), "{failure:?}");

    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(0, vec![initialize("Greeting", &"a")]))
        .unwrap();
    let failure = runtime
        .activate(activation(1, vec![Job::FireTimer(1)]))
        .unwrap_err();
    assert!(message(&failure).contains("fire-timer"), "{failure:?}");
}

#[test]
fn protocol_violations_fail_the_task() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let failure = runtime
        .activate(activation(0, vec![Job::FireTimer(1)]))
        .unwrap_err();
    assert!(message(&failure).contains("initialize"), "{failure:?}");

    let mut runtime = Runtime::new(WORKFLOWS);
    let failure = runtime
        .activate(activation(
            0,
            vec![initialize("Greeting", &"a"), initialize("Greeting", &"a")],
        ))
        .unwrap_err();
    assert!(
        message(&failure).contains("already initialized"),
        "{failure:?}"
    );

    let failure = Runtime::new(WORKFLOWS)
        .activate(activation(0, vec![]))
        .unwrap_err();
    assert!(message(&failure).contains("no jobs"), "{failure:?}");
}

#[test]
fn workflow_types_lists_names_in_order() {
    let names: Vec<String> = crate::export::workflow_types(WORKFLOWS)
        .into_iter()
        .map(|description| description.name)
        .collect();
    assert_eq!(names, ["Greeting", "Sampler", "Failing", "Cancelling"]);
    crate::export::assert_unique_names(WORKFLOWS);
}

#[test]
fn a_local_activity_backs_off_on_a_timer_then_retries_under_a_new_seq() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let commands = runtime
        .activate(activation(100, vec![initialize("Cancelling", &"local")]))
        .unwrap();
    let [Command::ScheduleLocalActivity(first)] = commands.as_slice() else {
        panic!("expected one schedule-local-activity, got {commands:?}");
    };
    assert_eq!(
        (first.seq, first.attempt, first.activity_id.as_str()),
        (1, 1, "1")
    );
    assert_eq!(first.local_retry_threshold.map(|d| d.seconds), Some(10));
    assert!(first.original_schedule_time.is_none());

    let commands = runtime
        .activate(activation(101, vec![backoff(1, 4, 30)]))
        .unwrap();
    let [Command::StartTimer(timer)] = commands.as_slice() else {
        panic!("expected the backoff timer, got {commands:?}");
    };
    assert_eq!((timer.seq, timer.duration.seconds), (1, 30));

    let commands = runtime
        .activate(activation(131, vec![Job::FireTimer(1)]))
        .unwrap();
    let [Command::ScheduleLocalActivity(retry)] = commands.as_slice() else {
        panic!("expected the retry, got {commands:?}");
    };
    assert_eq!((retry.seq, retry.attempt), (2, 4));
    assert_eq!(retry.activity_id, "1", "a retry keeps the activity id");
    assert_eq!(retry.original_schedule_time.map(|t| t.seconds), Some(100));
    assert_eq!(retry.arguments[0].data, first.arguments[0].data);

    let commands = runtime
        .activate(activation(132, vec![completed(2, &"Hi")]))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "Hi");
}

#[test]
fn cancelling_a_running_activity_requests_it_and_waits_for_the_resolution() {
    let mut runtime = Runtime::new(WORKFLOWS);
    let commands = runtime
        .activate(activation(
            100,
            vec![initialize("Cancelling", &"remote cancel after a timer")],
        ))
        .unwrap();
    assert!(matches!(
        commands.as_slice(),
        [Command::ScheduleActivity(_), Command::StartTimer(_)]
    ));
    let commands = runtime
        .activate(activation(101, vec![Job::FireTimer(1)]))
        .unwrap();
    assert!(
        matches!(commands.as_slice(), [Command::RequestCancelActivity(1)]),
        "one request, however often cancel is called: {commands:?}"
    );
    let commands = runtime
        .activate(activation(102, vec![cancelled(1)]))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "cancelled");
}

#[test]
fn cancelling_a_local_activity_while_it_backs_off_cancels_the_timer() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(
            100,
            vec![initialize("Cancelling", &"local cancel after a timer")],
        ))
        .unwrap();
    // The attempt fails and backs off (backoff timer 2) before the workflow's timer 1 fires.
    let commands = runtime
        .activate(activation(101, vec![backoff(1, 2, 60)]))
        .unwrap();
    assert!(
        matches!(commands.as_slice(), [Command::StartTimer(t)] if t.seq == 2),
        "{commands:?}"
    );
    let commands = runtime
        .activate(activation(102, vec![Job::FireTimer(1)]))
        .unwrap();
    let [
        Command::CancelTimer(2),
        Command::CompleteWorkflow(Some(result)),
    ] = commands.as_slice()
    else {
        panic!("expected the backoff timer cancelled and the run complete, got {commands:?}");
    };
    assert_eq!(payload::decode::<String>(result).unwrap(), "cancelled");
}

#[test]
fn cancel_after_the_result_arrived_issues_nothing_and_the_result_stands() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(
            100,
            vec![initialize("Cancelling", &"local cancel after a timer")],
        ))
        .unwrap();
    // The result and the timer arrive together: the result is in before `cancel`.
    let commands = runtime
        .activate(activation(
            101,
            vec![completed(1, &"done first"), Job::FireTimer(1)],
        ))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "done first");
}

#[test]
fn a_backoff_after_cancel_resolves_the_handle_instead_of_retrying() {
    let mut runtime = Runtime::new(WORKFLOWS);
    runtime
        .activate(activation(
            100,
            vec![initialize("Cancelling", &"local cancel after a timer")],
        ))
        .unwrap();
    let commands = runtime
        .activate(activation(101, vec![Job::FireTimer(1)]))
        .unwrap();
    assert!(
        matches!(
            commands.as_slice(),
            [Command::RequestCancelLocalActivity(1)]
        ),
        "{commands:?}"
    );
    // The attempt failed as the cancel went out: core answers with a backoff.
    let commands = runtime
        .activate(activation(102, vec![backoff(1, 2, 60)]))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "cancelled");
}

mod features;
mod harness;
mod messages;
