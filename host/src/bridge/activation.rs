//! Core activations into WIT activations.
//!
//! Jobs the guest contract models go to the guest in order. Jobs it does not model yet
//! are answered by the host the way Temporal users expect from a workflow without such
//! handlers: queries and updates are rejected with a failure naming them; signals and
//! cancellation requests are logged and dropped, as the Python SDK does for a workflow
//! that defines no handler for them.

use temporalio_common::protos::coresdk::activity_result::activity_resolution::Status as Resolution;
use temporalio_common::protos::coresdk::workflow_activation::{
    InitializeWorkflow, WorkflowActivation, workflow_activation_job::Variant as Job,
};
use temporalio_common::protos::coresdk::workflow_commands::{
    QueryResult, UpdateResponse, query_result, update_response,
    workflow_command::Variant as Command,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;

use super::failure::{FAILURE_SOURCE, failure_to_wit};
use super::payload::{duration_to_wit, payload_to_wit, timestamp_to_wit};
use crate::sandbox::bindings::{WIT_PACKAGE, guest};

/// An activation, sorted into what the guest handles and what the host answers itself.
#[derive(Debug)]
pub struct RoutedActivation {
    pub run_id: String,
    /// The activation for the guest; `None` when no job needs the guest.
    pub guest: Option<guest::Activation>,
    /// The run's start facts, present on its first activation.
    pub initialize: Option<InitializeWorkflow>,
    /// Core asked to drop the run from the cache.
    pub evict: bool,
    /// Answers the host gives on the guest's behalf, sent after the guest's commands.
    pub host_commands: Vec<Command>,
    /// Jobs dropped with nothing to answer, for the log.
    pub dropped: Vec<&'static str>,
}

/// Why an activation cannot be given to the guest.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(
        "activation has a `{job}` job, but this worker never issues the command that leads \
         to it; this is a bug in Sandglass or in core, please report it"
    )]
    Unexpected { job: &'static str },
    #[error("activation resolves activity {seq} with no result; core sent a malformed job")]
    EmptyActivityResolution { seq: u32 },
}

