//! What a guest sends to Temporal, bounded before core (or prost, or the server) sees it.
//!
//! Every value an activation returns is checked here, on every path: the commands, the
//! failures inside them, and the failure an activation returns instead of commands.
//!
//! - **Count and size of the whole.** Temporal refuses a task completion over 4 MiB (its
//!   gRPC limit) and records only an empty task failure; each command also costs the
//!   worker host memory several times its wire size. A guest's commands are limited in
//!   number ([`SandboxLimits::max_commands`]) and in bytes together
//!   ([`SandboxLimits::max_commands_bytes`]); what one call may copy out of the guest at
//!   all is capped by wasmtime's hostcall fuel ([`hostcall_fuel`]).
//! - **Size of each payload.** Temporal rejects a payload over its blob size limit (2 MiB
//!   by default); core would catch it too, but with a message that names neither the
//!   workflow nor the fix ([`SandboxLimits::max_payload_bytes`]). A query's answer is not
//!   stored in history, so an oversized one fails that query rather than the task.
//! - **Depth of failure chains**, cut to [`MAX_FAILURE_CHAIN`] frames (see
//!   [`crate::failure_chain`]).

use sandglass_declare::failure_types::QUERY_ANSWER_TOO_LARGE;

use super::SandboxLimits;
use crate::failure_chain::{FAILURE_SOURCE, MAX_FAILURE_CHAIN, truncate_frames};
use crate::wit::{guest, types};

/// Bytes counted for each list element (a payload, a metadata entry, a failure frame) on
/// top of its contents: what its tags, lengths and the host's structs cost, so that a
/// million empty payloads are not free.
const ELEMENT_OVERHEAD: usize = 16;
/// Bytes counted for each command on top of its contents: its tags, sequence number and
/// options, and the task queue or namespace the host fills in.
const COMMAND_OVERHEAD: usize = 64;
/// Most of a name (an activity type, a query id) a message quotes.
const QUOTED_NAME_BYTES: usize = 128;

/// Most text a failure frame keeps in its message or stack trace when it is the reason
/// an activation failed (the task failure message is built from it and is bounded again).
const MAX_TASK_FAILURE_TEXT: usize = 4 << 10;
/// Most of a frame's `source` (an SDK's name) kept in that case.
const MAX_SOURCE_TEXT: usize = 64;

/// What one guest call may copy into the host (wasmtime's hostcall fuel, which counts
/// the bytes of the lifted lists and strings): four times the commands' byte limit, room
/// for the commands and the structs that hold them, and far below wasmtime's 128 MiB
/// default that a guest could otherwise make each activation allocate.
pub fn hostcall_fuel(limits: &SandboxLimits) -> usize {
    limits.max_commands_bytes.saturating_mul(4)
}

/// Why a guest's output as a whole was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputViolation {
    TooManyCommands {
        count: usize,
    },
    CommandsTooLarge {
        size: usize,
    },
    /// One command's payloads exceed the payload limit.
    PayloadTooLarge(OversizedCommand),
}

/// A command whose payloads are larger than the sandbox allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OversizedCommand {
    /// What the command carries, for the message ("the workflow result", ...).
    pub what: String,
    /// Payload bytes (data and metadata) in the command.
    pub size: usize,
}

/// Checks and bounds an activation's commands in place: failure chains are cut, oversized
/// query answers become failed queries, and anything else over a limit refuses the whole.
pub fn check_commands(
    commands: &mut [guest::Command],
    limits: &SandboxLimits,
) -> Result<(), OutputViolation> {
    if commands.len() > limits.max_commands {
        return Err(OutputViolation::TooManyCommands {
            count: commands.len(),
        });
    }
    let mut total = 0usize;
    for command in commands.iter_mut() {
        cut_failure_chains(command);
        let mut size = measure(command);
        if size.payload > limits.max_payload_bytes {
            let guest::Command::RespondToQuery(response) = command else {
                return Err(OutputViolation::PayloadTooLarge(OversizedCommand {
                    what: carried(command),
                    size: size.payload,
                }));
            };
            response.outcome = Err(vec![oversized_answer(size.payload, limits)]);
            size = measure(command);
        }
        total = total.saturating_add(size.total);
    }
    if total > limits.max_commands_bytes {
        return Err(OutputViolation::CommandsTooLarge { size: total });
    }
    Ok(())
}

