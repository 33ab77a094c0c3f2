//! Workflow histories as users export them.
//!
//! `temporal workflow show --output json` and the Web UI's download write proto3 JSON:
//! camelCase field names, enum values as their names, 64-bit integers as strings,
//! durations as `"10s"`. Reading that form needs the protobuf schema, so this module
//! decodes through the descriptor set `temporalio-protos` compiled, then re-encodes as
//! the `History` proto core replays.

use prost::Message;
use prost_reflect::DynamicMessage;
use temporalio_common::protos::temporal::api::history::v1::{History, history_event::Attributes};

use crate::failure_chain::wire::bound_message;

const HISTORY_MESSAGE: &str = "temporal.api.history.v1.History";

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryJsonError {
    #[error(
        "not a Temporal history in proto3 JSON ({0}); export one with \
         `temporal workflow show --workflow-id <id> --output json > history.json`"
    )]
    Json(#[source] serde_json::Error),
    #[error(
        "the history nests deeper than this reader goes ({0}): a failure chain of more than \
         about 120 causes, which another SDK wrote; replay it from the server instead \
         (`sandglass replay --workflow-id <id>`), which cuts such chains as it reads them"
    )]
    TooDeep(#[source] serde_json::Error),
    #[error("the history has no events; was the workflow id right?")]
    Empty,
    #[error("the embedded Temporal API schema is unusable ({0}); this is a Sandglass build bug")]
    Schema(String),
}

fn history_descriptor() -> Result<prost_reflect::MessageDescriptor, HistoryJsonError> {
    let pool = crate::descriptors::pool().map_err(|e| HistoryJsonError::Schema(e.to_owned()))?;
    pool.get_message_by_name(HISTORY_MESSAGE)
        .ok_or_else(|| HistoryJsonError::Schema(format!("{HISTORY_MESSAGE} is missing")))
}

/// Parses a history in the proto3 JSON form the `temporal` CLI writes.
pub fn history_from_json(json: &[u8]) -> Result<History, HistoryJsonError> {
    let descriptor = history_descriptor()?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor, &mut deserializer).map_err(|e| {
        // serde_json stops at 128 levels of nesting rather than overflow the stack.
        if e.to_string().starts_with("recursion limit exceeded") {
            HistoryJsonError::TooDeep(e)
        } else {
            HistoryJsonError::Json(e)
        }
    })?;
    deserializer.end().map_err(HistoryJsonError::Json)?;
    // Failure chains deeper than prost decodes are cut as the connection cuts them.
    let encoded = message.encode_to_vec();
    let encoded = bound_message(HISTORY_MESSAGE, &encoded).unwrap_or(encoded);
    let history =
        History::decode(encoded.as_slice()).map_err(|e| HistoryJsonError::Schema(e.to_string()))?;
    if history.events.is_empty() {
        return Err(HistoryJsonError::Empty);
    }
    Ok(history)
}

/// Writes a history as proto3 JSON, the form [`history_from_json`] and the CLI read.
pub fn history_to_json(history: &History) -> Result<String, HistoryJsonError> {
    let descriptor = history_descriptor()?;
    let message = DynamicMessage::decode(descriptor, history.encode_to_vec().as_slice())
        .map_err(|e| HistoryJsonError::Schema(e.to_string()))?;
    serde_json::to_string_pretty(&message).map_err(HistoryJsonError::Json)
}

/// The workflow id recorded in the history's first event, when the server wrote it.
pub fn workflow_id(history: &History) -> Option<&str> {
    match history.events.first()?.attributes.as_ref()? {
        Attributes::WorkflowExecutionStartedEventAttributes(started) => {
            Some(started.workflow_id.as_str()).filter(|id| !id.is_empty())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI_JSON: &str = r#"{
  "events": [
    {
      "eventId": "1",
      "eventTime": "2026-11-25T17:03:11.095797488Z",
      "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
      "taskId": "1048587",
      "workflowExecutionStartedEventAttributes": {
        "workflowType": { "name": "GreetingWorkflow" },
        "taskQueue": { "name": "my-task-queue", "kind": "TASK_QUEUE_KIND_NORMAL" },
        "input": { "payloads": [ { "metadata": { "encoding": "anNvbi9wbGFpbg==" }, "data": "Impzb24i" } ] },
        "workflowTaskTimeout": "10s",
        "attempt": 1,
        "workflowId": "hist-1"
      }
    }
  ]
}"#;

    #[test]
    fn reads_what_the_cli_writes() {
        let history = history_from_json(CLI_JSON.as_bytes()).unwrap();
        let event = &history.events[0];
        assert_eq!(event.event_id, 1);
        assert_eq!(event.task_id, 1_048_587);
        match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => {
                assert_eq!(
                    started.workflow_type.as_ref().unwrap().name,
                    "GreetingWorkflow"
                );
                assert_eq!(
                    started.input.as_ref().unwrap().payloads[0].data,
                    b"\"json\""
                );
                assert_eq!(started.workflow_task_timeout.unwrap().seconds, 10);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(workflow_id(&history), Some("hist-1"));
    }

    #[test]
    fn round_trips_through_json() {
        let history = history_from_json(CLI_JSON.as_bytes()).unwrap();
        let json = history_to_json(&history).unwrap();
        assert_eq!(history_from_json(json.as_bytes()).unwrap(), history);
    }

    #[test]
    fn a_history_nested_too_deep_says_how_to_replay_it_instead() {
        let mut failure = String::from(r#"{"message": "root"}"#);
        for _ in 0..200 {
            failure = format!(r#"{{"message": "wrapped", "cause": {failure}}}"#);
        }
        let json = format!(
            r#"{{"events": [{{"eventId": "5", "childWorkflowExecutionFailedEventAttributes":
               {{"failure": {failure}}}}}]}}"#
        );
        let err = history_from_json(json.as_bytes()).unwrap_err();
        assert!(matches!(err, HistoryJsonError::TooDeep(_)), "{err}");
        assert!(err.to_string().contains("--workflow-id"), "{err}");
    }

    #[test]
    fn a_chain_prost_would_refuse_is_cut_as_the_connection_cuts_it() {
        let mut failure = String::from(r#"{"message": "root"}"#);
        for level in 0..110 {
            failure = format!(r#"{{"message": "wrapped {level}", "cause": {failure}}}"#);
        }
        let json = format!(
            r#"{{"events": [{{"eventId": "5", "childWorkflowExecutionFailedEventAttributes":
               {{"failure": {failure}}}}}]}}"#
        );
        let history = history_from_json(json.as_bytes()).unwrap();
        let Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(child)) =
            &history.events[0].attributes
        else {
            panic!("unexpected {:?}", history.events[0]);
        };
        let depth = std::iter::successors(child.failure.as_ref(), |f| f.cause.as_deref()).count();
        assert_eq!(depth, crate::failure_chain::MAX_FAILURE_CHAIN);
    }

    #[test]
    fn explains_bad_input() {
        let err = history_from_json(b"{\"events\": 5}").unwrap_err();
        assert!(err.to_string().contains("temporal workflow show"), "{err}");
        assert!(matches!(
            history_from_json(b"{}"),
            Err(HistoryJsonError::Empty)
        ));
    }
}
