//! WIT commands into core's workflow commands.

use temporalio_common::protos::coresdk::child_workflow::{
    ChildWorkflowCancellationType, ParentClosePolicy,
};
use temporalio_common::protos::coresdk::common::NamespacedWorkflowExecution;
use temporalio_common::protos::coresdk::workflow_commands::{
    ActivityCancellationType, CancelChildWorkflowExecution, CancelTimer, CancelWorkflowExecution,
    CompleteWorkflowExecution, ContinueAsNewWorkflowExecution, FailWorkflowExecution,
    ModifyWorkflowProperties, QueryResult, QuerySuccess, RequestCancelActivity,
    RequestCancelExternalWorkflowExecution, RequestCancelLocalActivity, ScheduleActivity,
    ScheduleLocalActivity, SetPatchMarker, SignalExternalWorkflowExecution,
    StartChildWorkflowExecution, StartTimer, UpdateResponse, UpsertWorkflowSearchAttributes,
    query_result, signal_external_workflow_execution, update_response,
    workflow_command::Variant as Command,
};
use temporalio_common::protos::temporal::api::common::v1::{
    Memo, Priority, RetryPolicy, SearchAttributes,
};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowIdReusePolicy;

use super::failure::failure_from_wit;
use super::payload::{
    duration_from_wit, payload_from_wit, payload_map_from_wit, timestamp_from_wit,
};
use crate::wit::{guest, types as wit};

/// Converts the guest's commands; `task_queue` is the run's own, used for activities
/// and children that do not name one; `namespace` is the run's, where its children and
/// the workflows it signals live.
pub fn commands_from_wit(
    commands: Vec<guest::Command>,
    task_queue: &str,
    namespace: &str,
) -> Vec<Command> {
    commands
        .into_iter()
        .map(|command| command_from_wit(command, task_queue, namespace))
        .collect()
}

fn command_from_wit(command: guest::Command, task_queue: &str, namespace: &str) -> Command {
    match command {
        guest::Command::ScheduleActivity(activity) => {
            Command::ScheduleActivity(schedule_activity(activity, task_queue))
        }
        guest::Command::ScheduleLocalActivity(activity) => {
            Command::ScheduleLocalActivity(schedule_local_activity(activity))
        }
        guest::Command::RequestCancelActivity(seq) => {
            Command::RequestCancelActivity(RequestCancelActivity { seq })
        }
        guest::Command::RequestCancelLocalActivity(seq) => {
            Command::RequestCancelLocalActivity(RequestCancelLocalActivity { seq })
        }
        guest::Command::StartTimer(timer) => Command::StartTimer(StartTimer {
            seq: timer.seq,
            start_to_fire_timeout: Some(duration_from_wit(timer.duration)),
        }),
        guest::Command::CancelTimer(seq) => Command::CancelTimer(CancelTimer { seq }),
        guest::Command::CompleteWorkflow(result) => {
            Command::CompleteWorkflowExecution(CompleteWorkflowExecution {
                result: result.map(payload_from_wit),
            })
        }
        guest::Command::FailWorkflow(failure) => {
            Command::FailWorkflowExecution(FailWorkflowExecution {
                failure: Some(failure_from_wit(failure)),
            })
        }
        guest::Command::CancelWorkflow => {
            Command::CancelWorkflowExecution(CancelWorkflowExecution::default())
        }
        guest::Command::RespondToQuery(response) => Command::RespondToQuery(QueryResult {
            query_id: response.id,
            variant: Some(match response.outcome {
                Ok(value) => query_result::Variant::Succeeded(QuerySuccess {
                    response: value.map(payload_from_wit),
                }),
                Err(failure) => query_result::Variant::Failed(failure_from_wit(failure)),
            }),
        }),
        guest::Command::RespondToUpdate(response) => Command::UpdateResponse(UpdateResponse {
            protocol_instance_id: response.protocol_instance_id,
            response: Some(match response.outcome {
                guest::UpdateOutcome::Accepted => update_response::Response::Accepted(()),
                guest::UpdateOutcome::Rejected(failure) => {
                    update_response::Response::Rejected(failure_from_wit(failure))
                }
                guest::UpdateOutcome::Completed(value) => update_response::Response::Completed(
                    value.map(payload_from_wit).unwrap_or_default(),
                ),
            }),
        }),
        guest::Command::StartChild(child) => {
            Command::StartChildWorkflowExecution(start_child(child, task_queue, namespace))
        }
        guest::Command::CancelChild(seq) => {
            Command::CancelChildWorkflowExecution(CancelChildWorkflowExecution {
                child_workflow_seq: seq,
                reason: String::new(),
            })
        }
        guest::Command::SignalExternal(signal) => {
            Command::SignalExternalWorkflowExecution(SignalExternalWorkflowExecution {
                seq: signal.seq,
                target: Some(
                    signal_external_workflow_execution::Target::WorkflowExecution(external(
                        signal.workflow,
                        namespace,
                    )),
                ),
                signal_name: signal.signal_name,
                args: signal.arguments.into_iter().map(payload_from_wit).collect(),
                ..Default::default()
            })
        }
        guest::Command::CancelExternal(cancel) => Command::RequestCancelExternalWorkflowExecution(
            RequestCancelExternalWorkflowExecution {
                seq: cancel.seq,
                workflow_execution: Some(external(cancel.workflow, namespace)),
                reason: cancel.reason,
            },
        ),
        guest::Command::ContinueAsNew(next) => {
            Command::ContinueAsNewWorkflowExecution(ContinueAsNewWorkflowExecution {
                workflow_type: next.workflow_type.unwrap_or_default(),
                task_queue: next.task_queue.unwrap_or_default(),
                arguments: next.arguments.into_iter().map(payload_from_wit).collect(),
                workflow_run_timeout: next.run_timeout.map(duration_from_wit),
                workflow_task_timeout: next.task_timeout.map(duration_from_wit),
                memo: payload_map_from_wit(next.memo),
                search_attributes: search_attributes(next.search_attributes),
                retry_policy: next.retry_policy.map(retry_policy_from_wit),
                ..Default::default()
            })
        }
        guest::Command::SetPatchMarker(marker) => Command::SetPatchMarker(SetPatchMarker {
            patch_id: marker.patch_id,
            deprecated: marker.deprecated,
        }),
        guest::Command::UpsertSearchAttributes(attributes) => {
            Command::UpsertWorkflowSearchAttributes(UpsertWorkflowSearchAttributes {
                search_attributes: search_attributes(attributes),
            })
        }
        guest::Command::UpsertMemo(fields) => {
            Command::ModifyWorkflowProperties(ModifyWorkflowProperties {
                upserted_memo: Some(Memo {
                    fields: payload_map_from_wit(fields),
                }),
            })
        }
    }
}

