//! Core activations into WIT activations: the *route* step of an activation.
//!
//! One walk over core's jobs gives everything the rest of the activation needs: the WIT
//! activation for the guest (every job but eviction, in core's order), whether core asks
//! to evict the run and why, the facts of a run's start, a new randomness seed, and the
//! activation's queries and updates.

use temporalio_common::protos::coresdk::activity_result::activity_resolution::Status as Resolution;
use temporalio_common::protos::coresdk::child_workflow::child_workflow_result::Status as ChildResult;
use temporalio_common::protos::coresdk::workflow_activation::resolve_child_workflow_execution_start::Status as ChildStart;
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, remove_from_cache::EvictionReason, workflow_activation_job::Variant as Job,
};

use std::time::Duration;

use temporalio_common::protos::temporal::api::common::v1::Payload;

use super::failure::failure_to_wit;
use super::messages::Messages;
use super::payload::{duration_to_wit, payload_map_to_wit, payload_to_wit, timestamp_to_wit};
use crate::wit::guest;

/// An activation, sorted into what the guest handles and what the host needs to know.
#[derive(Debug)]
pub struct RoutedActivation {
    pub run_id: String,
    /// The activation for the guest; `None` when no job needs the guest.
    pub guest: Option<guest::Activation>,
    /// The run's start, on its first activation.
    pub start: Option<RunStart>,
    /// The randomness seed the activation sets for the rest of the run.
    pub reseed: Option<u64>,
    /// The activation's queries and updates.
    pub messages: Messages,
    /// Core asked to drop the run from the cache.
    pub eviction: Option<Eviction>,
}

/// Why core asked to drop a run from the cache.
#[derive(Clone, Debug)]
pub struct Eviction {
    pub reason: EvictionReason,
    pub message: String,
}

/// What starting a run's instance takes.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub workflow_type: String,
    pub randomness_seed: u64,
    pub task_timeout: Option<Duration>,
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
    #[error("activation resolves {what} {seq} with no result; core sent a malformed job")]
    EmptyResolution { what: &'static str, seq: u32 },
}

