//! Updating a workflow: the Python SDK's `handle.execute_update()`,
//! `handle.start_update()` and `WorkflowUpdateHandle`.

use std::marker::PhantomData;

use sandglass_declare::UpdateDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::update::v1::{
    Input, Meta, Outcome, Request, UpdateRef, WaitPolicy, outcome,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    PollWorkflowExecutionUpdateRequest, UpdateWorkflowExecutionRequest,
};

use crate::payload::to_arguments;

use super::error::{failure_chain, workflow_rpc_error};
use super::{ApplicationFailure, Client, ClientError, WorkflowHandle};
use crate::payload::{DecodeError, from_arguments};

/// Why an update returned no value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The update's outcome is a failure: its validator rejected it (it never ran and
    /// left no trace in history), or its handler failed.
    #[error("update failed: {}", failure_chain(.0))]
    Failed(Box<Failure>),
    #[error("update result does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The request did not reach the workflow or its outcome did not come back.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl UpdateError {
    /// The first application failure in the update's failure chain: the error its
    /// validator or handler raised, with its type and details.
    pub fn application_failure(&self) -> Option<ApplicationFailure<'_>> {
        match self {
            Self::Failed(failure) => ApplicationFailure::in_chain(failure),
            _ => None,
        }
    }
}

/// How far an update must have got before [`WorkflowHandle::start_update`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpdateStage {
    /// The validator accepted it (or rejected it: the handle's result then fails);
    /// the handler may still be running.
    #[default]
    Accepted,
    /// The handler has finished; the handle's result is ready.
    Completed,
}

impl UpdateStage {
    fn to_proto(self) -> Stage {
        match self {
            Self::Accepted => Stage::Accepted,
            Self::Completed => Stage::Completed,
        }
    }
}

/// Options for [`WorkflowHandle::start_update`].
#[derive(Clone, Debug, Default)]
pub struct UpdateOptions {
    /// The update's id: sending an update again with the same id returns the first
    /// one's outcome instead of running it twice. Default: a random UUID.
    pub update_id: Option<String>,
    pub wait_for_stage: UpdateStage,
}

impl UpdateOptions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_update_id(mut self, update_id: impl Into<String>) -> Self {
        self.update_id = Some(update_id.into());
        self
    }

    pub fn with_wait_for_stage(mut self, stage: UpdateStage) -> Self {
        self.wait_for_stage = stage;
        self
    }
}

/// An update sent to a workflow. `R` is its result type.
#[derive(Debug)]
pub struct UpdateHandle<R> {
    client: Client,
    update_id: String,
    workflow_id: String,
    run_id: String,
    /// The outcome, when the server sent it with the response that started the update.
    known_outcome: Option<Outcome>,
    result: PhantomData<fn() -> R>,
}

impl<O> WorkflowHandle<O> {
    /// Sends an update and waits for its result.
    pub async fn execute_update<I: Serialize, R: DeserializeOwned>(
        &self,
        update: UpdateDefinition<I, R>,
        input: &I,
    ) -> Result<R, UpdateError> {
        let options = UpdateOptions::new().with_wait_for_stage(UpdateStage::Completed);
        self.start_update(update, input, options)
            .await?
            .result()
            .await
    }

    /// Sends an update and returns once it has reached `options.wait_for_stage`.
    ///
    /// The server may answer before that stage (its long poll ends after about a
    /// minute, e.g. while no worker runs); the request is then sent again with the
    /// same update id, which the server deduplicates, as the Python SDK does.
    pub async fn start_update<I: Serialize, R>(
        &self,
        update: UpdateDefinition<I, R>,
        input: &I,
        options: UpdateOptions,
    ) -> Result<UpdateHandle<R>, UpdateError> {
        let update_id = options
            .update_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let wanted = options.wait_for_stage.to_proto();
        let request = UpdateWorkflowExecutionRequest {
            namespace: self.client.settings.namespace.clone(),
            workflow_execution: Some(self.execution()),
            first_execution_run_id: String::new(),
            wait_policy: Some(WaitPolicy {
                lifecycle_stage: wanted as i32,
            }),
            request: Some(Request {
                meta: Some(Meta {
                    update_id: update_id.clone(),
                    identity: self.client.settings.identity.clone(),
                }),
                input: Some(Input {
                    header: None,
                    name: update.name().to_owned(),
                    args: Some(to_arguments(input).map_err(ClientError::Encode)?),
                }),
                ..Default::default()
            }),
        };
        let response = loop {
            let response = self
                .client
                .connection
                .workflow_service()
                .update_workflow_execution(tonic::Request::new(request.clone()))
                .await
                .map_err(|status| self.rpc_error("UpdateWorkflowExecution", status))?
                .into_inner();
            if reached(response.stage, wanted) || response.outcome.is_some() {
                break response;
            }
        };
        let execution = response
            .update_ref
            .and_then(|update_ref| update_ref.workflow_execution);
        let run_id = execution
            .map(|execution| execution.run_id)
            .filter(|run_id| !run_id.is_empty())
            .or_else(|| self.run_id.clone())
            .unwrap_or_default();
        Ok(UpdateHandle {
            client: self.client.clone(),
            update_id,
            workflow_id: self.workflow_id.clone(),
            run_id,
            known_outcome: response.outcome,
            result: PhantomData,
        })
    }
}

