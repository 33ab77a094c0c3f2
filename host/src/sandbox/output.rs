//! The size of what a guest sends to Temporal, checked before core sees it.
//!
//! Temporal rejects a command whose payloads exceed its blob size limit (2 MiB by
//! default). Core would catch it too, but with a message that names neither the workflow
//! nor the fix; checking here lets the workflow task failure say both.

use super::bindings::{guest, types};

/// A command whose payloads are larger than the sandbox allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OversizedCommand {
    /// What the command carries, for the message ("the workflow result", ...).
    pub what: String,
    /// Payload bytes (data and metadata) in the command.
    pub size: usize,
}

/// The first command of `commands` whose payloads exceed `limit` bytes, if any.
pub fn oversized_command(commands: &[guest::Command], limit: usize) -> Option<OversizedCommand> {
    commands.iter().find_map(|command| {
        let (what, size) = match command {
            guest::Command::CompleteWorkflow(result) => (
                "the workflow result".to_owned(),
                result.iter().map(payload_size).sum(),
            ),
            guest::Command::FailWorkflow(failure) => {
                ("the workflow failure".to_owned(), failure_size(failure))
            }
            guest::Command::ScheduleActivity(activity) => (
                format!("the arguments of activity {:?}", activity.activity_type),
                activity.arguments.iter().map(payload_size).sum(),
            ),
            guest::Command::ScheduleLocalActivity(activity) => (
                format!(
                    "the arguments of local activity {:?}",
                    activity.activity_type
                ),
                activity.arguments.iter().map(payload_size).sum(),
            ),
            guest::Command::RespondToUpdate(response) => (
                format!("the outcome of update {:?}", response.protocol_instance_id),
                match &response.outcome {
                    guest::UpdateOutcome::Completed(result) => {
                        result.iter().map(payload_size).sum()
                    }
                    guest::UpdateOutcome::Rejected(failure) => failure_size(failure),
                    guest::UpdateOutcome::Accepted => 0,
                },
            ),
            guest::Command::StartChild(child) => (
                format!("the arguments of child workflow {:?}", child.workflow_type),
                child.arguments.iter().map(payload_size).sum::<usize>()
                    + map_size(&child.memo)
                    + map_size(&child.search_attributes),
            ),
            guest::Command::SignalExternal(signal) => (
                format!("the arguments of signal {:?}", signal.signal_name),
                signal.arguments.iter().map(payload_size).sum(),
            ),
            guest::Command::ContinueAsNew(next) => (
                "the arguments of continue-as-new".to_owned(),
                next.arguments.iter().map(payload_size).sum::<usize>()
                    + map_size(&next.memo)
                    + map_size(&next.search_attributes),
            ),
            guest::Command::UpsertSearchAttributes(map) => {
                ("the upserted search attributes".to_owned(), map_size(map))
            }
            guest::Command::UpsertMemo(map) => ("the upserted memo".to_owned(), map_size(map)),
            // Query answers are not stored in history; the server limits their size.
            guest::Command::RespondToQuery(_)
            | guest::Command::CancelChild(_)
            | guest::Command::CancelExternal(_)
            | guest::Command::SetPatchMarker(_)
            | guest::Command::CancelWorkflow
            | guest::Command::StartTimer(_)
            | guest::Command::CancelTimer(_)
            | guest::Command::RequestCancelActivity(_)
            | guest::Command::RequestCancelLocalActivity(_) => return None,
        };
        (size > limit).then_some(OversizedCommand { what, size })
    })
}

fn map_size(map: &types::PayloadMap) -> usize {
    map.iter()
        .map(|(name, payload)| name.len() + payload_size(payload))
        .sum()
}

fn payload_size(payload: &types::Payload) -> usize {
    let metadata: usize = payload
        .metadata
        .iter()
        .map(|(key, value)| key.len() + value.len())
        .sum();
    metadata + payload.data.len()
}

/// A failure's text and detail payloads: what Temporal stores of it.
fn failure_size(failure: &types::Failure) -> usize {
    failure
        .iter()
        .map(|frame| {
            let details = match &frame.info {
                types::FailureInfo::Application(application) => &application.details[..],
                types::FailureInfo::Canceled(details) => &details[..],
                _ => &[],
            };
            frame.message.len()
                + frame.source.len()
                + frame.stack_trace.len()
                + details.iter().map(payload_size).sum::<usize>()
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

    #[test]
    fn small_commands_pass_and_timers_carry_nothing() {
        let commands = [
            guest::Command::StartTimer(guest::StartTimer {
                seq: 1,
                duration: types::Duration {
                    seconds: 1,
                    nanos: 0,
                },
            }),
            guest::Command::CompleteWorkflow(Some(payload(100))),
            guest::Command::CompleteWorkflow(None),
        ];
        assert_eq!(oversized_command(&commands, 1024), None);
    }

    #[test]
    fn an_oversized_result_is_named_with_its_size() {
        let commands = [guest::Command::CompleteWorkflow(Some(payload(2000)))];
        assert_eq!(
            oversized_command(&commands, 1024),
            Some(OversizedCommand {
                what: "the workflow result".to_owned(),
                size: 2000 + "encoding".len() + "json/plain".len(),
            })
        );
    }

    #[test]
    fn failure_text_and_details_count() {
        let failure = vec![types::FailureFrame {
            message: "m".repeat(600),
            source: String::new(),
            stack_trace: String::new(),
            info: types::FailureInfo::Application(types::ApplicationFailure {
                error_type: "E".to_owned(),
                non_retryable: false,
                details: vec![payload(600)],
            }),
        }];
        let oversized = oversized_command(&[guest::Command::FailWorkflow(failure)], 1024);
        assert_eq!(
            oversized.map(|o| o.what),
            Some("the workflow failure".to_owned())
        );
    }
}
