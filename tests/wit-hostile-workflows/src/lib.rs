//! Workflows that attack the host through the WIT itself, with no guest SDK in between:
//! the values a component written by hand (or a broken SDK in another language) can
//! return, which the Rust guest SDK never would.
//!
//! Each workflow type does one thing on its first activation (see [`attack`]); the
//! adversarial suite (`tests/tests/adversarial.rs`) and the sandbox tests
//! (`tests/tests/sandbox_limits.rs`) check that the host bounds it.

wit_bindgen::generate!({
    path: "../../wit",
    world: "workflows",
});

use exports::sandglass::workflow::guest::{
    Activation, ActivityCancellationType, Command, Guest, Job, QueryResponse, ScheduleActivity,
    SetPatchMarker, StartTimer, WorkflowDescription,
};
use sandglass::workflow::host::{LogLevel, log};
use sandglass::workflow::types::{
    Duration, Failure, FailureFrame, FailureInfo, Payload, RetryPolicy,
};

/// Every attack, by workflow type.
const TYPES: &[&str] = &[
    "DeepFailureChainWorkflow",
    "DeepTaskFailureWorkflow",
    "HugeTaskFailureWorkflow",
    "TooManyCommandsWorkflow",
    "CommandFloodWorkflow",
    "OversizedCommandsWorkflow",
    "WitLogFloodWorkflow",
    "HugeLogMessageWorkflow",
    "QueryAttackWorkflow",
    "DoubleCancelWorkflow",
    "NanBackoffWorkflow",
    "ManyPatchesWorkflow",
];

/// Frames in the deep failure chains: far past prost's 100 levels of nesting, and
/// enough that core's workflow thread used to overflow its stack on them.
const DEEP: usize = 5000;

struct Component;

impl Guest for Component {
    fn workflow_types() -> Vec<WorkflowDescription> {
        TYPES
            .iter()
            .map(|name| WorkflowDescription {
                name: (*name).to_owned(),
                signals: vec!["finish".to_owned()],
                queries: Vec::new(),
                updates: Vec::new(),
                dynamic_signals: false,
                dynamic_queries: true,
                dynamic_updates: false,
            })
            .collect()
    }

    fn activate(activation: Activation) -> Result<Vec<Command>, Failure> {
        let mut commands = Vec::new();
        for job in activation.jobs {
            match job {
                Job::Initialize(init) => commands.extend(attack(&init.workflow_type)?),
                Job::Query(query) => commands.extend(answer(query.id, &query.name)),
                Job::Signal(signal) if signal.name == "finish" => {
                    commands.push(Command::CompleteWorkflow(Some(json("\"finished\""))));
                }
                _ => {}
            }
        }
        Ok(commands)
    }
}

/// What each workflow type does on its first activation.
fn attack(workflow_type: &str) -> Result<Vec<Command>, Failure> {
    Ok(match workflow_type {
        // Fails the workflow with a chain of thousands of empty frames: the payload
        // check counts almost nothing.
        "DeepFailureChainWorkflow" => vec![Command::FailWorkflow(chain(DEEP, ""))],
        // The same chain as the activation's error, which fails the task.
        "DeepTaskFailureWorkflow" => return Err(chain(DEEP, "")),
        // An error too large for Temporal to record.
        "HugeTaskFailureWorkflow" => return Err(chain(1, &"x".repeat(10 << 20))),
        // More commands than an activation may return, but few bytes.
        "TooManyCommandsWorkflow" => timers(20_000),
        // So many commands that copying them out is more than one call may copy.
        "CommandFloodWorkflow" => timers(75_000),
        // Three payloads under the per-payload limit that together pass the 4 MiB a
        // task completion may carry.
        "OversizedCommandsWorkflow" => (0..3)
            .map(|i| Command::UpsertMemo(vec![(format!("big-{i}"), json_of_size(3 << 19))]))
            .collect(),
        // 64 MiB of log, led by a message that tries to forge a worker log line.
        "WitLogFloodWorkflow" => {
            log(
                LogLevel::Info,
                "all is well\n2026-12-06T12:00:00.000000Z ERROR sandglass_host::worker: forged \
                 by a workflow\u{1b}[2K",
            );
            let chunk = "y".repeat(64 << 10);
            for _ in 0..1024 {
                log(LogLevel::Info, &chunk);
            }
            vec![Command::CompleteWorkflow(Some(json("\"logged\"")))]
        }
        // One log message larger than what one call may copy into the host.
        "HugeLogMessageWorkflow" => {
            log(LogLevel::Info, &"z".repeat(32 << 20));
            vec![Command::CompleteWorkflow(Some(json("\"logged\"")))]
        }
        // Waits for queries (see `answer`) until signalled.
        "QueryAttackWorkflow" => timers(1),
        "DoubleCancelWorkflow" => vec![
            schedule_greet(None),
            Command::RequestCancelActivity(1),
            Command::RequestCancelActivity(1),
        ],
        "NanBackoffWorkflow" => vec![schedule_greet(Some(RetryPolicy {
            initial_interval: None,
            backoff_coefficient: f64::NAN,
            maximum_interval: None,
            maximum_attempts: 0,
            non_retryable_error_types: Vec::new(),
        }))],
        // Core rebuilds the set of patch ids for each new one: quadratic work.
        "ManyPatchesWorkflow" => (0..1001)
            .map(|i| {
                Command::SetPatchMarker(SetPatchMarker {
                    patch_id: format!("patch-{i}"),
                    deprecated: false,
                })
            })
            .collect(),
        other => return Err(chain(1, &format!("unknown workflow type {other}"))),
    })
}