impl<R> UpdateHandle<R> {
    /// The update's id, for a later [`WorkflowHandle::start_update`] with the same id.
    pub fn id(&self) -> &str {
        &self.update_id
    }

    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }
}

impl<R: DeserializeOwned> UpdateHandle<R> {
    /// Waits for the update's outcome and returns its result.
    ///
    /// # Cancel safety
    /// Safe to drop, and may be called again: it only polls.
    pub async fn result(&self) -> Result<R, UpdateError> {
        if let Some(outcome) = &self.known_outcome {
            return outcome_result(outcome.clone());
        }
        let request = PollWorkflowExecutionUpdateRequest {
            namespace: self.client.settings.namespace.clone(),
            update_ref: Some(UpdateRef {
                workflow_execution: Some(
                    temporalio_common::protos::temporal::api::common::v1::WorkflowExecution {
                        workflow_id: self.workflow_id.clone(),
                        run_id: self.run_id.clone(),
                    },
                ),
                update_id: self.update_id.clone(),
            }),
            identity: self.client.settings.identity.clone(),
            wait_policy: Some(WaitPolicy {
                lifecycle_stage: Stage::Completed as i32,
            }),
        };
        loop {
            let response = self
                .client
                .connection
                .workflow_service()
                .poll_workflow_execution_update(tonic::Request::new(request.clone()))
                .await
                .map_err(|status| {
                    workflow_rpc_error("PollWorkflowExecutionUpdate", &self.workflow_id, status)
                })?
                .into_inner();
            // Without an outcome the server's long poll ended first; poll again.
            if let Some(outcome) = response.outcome {
                return outcome_result(outcome);
            }
        }
    }
}

/// Whether a response's `stage` is at least `wanted`.
fn reached(stage: i32, wanted: Stage) -> bool {
    stage >= wanted as i32
}

/// The result an update's outcome holds.
fn outcome_result<R: DeserializeOwned>(outcome: Outcome) -> Result<R, UpdateError> {
    match outcome.value {
        Some(outcome::Value::Success(payloads)) => Ok(from_arguments(&payloads.payloads)?),
        Some(outcome::Value::Failure(failure)) => Err(UpdateError::Failed(Box::new(failure))),
        None => Err(UpdateError::Client(ClientError::MalformedResponse {
            operation: "PollWorkflowExecutionUpdate",
            reason: "the update's outcome is neither a success nor a failure".to_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use temporalio_common::protos::temporal::api::common::v1::Payloads;
    use temporalio_common::protos::temporal::api::failure::v1::ApplicationFailureInfo;
    use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;

    use super::*;
    use crate::payload::to_payload;

    fn success<T: Serialize>(value: &T) -> Outcome {
        Outcome {
            value: Some(outcome::Value::Success(Payloads {
                payloads: vec![to_payload(value).expect("encode")],
            })),
        }
    }

    #[test]
    fn success_decodes() {
        assert_eq!(
            outcome_result::<String>(success(&"fr")).expect("success"),
            "fr"
        );
    }

    #[test]
    fn empty_success_is_unit() {
        let outcome = Outcome {
            value: Some(outcome::Value::Success(Payloads::default())),
        };
        outcome_result::<()>(outcome).expect("unit");
    }

    #[test]
    fn wrong_type_is_a_decode_error() {
        let error = outcome_result::<u32>(success(&"fr")).expect_err("no number");
        assert!(matches!(error, UpdateError::Decode(_)), "{error}");
    }

    #[test]
    fn rejection_is_failed_with_its_application_failure() {
        let outcome = Outcome {
            value: Some(outcome::Value::Failure(Failure {
                message: "language xx is not supported".to_owned(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: "UnsupportedLanguage".to_owned(),
                        details: Some(Payloads {
                            payloads: vec![to_payload("xx").expect("encode")],
                        }),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            })),
        };
        let error = outcome_result::<String>(outcome).expect_err("rejected");
        assert!(error.to_string().contains("not supported"), "{error}");
        let failure = error.application_failure().expect("application failure");
        assert_eq!(failure.error_type(), "UnsupportedLanguage");
        assert_eq!(failure.details::<String>().expect("details"), "xx");
    }

    #[test]
    fn missing_outcome_value_is_malformed() {
        let error = outcome_result::<String>(Outcome { value: None }).expect_err("malformed");
        assert!(
            matches!(
                error,
                UpdateError::Client(ClientError::MalformedResponse { .. })
            ),
            "{error}"
        );
    }

    #[test]
    fn stages_compare_in_lifecycle_order() {
        assert!(!reached(Stage::Unspecified as i32, Stage::Accepted));
        assert!(!reached(Stage::Admitted as i32, Stage::Accepted));
        assert!(reached(Stage::Accepted as i32, Stage::Accepted));
        assert!(reached(Stage::Completed as i32, Stage::Accepted));
        assert!(!reached(Stage::Accepted as i32, Stage::Completed));
        assert!(reached(Stage::Completed as i32, Stage::Completed));
    }
}
