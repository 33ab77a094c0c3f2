//! WIT commands into core's workflow commands.

use temporalio_common::protos::coresdk::workflow_commands::{
    ActivityCancellationType, CancelTimer, CompleteWorkflowExecution, FailWorkflowExecution,
    RequestCancelActivity, RequestCancelLocalActivity, ScheduleActivity, ScheduleLocalActivity,
    StartTimer, workflow_command::Variant as Command,
};
use temporalio_common::protos::temporal::api::common::v1::{Priority, RetryPolicy};

use super::failure::failure_from_wit;
use super::payload::{duration_from_wit, payload_from_wit, timestamp_from_wit};
use crate::sandbox::bindings::{guest, types as wit};

/// Converts the guest's commands; `task_queue` is the run's own, used for activities
/// that do not name one.
pub fn commands_from_wit(commands: Vec<guest::Command>, task_queue: &str) -> Vec<Command> {
    commands
        .into_iter()
        .map(|command| command_from_wit(command, task_queue))
        .collect()
}

fn command_from_wit(command: guest::Command, task_queue: &str) -> Command {
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

fn schedule_local_activity(activity: guest::ScheduleLocalActivity) -> ScheduleLocalActivity {
    ScheduleLocalActivity {
        seq: activity.seq,
        activity_id: activity.activity_id,
        activity_type: activity.activity_type,
        attempt: activity.attempt.max(1),
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
