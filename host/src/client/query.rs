//! Querying a workflow: the Python SDK's `handle.query()`.

use sandglass_declare::QueryDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::enums::v1::QueryRejectCondition as ProtoRejectCondition;
use temporalio_common::protos::temporal::api::errordetails::v1::QueryFailedFailure;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::query::v1::WorkflowQuery;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    QueryWorkflowRequest, QueryWorkflowResponse,
};

use crate::payload::to_arguments;

use super::error::{status_detail, workflow_rpc_error};
use super::{ClientError, WorkflowHandle, WorkflowStatus};
use crate::payload::{DecodeError, from_arguments};

/// Why a query returned no value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The workflow was not in a state the [`QueryRejectCondition`] allows.
    #[error(
        "query rejected: the workflow is {status:?}, which the query's reject condition \
         excludes; query with QueryRejectCondition::None to read a closed workflow"
    )]
    Rejected { status: WorkflowStatus },
    /// The workflow's query handler failed, or the workflow has no handler by that name.
    #[error(
        "query failed in the workflow: {message}; check the query name and input against \
         the workflow's handlers"
    )]
    Failed {
        /// The server's message: the handler's error.
        message: String,
        /// The handler's failure, when the server sends it.
        failure: Option<Box<Failure>>,
    },
    #[error("query result does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// When the server refuses a query instead of asking the workflow (the Python SDK's
/// `QueryRejectCondition`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryRejectCondition {
    /// Never: closed workflows answer queries too, from their history.
    #[default]
    None,
    /// Refuse unless the workflow is running.
    NotOpen,
    /// Refuse if the workflow closed other than by completing (failed, cancelled,
    /// terminated, timed out).
    NotCompletedCleanly,
}

impl QueryRejectCondition {
    fn to_proto(self) -> ProtoRejectCondition {
        match self {
            Self::None => ProtoRejectCondition::None,
            Self::NotOpen => ProtoRejectCondition::NotOpen,
            Self::NotCompletedCleanly => ProtoRejectCondition::NotCompletedCleanly,
        }
    }
}

impl<O> WorkflowHandle<O> {
    /// Asks the workflow's query handler `query` for a value. A worker must be running
    /// for the workflow's task queue; a closed workflow is replayed to answer.
    pub async fn query<I: Serialize, R: DeserializeOwned>(
        &self,
        query: QueryDefinition<I, R>,
        input: &I,
    ) -> Result<R, QueryError> {
        self.query_with_reject_condition(query, input, QueryRejectCondition::None)
            .await
    }

    /// [`query`](Self::query), refused by the server when the workflow's state matches
    /// `condition`.
    pub async fn query_with_reject_condition<I: Serialize, R: DeserializeOwned>(
        &self,
        query: QueryDefinition<I, R>,
        input: &I,
        condition: QueryRejectCondition,
    ) -> Result<R, QueryError> {
        let request = QueryWorkflowRequest {
            namespace: self.client.settings.namespace.clone(),
            execution: Some(self.execution()),
            query: Some(WorkflowQuery {
                query_type: query.name().to_owned(),
                query_args: Some(to_arguments(input).map_err(ClientError::Encode)?),
                header: None,
            }),
            query_reject_condition: condition.to_proto() as i32,
        };
        let response = self
            .client
            .connection
            .workflow_service()
            .query_workflow(tonic::Request::new(request))
            .await;
        match response {
            Ok(response) => query_result(response.into_inner()),
            Err(status) => Err(query_error(&self.workflow_id, status)),
        }
    }
}

/// Maps a failed QueryWorkflow call on workflow `workflow_id`.
fn query_error(workflow_id: &str, status: tonic::Status) -> QueryError {
    // The server reports a handler's failure as an error status carrying
    // `QueryFailedFailure`, which is how the Python SDK tells it apart.
    match status_detail::<QueryFailedFailure>(&status) {
        Some(detail) => QueryError::Failed {
            message: status.message().to_owned(),
            failure: detail.failure.map(Box::new),
        },
        None => QueryError::Client(workflow_rpc_error("QueryWorkflow", workflow_id, status)),
    }
}

/// The value of a query response, or why it has none.
fn query_result<R: DeserializeOwned>(response: QueryWorkflowResponse) -> Result<R, QueryError> {
    if let Some(rejected) = response.query_rejected {
        return Err(QueryError::Rejected {
            status: WorkflowStatus::from_proto(rejected.status),
        });
    }
    let payloads = response
        .query_result
        .map(|result| result.payloads)
        .unwrap_or_default();
    Ok(from_arguments(&payloads)?)
}

#[cfg(test)]
mod tests {
    use prost::{Message, Name};
    use temporalio_common::protos::google::rpc::Status as RpcStatus;
    use temporalio_common::protos::temporal::api::common::v1::Payloads;
    use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
    use temporalio_common::protos::temporal::api::query::v1::QueryRejected;

    use super::*;
    use crate::payload::to_payload;

    #[test]
    fn answer_decodes() {
        let response = QueryWorkflowResponse {
            query_result: Some(Payloads {
                payloads: vec![to_payload(&vec!["en", "fr"]).expect("encode")],
            }),
            ..Default::default()
        };
        let languages: Vec<String> = query_result(response).expect("answer");
        assert_eq!(languages, ["en", "fr"]);
    }

    #[test]
    fn wrong_type_is_a_decode_error() {
        let response = QueryWorkflowResponse {
            query_result: Some(Payloads {
                payloads: vec![to_payload("text").expect("encode")],
            }),
            ..Default::default()
        };
        let error = query_result::<u32>(response).expect_err("text is no number");
        assert!(matches!(error, QueryError::Decode(_)), "{error}");
    }

    #[test]
    fn rejection_names_the_status() {
        let response = QueryWorkflowResponse {
            query_rejected: Some(QueryRejected {
                status: WorkflowExecutionStatus::Failed as i32,
            }),
            ..Default::default()
        };
        let error = query_result::<u32>(response).expect_err("rejected");
        assert!(
            matches!(
                error,
                QueryError::Rejected {
                    status: WorkflowStatus::Failed
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("Failed"), "{error}");
    }

    #[test]
    fn handler_failure_is_failed_with_the_servers_message() {
        let details = RpcStatus {
            code: tonic::Code::InvalidArgument as i32,
            message: "unknown query type get_languages".to_owned(),
            details: vec![prost_wkt_types::Any {
                type_url: QueryFailedFailure::type_url(),
                value: QueryFailedFailure {
                    failure: Some(Failure {
                        message: "unknown query type get_languages".to_owned(),
                        ..Default::default()
                    }),
                }
                .encode_to_vec(),
            }],
        };
        let status = tonic::Status::with_details(
            tonic::Code::InvalidArgument,
            "unknown query type get_languages",
            details.encode_to_vec().into(),
        );
        match query_error("wf", status) {
            QueryError::Failed { message, failure } => {
                assert_eq!(message, "unknown query type get_languages");
                assert!(failure.is_some());
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn unknown_workflow_is_not_found() {
        let status = tonic::Status::not_found("workflow not found for ID: wf");
        let error = query_error("wf", status);
        assert!(
            matches!(
                error,
                QueryError::Client(ClientError::WorkflowNotFound { .. })
            ),
            "{error}"
        );
    }
}
