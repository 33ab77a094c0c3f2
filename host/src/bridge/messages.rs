//! An activation's queries and updates, and how the host answers them itself.
//!
//! An activation of nothing but queries and updates not yet accepted in history changes
//! nothing in history. If the guest breaks on one, the host fails its queries and
//! rejects its updates instead of failing the workflow task ([`Messages::refuse`]).

use temporalio_common::protos::coresdk::workflow_commands::{
    QueryResult, UpdateResponse, query_result, update_response,
    workflow_command::Variant as CoreCommand,
};
use temporalio_common::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use temporalio_common::protos::coresdk::workflow_completion::workflow_activation_completion::Status;

use super::failure::host_failure;

/// The queries and updates of one activation.
#[derive(Debug, Default)]
pub struct Messages {
    /// Query ids.
    pub queries: Vec<String>,
    /// Updates, as (protocol instance id, bytes of the request).
    pub updates: Vec<(String, usize)>,
    /// Whether they are all the activation holds (and the updates are not yet accepted).
    pub only: bool,
}

impl Messages {
    /// An activation of queries alone: its guest may issue nothing but their answers.
    pub fn queries_only(&self) -> bool {
        self.only && self.updates.is_empty()
    }

    /// Answers each message with `message`: the queries fail, the updates are rejected.
    pub fn refuse(&self, message: &str) -> Vec<CoreCommand> {
        let failure = || host_failure(message.to_owned());
        let queries = self.queries.iter().map(|query_id| {
            CoreCommand::RespondToQuery(QueryResult {
                query_id: query_id.clone(),
                variant: Some(query_result::Variant::Failed(failure())),
            })
        });
        let updates = self.updates.iter().map(|(protocol_instance_id, _)| {
            CoreCommand::UpdateResponse(UpdateResponse {
                protocol_instance_id: protocol_instance_id.clone(),
                response: Some(update_response::Response::Rejected(failure())),
            })
        });
        queries.chain(updates).collect()
    }

    /// What the updates `completion` accepts add to the request core sends with it: core
    /// sends each accepted update's request back.
    pub fn accepted_bytes(&self, completion: &WorkflowActivationCompletion) -> usize {
        let Some(Status::Successful(success)) = &completion.status else {
            return 0;
        };
        success
            .commands
            .iter()
            .filter_map(|command| match &command.variant {
                Some(CoreCommand::UpdateResponse(UpdateResponse {
                    protocol_instance_id,
                    response: Some(update_response::Response::Accepted(())),
                })) => self
                    .updates
                    .iter()
                    .find(|(id, _)| id == protocol_instance_id)
                    .map(|(_, bytes)| *bytes),
                _ => None,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use temporalio_common::protos::temporal::api::failure::v1::Failure;

    use super::*;

    fn respond(id: &str, accepted: bool) -> CoreCommand {
        CoreCommand::UpdateResponse(UpdateResponse {
            protocol_instance_id: id.to_owned(),
            response: Some(if accepted {
                update_response::Response::Accepted(())
            } else {
                update_response::Response::Rejected(Failure::default())
            }),
        })
    }

    #[test]
    fn accepted_updates_count_toward_the_completion_they_go_back_with() {
        let messages = Messages {
            queries: Vec::new(),
            updates: vec![("a".to_owned(), 1002), ("b".to_owned(), 2002)],
            only: false,
        };
        let completion = WorkflowActivationCompletion::from_cmds(
            "run".to_owned(),
            vec![respond("a", true), respond("b", false)],
        );
        assert_eq!(
            messages.accepted_bytes(&completion),
            1002,
            "only the accepted one"
        );
    }

    #[test]
    fn refusing_fails_each_query_and_rejects_each_update() {
        let messages = Messages {
            queries: vec!["q".to_owned()],
            updates: vec![("u".to_owned(), 1)],
            only: true,
        };
        let commands = messages.refuse("broken");
        assert!(matches!(
            &commands[..],
            [
                CoreCommand::RespondToQuery(_),
                CoreCommand::UpdateResponse(_)
            ]
        ));
    }
}