pub fn route_activation(
    activation: WorkflowActivation,
    task_queue: &str,
    namespace: &str,
) -> Result<RoutedActivation, RouteError> {
    let mut routed = RoutedActivation {
        run_id: activation.run_id.clone(),
        guest: None,
        initialize: None,
        evict: false,
        host_commands: Vec::new(),
        dropped: Vec::new(),
    };
    let mut jobs = Vec::with_capacity(activation.jobs.len());
    for job in activation.jobs.into_iter().filter_map(|j| j.variant) {
        match job {
            Job::InitializeWorkflow(init) => {
                jobs.push(guest::Job::Initialize(guest::Initialize {
                    workflow_type: init.workflow_type.clone(),
                    workflow_id: init.workflow_id.clone(),
                    run_id: activation.run_id.clone(),
                    namespace: namespace.to_owned(),
                    task_queue: task_queue.to_owned(),
                    arguments: init.arguments.iter().map(payload_to_wit).collect(),
                    randomness_seed: init.randomness_seed,
                    attempt: u32::try_from(init.attempt).unwrap_or(0),
                    start_time: init.start_time.as_ref().map(|t| timestamp_to_wit(Some(t))),
                }));
                routed.initialize = Some(init);
            }
            Job::FireTimer(timer) => jobs.push(guest::Job::FireTimer(timer.seq)),
            Job::UpdateRandomSeed(seed) => {
                jobs.push(guest::Job::UpdateRandomSeed(seed.randomness_seed))
            }
            Job::ResolveActivity(resolve) => {
                let seq = resolve.seq;
                let status = resolve
                    .result
                    .and_then(|r| r.status)
                    .ok_or(RouteError::EmptyActivityResolution { seq })?;
                let resolution = match status {
                    Resolution::Completed(success) => guest::ActivityResolution::Completed(
                        success.result.as_ref().map(payload_to_wit),
                    ),
                    Resolution::Failed(failed) => guest::ActivityResolution::Failed(
                        failure_to_wit(&failed.failure.unwrap_or_default()),
                    ),
                    Resolution::Cancelled(cancelled) => guest::ActivityResolution::Cancelled(
                        failure_to_wit(&cancelled.failure.unwrap_or_default()),
                    ),
                    Resolution::Backoff(backoff) => {
                        guest::ActivityResolution::Backoff(guest::LocalActivityBackoff {
                            attempt: backoff.attempt,
                            backoff: duration_to_wit(backoff.backoff_duration.as_ref()),
                            original_schedule_time: backoff
                                .original_schedule_time
                                .as_ref()
                                .map(|t| timestamp_to_wit(Some(t))),
                        })
                    }
                };
                jobs.push(guest::Job::ResolveActivity(guest::ResolveActivity {
                    seq,
                    resolution,
                }));
            }
            Job::QueryWorkflow(query) => {
                routed
                    .host_commands
                    .push(Command::RespondToQuery(QueryResult {
                        query_id: query.query_id,
                        variant: Some(query_result::Variant::Failed(no_handler(
                            "query",
                            &query.query_type,
                        ))),
                    }))
            }
            Job::DoUpdate(update) => {
                routed
                    .host_commands
                    .push(Command::UpdateResponse(UpdateResponse {
                        protocol_instance_id: update.protocol_instance_id,
                        response: Some(update_response::Response::Rejected(no_handler(
                            "update",
                            &update.name,
                        ))),
                    }))
            }
            Job::SignalWorkflow(_) => routed.dropped.push("signal"),
            Job::CancelWorkflow(_) => routed.dropped.push("cancel request"),
            Job::NotifyHasPatch(_) => routed.dropped.push("patch notification"),
            Job::RemoveFromCache(_) => routed.evict = true,
            Job::ResolveChildWorkflowExecutionStart(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve child workflow start",
                });
            }
            Job::ResolveChildWorkflowExecution(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve child workflow",
                });
            }
            Job::ResolveSignalExternalWorkflow(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve signal external workflow",
                });
            }
            Job::ResolveRequestCancelExternalWorkflow(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve cancel external workflow",
                });
            }
            Job::ResolveNexusOperationStart(_) | Job::ResolveNexusOperation(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve nexus operation",
                });
            }
        }
    }
    if !jobs.is_empty() {
        routed.guest = Some(guest::Activation {
            timestamp: timestamp_to_wit(activation.timestamp.as_ref()),
            is_replaying: activation.is_replaying,
            history_length: activation.history_length,
            jobs,
        });
    }
    Ok(routed)
}

/// The failure for a query or update this contract version cannot route to the guest.
fn no_handler(kind: &str, name: &str) -> Failure {
    Failure {
        message: format!(
            "{kind} `{name}`: workflows built against {WIT_PACKAGE} define no {kind} handlers"
        ),
        source: FAILURE_SOURCE.into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::coresdk::workflow_activation::{
        FireTimer, QueryWorkflow, RemoveFromCache, WorkflowActivationJob,
    };

    fn activation(jobs: Vec<Job>) -> WorkflowActivation {
        WorkflowActivation {
            run_id: "run".into(),
            jobs: jobs
                .into_iter()
                .map(|variant| WorkflowActivationJob {
                    variant: Some(variant),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn queries_are_answered_by_the_host_and_timers_go_to_the_guest() {
        let routed = route_activation(
            activation(vec![
                Job::FireTimer(FireTimer { seq: 3 }),
                Job::QueryWorkflow(QueryWorkflow {
                    query_id: "q1".into(),
                    query_type: "__stack_trace".into(),
                    ..Default::default()
                }),
            ]),
            "tq",
            "default",
        )
        .unwrap();
        let guest = routed.guest.expect("timer goes to the guest");
        assert!(matches!(guest.jobs[..], [guest::Job::FireTimer(3)]));
        match &routed.host_commands[..] {
            [Command::RespondToQuery(result)] => {
                assert_eq!(result.query_id, "q1");
                assert!(matches!(
                    &result.variant,
                    Some(query_result::Variant::Failed(f)) if f.message.contains("__stack_trace")
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn eviction_alone_needs_no_guest() {
        let routed = route_activation(
            activation(vec![Job::RemoveFromCache(RemoveFromCache::default())]),
            "tq",
            "default",
        )
        .unwrap();
        assert!(routed.evict);
        assert!(routed.guest.is_none());
    }
}