/// Bounds the failure an activation returned instead of commands (it becomes the task
/// failure's message): its chain is cut and each frame's text is shortened.
pub fn bound_task_failure(failure: &mut types::Failure) {
    truncate_frames(failure, omitted_frame);
    for frame in failure.iter_mut() {
        shorten(&mut frame.message, MAX_TASK_FAILURE_TEXT);
        shorten(&mut frame.stack_trace, MAX_TASK_FAILURE_TEXT);
        shorten(&mut frame.source, MAX_SOURCE_TEXT);
    }
}

/// Cuts `text` to at most `limit` bytes (on a character boundary), saying how much it
/// left out.
pub fn shorten(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let cut = text.floor_char_boundary(limit);
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!("… ({dropped} more bytes)"));
}

/// The command's name in the WIT, for messages.
pub fn command_name(command: &guest::Command) -> &'static str {
    match command {
        guest::Command::ScheduleActivity(_) => "schedule-activity",
        guest::Command::ScheduleLocalActivity(_) => "schedule-local-activity",
        guest::Command::RequestCancelActivity(_) => "request-cancel-activity",
        guest::Command::RequestCancelLocalActivity(_) => "request-cancel-local-activity",
        guest::Command::StartTimer(_) => "start-timer",
        guest::Command::CancelTimer(_) => "cancel-timer",
        guest::Command::CompleteWorkflow(_) => "complete-workflow",
        guest::Command::FailWorkflow(_) => "fail-workflow",
        guest::Command::CancelWorkflow => "cancel-workflow",
        guest::Command::RespondToQuery(_) => "respond-to-query",
        guest::Command::RespondToUpdate(_) => "respond-to-update",
        guest::Command::StartChild(_) => "start-child",
        guest::Command::CancelChild(_) => "cancel-child",
        guest::Command::SignalExternal(_) => "signal-external",
        guest::Command::CancelExternal(_) => "cancel-external",
        guest::Command::ContinueAsNew(_) => "continue-as-new",
        guest::Command::SetPatchMarker(_) => "set-patch-marker",
        guest::Command::UpsertSearchAttributes(_) => "upsert-search-attributes",
        guest::Command::UpsertMemo(_) => "upsert-memo",
    }
}

fn cut_failure_chains(command: &mut guest::Command) {
    let failure = match command {
        guest::Command::FailWorkflow(failure) => failure,
        guest::Command::RespondToQuery(guest::QueryResponse {
            outcome: Err(failure),
            ..
        }) => failure,
        guest::Command::RespondToUpdate(guest::UpdateResponse {
            outcome: guest::UpdateOutcome::Rejected(failure),
            ..
        }) => failure,
        _ => return,
    };
    truncate_frames(failure, omitted_frame);
    debug_assert!(failure.len() <= MAX_FAILURE_CHAIN);
}

/// A failure frame the host writes in the guest's place.
pub fn host_frame(message: String, info: types::FailureInfo) -> types::FailureFrame {
    types::FailureFrame {
        message,
        source: FAILURE_SOURCE.to_owned(),
        stack_trace: String::new(),
        info,
    }
}

fn omitted_frame(message: String) -> types::FailureFrame {
    host_frame(message, types::FailureInfo::Other)
}

fn oversized_answer(size: usize, limits: &SandboxLimits) -> types::FailureFrame {
    let message = format!(
        "the query's answer is {} bytes, more than the {} bytes Temporal accepts in one \
         payload; answer with less (a summary, or a reference to data kept elsewhere), or \
         raise the server's blob size limit and the worker's \
         `SandboxLimits::max_payload_bytes`",
        size, limits.max_payload_bytes
    );
    host_frame(
        message,
        types::FailureInfo::Application(types::ApplicationFailure {
            error_type: QUERY_ANSWER_TOO_LARGE.to_owned(),
            non_retryable: true,
            details: Vec::new(),
        }),
    )
}

/// What one command carries.
struct CommandSize {
    /// Bytes of payloads (and failure text), the part Temporal's blob limit applies to.
    payload: usize,
    /// Everything: payloads, names and ids, and per-element overhead.
    total: usize,
}

