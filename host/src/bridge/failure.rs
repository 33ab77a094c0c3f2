//! Failures between Temporal's nested `Failure` proto and the WIT's flat failure chain.

use temporalio_common::protos::temporal::api::common::v1::{
    ActivityType, Payloads, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::{RetryState, TimeoutType};
use temporalio_common::protos::temporal::api::failure::v1::{
    ActivityFailureInfo, ApplicationFailureInfo, CanceledFailureInfo,
    ChildWorkflowExecutionFailureInfo, Failure, ServerFailureInfo, TerminatedFailureInfo,
    TimeoutFailureInfo, failure::FailureInfo,
};

use super::payload::{payload_from_wit, payload_to_wit};
use crate::wit::types as wit;

use crate::failure_chain::FAILURE_SOURCE;

/// A failure the worker reports in a run's place (a task failure, a refused query).
pub fn host_failure(message: String) -> Failure {
    Failure {
        message,
        source: FAILURE_SOURCE.into(),
        ..Default::default()
    }
}

/// Flattens a failure and its causes, outermost first.
pub fn failure_to_wit(failure: &Failure) -> wit::Failure {
    let mut frames = Vec::new();
    let mut next = Some(failure);
    while let Some(failure) = next {
        frames.push(wit::FailureFrame {
            message: failure.message.clone(),
            source: failure.source.clone(),
            stack_trace: failure.stack_trace.clone(),
            info: info_to_wit(failure.failure_info.as_ref()),
        });
        next = failure.cause.as_deref();
    }
    frames
}

/// Rebuilds the nested form. An empty chain (malformed guest output) becomes a plain
/// failure that says so rather than an error, since the workflow meant to fail anyway.
pub fn failure_from_wit(frames: wit::Failure) -> Failure {
    let mut cause: Option<Box<Failure>> = None;
    for frame in frames.into_iter().rev() {
        cause = Some(Box::new(Failure {
            message: frame.message,
            source: frame.source,
            stack_trace: frame.stack_trace,
            cause,
            failure_info: info_from_wit(frame.info),
            ..Default::default()
        }));
    }
    cause.map(|failure| *failure).unwrap_or_else(|| Failure {
        message: "workflow reported a failure without any detail".into(),
        source: FAILURE_SOURCE.into(),
        ..Default::default()
    })
}

fn payloads_to_wit(payloads: Option<&Payloads>) -> Vec<wit::Payload> {
    payloads
        .map(|p| p.payloads.iter().map(payload_to_wit).collect())
        .unwrap_or_default()
}

fn payloads_from_wit(payloads: Vec<wit::Payload>) -> Option<Payloads> {
    (!payloads.is_empty()).then(|| Payloads {
        payloads: payloads.into_iter().map(payload_from_wit).collect(),
    })
}

fn info_to_wit(info: Option<&FailureInfo>) -> wit::FailureInfo {
    match info {
        Some(FailureInfo::ApplicationFailureInfo(app)) => {
            wit::FailureInfo::Application(wit::ApplicationFailure {
                error_type: app.r#type.clone(),
                non_retryable: app.non_retryable,
                details: payloads_to_wit(app.details.as_ref()),
            })
        }
        Some(FailureInfo::ActivityFailureInfo(act)) => {
            wit::FailureInfo::Activity(wit::ActivityFailure {
                activity_type: act
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                activity_id: act.activity_id.clone(),
                retry_state: act.retry_state().as_str_name().to_owned(),
            })
        }
        Some(FailureInfo::ChildWorkflowExecutionFailureInfo(child)) => {
            let execution = child.workflow_execution.clone().unwrap_or_default();
            wit::FailureInfo::ChildWorkflow(wit::ChildWorkflowFailure {
                namespace: child.namespace.clone(),
                workflow_id: execution.workflow_id,
                run_id: execution.run_id,
                workflow_type: child
                    .workflow_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                retry_state: child.retry_state().as_str_name().to_owned(),
            })
        }
        Some(FailureInfo::TimeoutFailureInfo(timeout)) => wit::FailureInfo::Timeout(match timeout
            .timeout_type()
        {
            TimeoutType::ScheduleToStart => wit::TimeoutKind::ScheduleToStart,
            TimeoutType::ScheduleToClose => wit::TimeoutKind::ScheduleToClose,
            TimeoutType::Heartbeat => wit::TimeoutKind::Heartbeat,
            TimeoutType::StartToClose | TimeoutType::Unspecified => wit::TimeoutKind::StartToClose,
        }),
        Some(FailureInfo::CanceledFailureInfo(canceled)) => {
            wit::FailureInfo::Canceled(payloads_to_wit(canceled.details.as_ref()))
        }
        Some(FailureInfo::TerminatedFailureInfo(_)) => wit::FailureInfo::Terminated,
        Some(FailureInfo::ServerFailureInfo(server)) => {
            wit::FailureInfo::Server(server.non_retryable)
        }
        Some(_) | None => wit::FailureInfo::Other,
    }
}

fn info_from_wit(info: wit::FailureInfo) -> Option<FailureInfo> {
    Some(match info {
        wit::FailureInfo::Application(app) => {
            FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
                r#type: app.error_type,
                non_retryable: app.non_retryable,
                details: payloads_from_wit(app.details),
                ..Default::default()
            })
        }
        wit::FailureInfo::Activity(act) => FailureInfo::ActivityFailureInfo(ActivityFailureInfo {
            activity_type: Some(ActivityType {
                name: act.activity_type,
            }),
            activity_id: act.activity_id,
            retry_state: RetryState::from_str_name(&act.retry_state)
                .unwrap_or(RetryState::Unspecified) as i32,
            ..Default::default()
        }),
        wit::FailureInfo::ChildWorkflow(child) => {
            FailureInfo::ChildWorkflowExecutionFailureInfo(ChildWorkflowExecutionFailureInfo {
                namespace: child.namespace,
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: child.workflow_id,
                    run_id: child.run_id,
                }),
                workflow_type: Some(WorkflowType {
                    name: child.workflow_type,
                }),
                retry_state: RetryState::from_str_name(&child.retry_state)
                    .unwrap_or(RetryState::Unspecified) as i32,
                ..Default::default()
            })
        }
        wit::FailureInfo::Timeout(kind) => FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: match kind {
                wit::TimeoutKind::StartToClose => TimeoutType::StartToClose,
                wit::TimeoutKind::ScheduleToStart => TimeoutType::ScheduleToStart,
                wit::TimeoutKind::ScheduleToClose => TimeoutType::ScheduleToClose,
                wit::TimeoutKind::Heartbeat => TimeoutType::Heartbeat,
            } as i32,
            last_heartbeat_details: None,
        }),
        wit::FailureInfo::Canceled(details) => {
            FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                details: payloads_from_wit(details),
                ..Default::default()
            })
        }
        wit::FailureInfo::Terminated => {
            FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo::default())
        }
        wit::FailureInfo::Server(non_retryable) => {
            FailureInfo::ServerFailureInfo(ServerFailureInfo { non_retryable })
        }
        wit::FailureInfo::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn application(message: &str, error_type: &str) -> Failure {
        Failure {
            message: message.into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: error_type.into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
    }

    #[test]
    fn chain_round_trips_outermost_first() {
        let failure = Failure {
            message: "activity failed".into(),
            failure_info: Some(FailureInfo::ActivityFailureInfo(ActivityFailureInfo {
                activity_type: Some(ActivityType {
                    name: "greet".into(),
                }),
                retry_state: RetryState::MaximumAttemptsReached as i32,
                ..Default::default()
            })),
            cause: Some(Box::new(application("boom", "ValueError"))),
            ..Default::default()
        };
        let frames = failure_to_wit(&failure);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].message, "boom");
        match &frames[0].info {
            wit::FailureInfo::Activity(act) => {
                assert_eq!(act.activity_type, "greet");
                assert_eq!(act.retry_state, "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED");
            }
            other => panic!("unexpected {other:?}"),
        }
        let back = failure_from_wit(frames);
        assert_eq!(back.message, "activity failed");
        assert_eq!(
            back.cause.as_deref(),
            Some(&application("boom", "ValueError"))
        );
        assert_eq!(back.failure_info, failure.failure_info);
    }

    #[test]
    fn empty_chain_is_still_a_failure() {
        let failure = failure_from_wit(Vec::new());
        assert!(failure.message.contains("without any detail"));
    }
}