pub fn route_activation(
    activation: WorkflowActivation,
    task_queue: &str,
    namespace: &str,
) -> Result<RoutedActivation, RouteError> {
    let mut routed = RoutedActivation {
        run_id: activation.run_id.clone(),
        guest: None,
        start: None,
        reseed: None,
        messages: Messages::default(),
        eviction: None,
    };
    let mut jobs = Vec::with_capacity(activation.jobs.len());
    // Whether every job so far is a query or an update not yet accepted in history.
    let mut only_messages = true;
    for job in activation.jobs.into_iter().filter_map(|j| j.variant) {
        only_messages &= matches!(&job, Job::QueryWorkflow(_))
            || matches!(&job, Job::DoUpdate(update) if update.run_validator);
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
                    parent: init
                        .parent_workflow_info
                        .as_ref()
                        .map(|p| (p.workflow_id.clone(), p.run_id.clone())),
                    continued_from_run_id: non_empty(&init.continued_from_execution_run_id),
                    first_execution_run_id: init.first_execution_run_id.clone(),
                    execution_timeout: init
                        .workflow_execution_timeout
                        .as_ref()
                        .map(|d| duration_to_wit(Some(d))),
                    run_timeout: init
                        .workflow_run_timeout
                        .as_ref()
                        .map(|d| duration_to_wit(Some(d))),
                    cron_schedule: non_empty(&init.cron_schedule),
                    memo: init
                        .memo
                        .as_ref()
                        .map(|m| payload_map_to_wit(&m.fields))
                        .unwrap_or_default(),
                    search_attributes: init
                        .search_attributes
                        .as_ref()
                        .map(|m| payload_map_to_wit(&m.indexed_fields))
                        .unwrap_or_default(),
                }));
                routed.start = Some(RunStart {
                    workflow_type: init.workflow_type,
                    randomness_seed: init.randomness_seed,
                    task_timeout: init
                        .workflow_task_timeout
                        .and_then(|timeout| Duration::try_from(timeout).ok()),
                });
            }
            Job::FireTimer(timer) => jobs.push(guest::Job::FireTimer(timer.seq)),
            Job::UpdateRandomSeed(seed) => {
                routed.reseed = Some(seed.randomness_seed);
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
                routed.messages.queries.push(query.query_id.clone());
                jobs.push(guest::Job::Query(guest::Query {
                    id: query.query_id,
                    name: query.query_type,
                    arguments: query.arguments.iter().map(payload_to_wit).collect(),
                }))
            }
            Job::DoUpdate(update) => {
                // Core sends an accepted update's request back with the completion.
                let request_bytes = update.id.len()
                    + update.name.len()
                    + update.input.iter().map(payload_bytes).sum::<usize>();
                routed
                    .messages
                    .updates
                    .push((update.protocol_instance_id.clone(), request_bytes));
                jobs.push(guest::Job::Update(guest::Update {
                    id: update.id,
                    protocol_instance_id: update.protocol_instance_id,
                    name: update.name,
                    arguments: update.input.iter().map(payload_to_wit).collect(),
                    run_validator: update.run_validator,
                }))
            }
            Job::SignalWorkflow(signal) => jobs.push(guest::Job::Signal(guest::Signal {
                name: signal.signal_name,
                arguments: signal.input.iter().map(payload_to_wit).collect(),
            })),
            Job::CancelWorkflow(cancel) => jobs.push(guest::Job::CancelRequested(cancel.reason)),
            Job::NotifyHasPatch(patch) => jobs.push(guest::Job::NotifyHasPatch(patch.patch_id)),
            Job::RemoveFromCache(remove) => {
                routed.eviction = Some(Eviction {
                    reason: remove.reason(),
                    message: remove.message,
                })
            }
            Job::ResolveChildWorkflowExecutionStart(start) => {
                let resolution = match start.status {
                    Some(ChildStart::Succeeded(started)) => {
                        guest::ChildStartResolution::Started(started.run_id)
                    }
                    Some(ChildStart::Failed(failed)) => {
                        guest::ChildStartResolution::Failed(failed.cause().as_str_name().to_owned())
                    }
                    Some(ChildStart::Cancelled(cancelled)) => {
                        guest::ChildStartResolution::Cancelled(failure_to_wit(
                            &cancelled.failure.unwrap_or_default(),
                        ))
                    }
                    None => {
                        return Err(RouteError::EmptyResolution {
                            what: "child workflow start",
                            seq: start.seq,
                        });
                    }
                };
                jobs.push(guest::Job::ResolveChildStart(guest::ResolveChildStart {
                    seq: start.seq,
                    resolution,
                }));
            }
            Job::ResolveChildWorkflowExecution(resolve) => {
                let resolution = match resolve.result.and_then(|r| r.status) {
                    Some(ChildResult::Completed(success)) => guest::ChildResolution::Completed(
                        success.result.as_ref().map(payload_to_wit),
                    ),
                    Some(ChildResult::Failed(failed)) => guest::ChildResolution::Failed(
                        failure_to_wit(&failed.failure.unwrap_or_default()),
                    ),
                    Some(ChildResult::Cancelled(cancelled)) => guest::ChildResolution::Cancelled(
                        failure_to_wit(&cancelled.failure.unwrap_or_default()),
                    ),
                    None => {
                        return Err(RouteError::EmptyResolution {
                            what: "child workflow",
                            seq: resolve.seq,
                        });
                    }
                };
                jobs.push(guest::Job::ResolveChild(guest::ResolveChild {
                    seq: resolve.seq,
                    resolution,
                }));
            }
            Job::ResolveSignalExternalWorkflow(resolve) => {
                jobs.push(guest::Job::ResolveSignalExternal(guest::ResolveExternal {
                    seq: resolve.seq,
                    failure: resolve.failure.as_ref().map(failure_to_wit),
                }))
            }
            Job::ResolveRequestCancelExternalWorkflow(resolve) => {
                jobs.push(guest::Job::ResolveCancelExternal(guest::ResolveExternal {
                    seq: resolve.seq,
                    failure: resolve.failure.as_ref().map(failure_to_wit),
                }))
            }
            Job::ResolveNexusOperationStart(_) | Job::ResolveNexusOperation(_) => {
                return Err(RouteError::Unexpected {
                    job: "resolve nexus operation",
                });
            }
        }
    }
    routed.messages.only = only_messages && !jobs.is_empty();
    if !jobs.is_empty() {
        routed.guest = Some(guest::Activation {
            timestamp: timestamp_to_wit(activation.timestamp.as_ref()),
            is_replaying: activation.is_replaying,
            history_length: activation.history_length,
            history_size_bytes: activation.history_size_bytes,
            continue_as_new_suggested: activation.continue_as_new_suggested,
            jobs,
        });
    }
    Ok(routed)
}

fn payload_bytes(payload: &Payload) -> usize {
    let metadata: usize = payload
        .metadata
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    metadata + payload.data.len()
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::coresdk::workflow_activation::{
        CancelWorkflow, FireTimer, QueryWorkflow, RemoveFromCache, WorkflowActivationJob,
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
    fn messages_go_to_the_guest_in_order() {
        let routed = route_activation(
            activation(vec![
                Job::FireTimer(FireTimer { seq: 3 }),
                Job::QueryWorkflow(QueryWorkflow {
                    query_id: "q1".into(),
                    query_type: "status".into(),
                    ..Default::default()
                }),
                Job::CancelWorkflow(CancelWorkflow {
                    reason: "done".into(),
                }),
            ]),
            "tq",
            "default",
        )
        .unwrap();
        let guest = routed.guest.expect("jobs go to the guest");
        assert!(
            matches!(
                &guest.jobs[..],
                [
                    guest::Job::FireTimer(3),
                    guest::Job::Query(guest::Query { id, name, .. }),
                    guest::Job::CancelRequested(reason),
                ] if id == "q1" && name == "status" && reason == "done"
            ),
            "{:?}",
            guest.jobs
        );
    }

    #[test]
    fn eviction_alone_needs_no_guest() {
        let routed = route_activation(
            activation(vec![Job::RemoveFromCache(RemoveFromCache::default())]),
            "tq",
            "default",
        )
        .unwrap();
        assert!(routed.eviction.is_some());
        assert!(routed.guest.is_none());
    }
}