fn measure(command: &guest::Command) -> CommandSize {
    let (payload, names) = match command {
        guest::Command::CompleteWorkflow(result) => (result.iter().map(payload_size).sum(), 0),
        guest::Command::FailWorkflow(failure) => (failure_size(failure), 0),
        guest::Command::ScheduleActivity(activity) => (
            payloads_size(&activity.arguments),
            activity.activity_id.len()
                + activity.activity_type.len()
                + activity.task_queue.as_ref().map_or(0, String::len)
                + retry_policy_size(activity.retry_policy.as_ref()),
        ),
        guest::Command::ScheduleLocalActivity(activity) => (
            payloads_size(&activity.arguments),
            activity.activity_id.len()
                + activity.activity_type.len()
                + retry_policy_size(activity.retry_policy.as_ref()),
        ),
        guest::Command::RespondToQuery(response) => (
            match &response.outcome {
                Ok(answer) => answer.iter().map(payload_size).sum(),
                Err(failure) => failure_size(failure),
            },
            response.id.len(),
        ),
        guest::Command::RespondToUpdate(response) => (
            match &response.outcome {
                guest::UpdateOutcome::Completed(result) => result.iter().map(payload_size).sum(),
                guest::UpdateOutcome::Rejected(failure) => failure_size(failure),
                guest::UpdateOutcome::Accepted => 0,
            },
            response.protocol_instance_id.len(),
        ),
        guest::Command::StartChild(child) => (
            payloads_size(&child.arguments)
                + map_size(&child.memo)
                + map_size(&child.search_attributes),
            child.workflow_id.len()
                + child.workflow_type.len()
                + child.task_queue.as_ref().map_or(0, String::len)
                + retry_policy_size(child.retry_policy.as_ref()),
        ),
        guest::Command::SignalExternal(signal) => (
            payloads_size(&signal.arguments),
            signal.workflow.workflow_id.len()
                + signal.workflow.run_id.len()
                + signal.signal_name.len(),
        ),
        guest::Command::CancelExternal(cancel) => (
            0,
            cancel.workflow.workflow_id.len() + cancel.workflow.run_id.len() + cancel.reason.len(),
        ),
        guest::Command::ContinueAsNew(next) => (
            payloads_size(&next.arguments)
                + map_size(&next.memo)
                + map_size(&next.search_attributes),
            next.workflow_type.as_ref().map_or(0, String::len)
                + next.task_queue.as_ref().map_or(0, String::len)
                + retry_policy_size(next.retry_policy.as_ref()),
        ),
        guest::Command::UpsertSearchAttributes(map) | guest::Command::UpsertMemo(map) => {
            (map_size(map), 0)
        }
        guest::Command::SetPatchMarker(marker) => (0, marker.patch_id.len()),
        guest::Command::CancelChild(_)
        | guest::Command::CancelWorkflow
        | guest::Command::StartTimer(_)
        | guest::Command::CancelTimer(_)
        | guest::Command::RequestCancelActivity(_)
        | guest::Command::RequestCancelLocalActivity(_) => (0, 0),
    };
    CommandSize {
        payload,
        total: COMMAND_OVERHEAD + names + payload,
    }
}

/// `name` quoted for a message: Debug-escaped, and cut to [`QUOTED_NAME_BYTES`] first.
pub fn quoted(name: &str) -> String {
    let cut = name.floor_char_boundary(QUOTED_NAME_BYTES.min(name.len()));
    if cut < name.len() {
        format!("{:?}…", &name[..cut])
    } else {
        format!("{name:?}")
    }
}

/// What a command's payloads are, for the message that refuses them.
fn carried(command: &guest::Command) -> String {
    match command {
        guest::Command::CompleteWorkflow(_) => "the workflow result".to_owned(),
        guest::Command::FailWorkflow(_) => "the workflow failure".to_owned(),
        guest::Command::ScheduleActivity(activity) => {
            format!(
                "the arguments of activity {}",
                quoted(&activity.activity_type)
            )
        }
        guest::Command::ScheduleLocalActivity(activity) => {
            format!(
                "the arguments of local activity {}",
                quoted(&activity.activity_type)
            )
        }
        guest::Command::RespondToQuery(response) => {
            format!("the answer to query {}", quoted(&response.id))
        }
        guest::Command::RespondToUpdate(response) => {
            format!(
                "the outcome of update {}",
                quoted(&response.protocol_instance_id)
            )
        }
        guest::Command::StartChild(child) => {
            format!(
                "the arguments of child workflow {}",
                quoted(&child.workflow_type)
            )
        }
        guest::Command::SignalExternal(signal) => {
            format!("the arguments of signal {}", quoted(&signal.signal_name))
        }
        guest::Command::ContinueAsNew(_) => "the arguments of continue-as-new".to_owned(),
        guest::Command::UpsertSearchAttributes(_) => "the upserted search attributes".to_owned(),
        guest::Command::UpsertMemo(_) => "the upserted memo".to_owned(),
        other => format!("a {} command", command_name(other)),
    }
}