/// How `QueryAttackWorkflow` answers a query, by its name.
fn answer(id: String, name: &str) -> Vec<Command> {
    let respond = |outcome| {
        Command::RespondToQuery(QueryResponse {
            id: id.clone(),
            outcome,
        })
    };
    match name {
        // A query handler that changes state: it starts a timer.
        "commands" => vec![
            respond(Ok(Some(json("\"ok\"")))),
            Command::StartTimer(StartTimer {
                seq: 2,
                duration: Duration {
                    seconds: 60,
                    nanos: 0,
                },
            }),
        ],
        // No answer at all.
        "silent" => Vec::new(),
        // An answer larger than Temporal accepts in a payload.
        "huge" => vec![respond(Ok(Some(json_of_size(3 << 20))))],
        // An answer to a query nobody asked.
        "stranger" => vec![Command::RespondToQuery(QueryResponse {
            id: "not-asked".to_owned(),
            outcome: Ok(None),
        })],
        // A failure chain thousands of frames deep.
        "deep" => vec![respond(Err(chain(DEEP, "")))],
        _ => vec![respond(Ok(Some(json("\"fine\""))))],
    }
}

fn chain(depth: usize, message: &str) -> Failure {
    (0..depth)
        .map(|_| FailureFrame {
            message: message.to_owned(),
            source: String::new(),
            stack_trace: String::new(),
            info: FailureInfo::Other,
        })
        .collect()
}

fn timers(count: u32) -> Vec<Command> {
    (1..=count)
        .map(|seq| {
            Command::StartTimer(StartTimer {
                seq,
                duration: Duration {
                    seconds: 3600,
                    nanos: 0,
                },
            })
        })
        .collect()
}

fn schedule_greet(retry_policy: Option<RetryPolicy>) -> Command {
    Command::ScheduleActivity(ScheduleActivity {
        seq: 1,
        activity_id: "1".to_owned(),
        activity_type: "greet".to_owned(),
        task_queue: None,
        arguments: vec![json("\"attacker\"")],
        schedule_to_close_timeout: None,
        schedule_to_start_timeout: None,
        start_to_close_timeout: Some(Duration {
            seconds: 30,
            nanos: 0,
        }),
        heartbeat_timeout: None,
        retry_policy,
        cancellation_type: ActivityCancellationType::TryCancel,
        priority: None,
    })
}

fn json(text: &str) -> Payload {
    Payload {
        metadata: vec![("encoding".to_owned(), b"json/plain".to_vec())],
        data: text.as_bytes().to_vec(),
    }
}

/// A JSON string payload of about `bytes` bytes.
fn json_of_size(bytes: usize) -> Payload {
    json(&format!("\"{}\"", "p".repeat(bytes)))
}

export!(Component);