fn schedule_activity(activity: guest::ScheduleActivity, task_queue: &str) -> ScheduleActivity {
    ScheduleActivity {
        seq: activity.seq,
        activity_id: activity.activity_id,
        activity_type: activity.activity_type,
        task_queue: activity
            .task_queue
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| task_queue.to_owned()),
        arguments: activity
            .arguments
            .into_iter()
            .map(payload_from_wit)
            .collect(),
        schedule_to_close_timeout: activity.schedule_to_close_timeout.map(duration_from_wit),
        schedule_to_start_timeout: activity.schedule_to_start_timeout.map(duration_from_wit),
        start_to_close_timeout: activity.start_to_close_timeout.map(duration_from_wit),
        heartbeat_timeout: activity.heartbeat_timeout.map(duration_from_wit),
        retry_policy: activity.retry_policy.map(retry_policy_from_wit),
        cancellation_type: cancellation_type_from_wit(activity.cancellation_type) as i32,
        priority: activity.priority.map(|key| Priority {
            priority_key: i32::try_from(key).unwrap_or(i32::MAX),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn start_child(
    child: guest::StartChild,
    task_queue: &str,
    namespace: &str,
) -> StartChildWorkflowExecution {
    StartChildWorkflowExecution {
        seq: child.seq,
        namespace: namespace.to_owned(),
        workflow_id: child.workflow_id,
        workflow_type: child.workflow_type,
        task_queue: child
            .task_queue
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| task_queue.to_owned()),
        input: child.arguments.into_iter().map(payload_from_wit).collect(),
        workflow_execution_timeout: child.execution_timeout.map(duration_from_wit),
        workflow_run_timeout: child.run_timeout.map(duration_from_wit),
        workflow_task_timeout: child.task_timeout.map(duration_from_wit),
        parent_close_policy: match child.parent_close_policy {
            guest::ParentClosePolicy::Terminate => ParentClosePolicy::Terminate,
            guest::ParentClosePolicy::Abandon => ParentClosePolicy::Abandon,
            guest::ParentClosePolicy::RequestCancel => ParentClosePolicy::RequestCancel,
        } as i32,
        workflow_id_reuse_policy: match child.id_reuse_policy {
            guest::IdReusePolicy::AllowDuplicate => WorkflowIdReusePolicy::AllowDuplicate,
            guest::IdReusePolicy::AllowDuplicateFailedOnly => {
                WorkflowIdReusePolicy::AllowDuplicateFailedOnly
            }
            guest::IdReusePolicy::RejectDuplicate => WorkflowIdReusePolicy::RejectDuplicate,
        } as i32,
        retry_policy: child.retry_policy.map(retry_policy_from_wit),
        cancellation_type: match child.cancellation_type {
            guest::ChildCancellationType::Abandon => ChildWorkflowCancellationType::Abandon,
            guest::ChildCancellationType::TryCancel => ChildWorkflowCancellationType::TryCancel,
            guest::ChildCancellationType::WaitCancellationCompleted => {
                ChildWorkflowCancellationType::WaitCancellationCompleted
            }
            guest::ChildCancellationType::WaitCancellationRequested => {
                ChildWorkflowCancellationType::WaitCancellationRequested
            }
        } as i32,
        memo: payload_map_from_wit(child.memo),
        search_attributes: search_attributes(child.search_attributes),
        ..Default::default()
    }
}

fn external(workflow: guest::ExternalWorkflow, namespace: &str) -> NamespacedWorkflowExecution {
    NamespacedWorkflowExecution {
        namespace: namespace.to_owned(),
        workflow_id: workflow.workflow_id,
        run_id: workflow.run_id,
    }
}

fn search_attributes(attributes: wit::PayloadMap) -> Option<SearchAttributes> {
    (!attributes.is_empty()).then(|| SearchAttributes {
        indexed_fields: payload_map_from_wit(attributes),
    })
}

fn schedule_local_activity(activity: guest::ScheduleLocalActivity) -> ScheduleLocalActivity {
    ScheduleLocalActivity {
        seq: activity.seq,
        activity_id: activity.activity_id,
        activity_type: activity.activity_type,
        // Core adds one to it for the next attempt (a u32 overflow panics in a debug
        // build); Temporal's other attempt counts are i32, so that is the bound.
        attempt: activity.attempt.clamp(1, i32::MAX as u32),
        original_schedule_time: activity.original_schedule_time.map(timestamp_from_wit),
        arguments: activity
            .arguments
            .into_iter()
            .map(payload_from_wit)
            .collect(),
        schedule_to_close_timeout: activity.schedule_to_close_timeout.map(duration_from_wit),
        schedule_to_start_timeout: activity.schedule_to_start_timeout.map(duration_from_wit),
        start_to_close_timeout: activity.start_to_close_timeout.map(duration_from_wit),
        retry_policy: activity.retry_policy.map(retry_policy_from_wit),
        local_retry_threshold: activity.local_retry_threshold.map(duration_from_wit),
        cancellation_type: cancellation_type_from_wit(activity.cancellation_type) as i32,
        ..Default::default()
    }
}

fn cancellation_type_from_wit(kind: guest::ActivityCancellationType) -> ActivityCancellationType {
    match kind {
        guest::ActivityCancellationType::TryCancel => ActivityCancellationType::TryCancel,
        guest::ActivityCancellationType::WaitCancellationCompleted => {
            ActivityCancellationType::WaitCancellationCompleted
        }
        guest::ActivityCancellationType::Abandon => ActivityCancellationType::Abandon,
    }
}

fn retry_policy_from_wit(policy: wit::RetryPolicy) -> RetryPolicy {
    RetryPolicy {
        initial_interval: policy.initial_interval.map(duration_from_wit),
        backoff_coefficient: policy.backoff_coefficient,
        maximum_interval: policy.maximum_interval.map(duration_from_wit),
        maximum_attempts: i32::try_from(policy.maximum_attempts).unwrap_or(i32::MAX),
        non_retryable_error_types: policy.non_retryable_error_types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_without_task_queue_runs_on_the_workflows_queue() {
        let commands = commands_from_wit(
            vec![guest::Command::ScheduleActivity(guest::ScheduleActivity {
                seq: 1,
                activity_id: "1".into(),
                activity_type: "greet".into(),
                task_queue: None,
                arguments: vec![],
                schedule_to_close_timeout: None,
                schedule_to_start_timeout: None,
                start_to_close_timeout: Some(wit::Duration {
                    seconds: 30,
                    nanos: 0,
                }),
                heartbeat_timeout: None,
                retry_policy: None,
                cancellation_type: guest::ActivityCancellationType::TryCancel,
                priority: Some(1),
            })],
            "my-task-queue",
            "default",
        );
        match &commands[..] {
            [Command::ScheduleActivity(s)] => {
                assert_eq!(s.task_queue, "my-task-queue");
                assert_eq!(
                    s.start_to_close_timeout.as_ref().map(|d| d.seconds),
                    Some(30)
                );
                assert_eq!(s.priority.as_ref().map(|p| p.priority_key), Some(1));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