fn retry_policy_size(policy: Option<&types::RetryPolicy>) -> usize {
    policy.map_or(0, |policy| {
        policy
            .non_retryable_error_types
            .iter()
            .map(|name| ELEMENT_OVERHEAD + name.len())
            .sum()
    })
}

fn map_size(map: &types::PayloadMap) -> usize {
    map.iter()
        .map(|(name, payload)| name.len() + payload_size(payload))
        .sum()
}

fn payloads_size(payloads: &[types::Payload]) -> usize {
    payloads.iter().map(payload_size).sum()
}

fn payload_size(payload: &types::Payload) -> usize {
    let metadata: usize = payload
        .metadata
        .iter()
        .map(|(key, value)| ELEMENT_OVERHEAD + key.len() + value.len())
        .sum();
    ELEMENT_OVERHEAD + metadata + payload.data.len()
}

/// A failure's text and detail payloads: what Temporal stores of it.
fn failure_size(failure: &types::Failure) -> usize {
    failure
        .iter()
        .map(|frame| {
            let (details, names) = match &frame.info {
                types::FailureInfo::Application(application) => {
                    (&application.details[..], application.error_type.len())
                }
                types::FailureInfo::Canceled(details) => (&details[..], 0),
                types::FailureInfo::Activity(activity) => (
                    &[][..],
                    activity.activity_type.len()
                        + activity.activity_id.len()
                        + activity.retry_state.len(),
                ),
                types::FailureInfo::ChildWorkflow(child) => (
                    &[][..],
                    child.namespace.len()
                        + child.workflow_id.len()
                        + child.run_id.len()
                        + child.workflow_type.len()
                        + child.retry_state.len(),
                ),
                _ => (&[][..], 0),
            };
            ELEMENT_OVERHEAD
                + frame.message.len()
                + frame.source.len()
                + frame.stack_trace.len()
                + names
                + payloads_size(details)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(bytes: usize) -> types::Payload {
        types::Payload {
            metadata: vec![("encoding".to_owned(), b"json/plain".to_vec())],
            data: vec![b'x'; bytes],
        }
    }

    fn timer(seq: u32) -> guest::Command {
        guest::Command::StartTimer(guest::StartTimer {
            seq,
            duration: types::Duration {
                seconds: 1,
                nanos: 0,
            },
        })
    }

    fn limits() -> SandboxLimits {
        SandboxLimits {
            max_payload_bytes: 1024,
            max_commands: 100,
            max_commands_bytes: 8192,
            ..SandboxLimits::default()
        }
    }

    fn frame(message: &str) -> types::FailureFrame {
        types::FailureFrame {
            message: message.to_owned(),
            source: String::new(),
            stack_trace: String::new(),
            info: types::FailureInfo::Other,
        }
    }

    #[test]
    fn small_commands_pass_and_timers_carry_nothing() {
        let mut commands = [
            timer(1),
            guest::Command::CompleteWorkflow(Some(payload(100))),
            guest::Command::CompleteWorkflow(None),
        ];
        assert_eq!(check_commands(&mut commands, &limits()), Ok(()));
    }

    #[test]
    fn an_oversized_result_is_named_with_its_size() {
        let mut commands = [guest::Command::CompleteWorkflow(Some(payload(2000)))];
        assert_eq!(
            check_commands(&mut commands, &limits()),
            Err(OutputViolation::PayloadTooLarge(OversizedCommand {
                what: "the workflow result".to_owned(),
                size: 2000 + "encoding".len() + "json/plain".len() + 2 * ELEMENT_OVERHEAD,
            }))
        );
    }

    #[test]
    fn failure_text_and_details_count() {
        let mut failure = frame(&"m".repeat(600));
        failure.info = types::FailureInfo::Application(types::ApplicationFailure {
            error_type: "E".to_owned(),
            non_retryable: false,
            details: vec![payload(600)],
        });
        let mut commands = [guest::Command::FailWorkflow(vec![failure])];
        match check_commands(&mut commands, &limits()) {
            Err(OutputViolation::PayloadTooLarge(oversized)) => {
                assert_eq!(oversized.what, "the workflow failure")
            }
            other => panic!("expected an oversized failure, got {other:?}"),
        }
    }

    #[test]
    fn too_many_commands_are_refused() {
        let mut commands: Vec<_> = (0..101).map(timer).collect();
        assert_eq!(
            check_commands(&mut commands, &limits()),
            Err(OutputViolation::TooManyCommands { count: 101 })
        );
    }

    #[test]
    fn many_small_commands_add_up() {
        let mut commands: Vec<_> = (0..20)
            .map(|_| guest::Command::UpsertMemo(vec![("k".to_owned(), payload(500))]))
            .collect();
        match check_commands(&mut commands, &limits()) {
            Err(OutputViolation::CommandsTooLarge { size }) => assert!(size > 8192, "{size}"),
            other => panic!("expected too many bytes, got {other:?}"),
        }
    }

    #[test]
    fn empty_payloads_are_not_free() {
        let empty = types::Payload {
            metadata: Vec::new(),
            data: Vec::new(),
        };
        let mut commands = [guest::Command::CompleteWorkflow(Some(empty))];
        check_commands(&mut commands, &limits()).unwrap();
        assert_eq!(
            measure(&commands[0]).total,
            COMMAND_OVERHEAD + ELEMENT_OVERHEAD
        );
    }

    #[test]
    fn an_oversized_query_answer_fails_the_query_only() {
        let mut commands = [guest::Command::RespondToQuery(guest::QueryResponse {
            id: "q1".to_owned(),
            outcome: Ok(Some(payload(5000))),
        })];
        assert_eq!(check_commands(&mut commands, &limits()), Ok(()));
        match &commands[0] {
            guest::Command::RespondToQuery(guest::QueryResponse {
                outcome: Err(failure),
                ..
            }) => assert!(
                failure[0].message.contains("more than the 1024 bytes"),
                "{failure:?}"
            ),
            other => panic!("expected a failed query, got {other:?}"),
        }
    }

    #[test]
    fn deep_failure_chains_are_cut_wherever_they_are() {
        let chain: types::Failure = (0..1000).map(|i| frame(&i.to_string())).collect();
        let mut commands = [
            guest::Command::FailWorkflow(chain.clone()),
            guest::Command::RespondToUpdate(guest::UpdateResponse {
                protocol_instance_id: "u".to_owned(),
                outcome: guest::UpdateOutcome::Rejected(chain.clone()),
            }),
            guest::Command::RespondToQuery(guest::QueryResponse {
                id: "q".to_owned(),
                outcome: Err(chain),
            }),
        ];
        let limits = SandboxLimits::default();
        check_commands(&mut commands, &limits).unwrap();
        for command in &commands {
            let failure = match command {
                guest::Command::FailWorkflow(failure) => failure,
                guest::Command::RespondToUpdate(guest::UpdateResponse {
                    outcome: guest::UpdateOutcome::Rejected(failure),
                    ..
                }) => failure,
                guest::Command::RespondToQuery(guest::QueryResponse {
                    outcome: Err(failure),
                    ..
                }) => failure,
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(failure.len(), MAX_FAILURE_CHAIN);
            assert_eq!(failure[MAX_FAILURE_CHAIN - 1].message, "999");
        }
    }

    #[test]
    fn a_task_failure_is_bounded_in_depth_and_text() {
        let mut failure: types::Failure = (0..100).map(|_| frame(&"é".repeat(40_000))).collect();
        bound_task_failure(&mut failure);
        assert_eq!(failure.len(), MAX_FAILURE_CHAIN);
        for frame in &failure {
            assert!(
                frame.message.len() < MAX_TASK_FAILURE_TEXT + 32,
                "{}",
                frame.message.len()
            );
        }
        assert!(failure[0].message.ends_with("more bytes)"));
    }
}
