//! Cancellation scopes, patches, continue-as-new, children, other workflows, memo and the
//! combinators, driven through the runtime by fake activations.

use super::*;
use crate::bindings::exports::sandglass::workflow::guest::{
    ChildResolution, ChildStartResolution, ResolveChild, ResolveChildStart, ResolveExternal,
};
use crate::{ChildWorkflowOptions, Either, SignalDefinition, WorkflowDefinition, join_all, select};

const CHILD: WorkflowDefinition<String, String> = WorkflowDefinition::new("Child");
const PING: SignalDefinition<u32> = SignalDefinition::new("ping");

/// Does one of several things, chosen by its input.
#[derive(Default)]
struct Features;

impl Workflow for Features {
    type Input = String;
    type Output = String;
    const DEFINITION: WorkflowDefinition<String, String> = WorkflowDefinition::new("Features");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, how: String) -> WorkflowResult<String> {
        match how.as_str() {
            // Cancelled while waiting on a timer and an activity; cleans up in a
            // non-cancellable scope, then gives in.
            "cancel with cleanup" => {
                let activity = ctx.execute_activity(GREET, "work".to_owned(), thirty_seconds());
                let timer = ctx.sleep(Duration::from_secs(60));
                let (activity, timer) = crate::join(activity, timer).await;
                assert!(activity.unwrap_err().is_cancelled());
                let reason = timer.unwrap_err().reason().to_owned();
                let cleanup = ctx.non_cancellable(|| {
                    ctx.execute_activity(GREET, "cleanup".to_owned(), thirty_seconds())
                });
                let cleaned = cleanup.await?;
                Err(WorkflowError::cancelled(format!("{reason}; {cleaned}")))
            }
            // A scope of its own, cancelled by the workflow itself.
            "scope" => {
                let scope = ctx.cancellation_scope();
                let mut work = Box::pin(scope.run(|| ctx.sleep(Duration::from_secs(60))));
                let deadline = ctx.sleep(Duration::from_secs(5));
                match select(deadline, &mut work).await {
                    Either::Left(_) => scope.cancel("deadline passed"),
                    Either::Right(_) => return Ok("work won".to_owned()),
                }
                let outcome = work.await;
                Ok(format!("{:?}", outcome.map_err(|c| c.reason().to_owned())))
            }
            "patch" => {
                let first = ctx.patched("v2");
                let again = ctx.patched("v2");
                Ok(format!("{first} {again}"))
            }
            "continue" => Err(ctx.continue_as_new(&"next".to_owned())),
            "child" => {
                let child = ctx
                    .start_child_workflow(
                        CHILD,
                        &"hi".to_owned(),
                        ChildWorkflowOptions::with_id("kid"),
                    )
                    .await?;
                child.signal(PING, &7).await?;
                let result = child.await?;
                Ok(format!("child said {result}"))
            }
            "memo" => {
                ctx.upsert_memo(&[("stage", "two")]);
                let stage: String = ctx.memo("stage").unwrap()?;
                let results = join_all(
                    ["a", "b"].map(|n| ctx.execute_activity(GREET, n.to_owned(), thirty_seconds())),
                )
                .await;
                let greetings: Result<Vec<String>, _> = results.into_iter().collect();
                Ok(format!("{stage} {}", greetings?.join(",")))
            }
            "wait forever" => {
                ctx.wait_condition(|| false).await?;
                Ok("unreachable".to_owned())
            }
            "noisy condition" => {
                // A condition with a side effect (which it must not have): any extra
                // check shows up as a command.
                let noisy = ctx.clone();
                ctx.wait_condition(move || {
                    noisy.upsert_memo(&[("checked", true)]);
                    false
                })
                .await?;
                Ok("unreachable".to_owned())
            }
            "child only" => {
                let child = ctx
                    .start_child_workflow(
                        CHILD,
                        &"hi".to_owned(),
                        ChildWorkflowOptions::with_id("kid"),
                    )
                    .await?;
                Ok(child.await?)
            }
            "priority" => {
                let options = ActivityOptions {
                    priority: Some(9),
                    ..thirty_seconds()
                };
                let error = ctx.execute_activity(GREET, how, options).await.unwrap_err();
                Ok(error.message().to_owned())
            }
            _ => Err(WorkflowError::application("Unknown", how)),
        }
    }
}

const FEATURE_WORKFLOWS: &[WorkflowEntry] = &[WorkflowEntry::of::<Features>()];

fn start(how: &str) -> (Runtime, Vec<Command>) {
    let mut runtime = Runtime::new(FEATURE_WORKFLOWS);
    let commands = runtime
        .activate(activation(100, vec![initialize("Features", &how)]))
        .unwrap();
    (runtime, commands)
}

fn replaying(at: u64, jobs: Vec<Job>) -> Activation {
    Activation {
        is_replaying: true,
        ..activation(at, jobs)
    }
}

#[test]
fn a_cancellation_request_cancels_timers_and_activities_but_not_cleanup() {
    let (mut runtime, commands) = start("cancel with cleanup");
    assert!(
        matches!(
            commands[..],
            [Command::ScheduleActivity(_), Command::StartTimer(_)]
        ),
        "{commands:?}"
    );
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::CancelRequested("stop".to_owned())],
        ))
        .unwrap();
    assert!(
        matches!(
            commands[..],
            [Command::RequestCancelActivity(1), Command::CancelTimer(1)]
        ),
        "{commands:?}"
    );
    let commands = runtime
        .activate(activation(102, vec![cancelled(1)]))
        .unwrap();
    match &commands[..] {
        [Command::ScheduleActivity(cleanup)] => {
            assert_eq!(cleanup.seq, 2);
            assert_eq!(
                payload::decode::<String>(&cleanup.arguments[0]).unwrap(),
                "cleanup"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let commands = runtime
        .activate(activation(103, vec![completed(2, &"cleaned")]))
        .unwrap();
    assert!(
        matches!(commands[..], [Command::CancelWorkflow]),
        "{commands:?}"
    );
}

#[test]
fn a_scope_cancelled_by_the_workflow_cancels_only_its_own_timer() {
    let (mut runtime, commands) = start("scope");
    assert_eq!(commands.len(), 2, "{commands:?}");
    // The deadline (timer 2) fires first: the scope's timer (1) is cancelled.
    let commands = runtime
        .activate(activation(105, vec![Job::FireTimer(2)]))
        .unwrap();
    match &commands[..] {
        [
            Command::CancelTimer(1),
            Command::CompleteWorkflow(Some(result)),
        ] => assert_eq!(
            payload::decode::<String>(result).unwrap(),
            "Err(\"deadline passed\")"
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn patched_is_true_for_new_runs_and_follows_history_on_replay() {
    let (_, commands) = start("patch");
    match &commands[..] {
        [
            Command::SetPatchMarker(marker),
            Command::CompleteWorkflow(Some(result)),
        ] => {
            assert_eq!(marker.patch_id, "v2");
            assert!(!marker.deprecated);
            assert_eq!(payload::decode::<String>(result).unwrap(), "true true");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Replaying a history made before the patch: no marker, old path.
    let mut runtime = Runtime::new(FEATURE_WORKFLOWS);
    let commands = runtime
        .activate(replaying(100, vec![initialize("Features", &"patch")]))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "false false");
    // Replaying a history with the marker: new path.
    let mut runtime = Runtime::new(FEATURE_WORKFLOWS);
    let commands = runtime
        .activate(replaying(
            100,
            vec![
                initialize("Features", &"patch"),
                Job::NotifyHasPatch("v2".to_owned()),
            ],
        ))
        .unwrap();
    assert!(
        matches!(
            &commands[..],
            [Command::SetPatchMarker(_), Command::CompleteWorkflow(_)]
        ),
        "{commands:?}"
    );
}

#[test]
fn continue_as_new_ends_the_run_with_its_command() {
    let (_, commands) = start("continue");
    match &commands[..] {
        [Command::ContinueAsNew(next)] => {
            assert_eq!(next.workflow_type, None);
            assert_eq!(
                payload::decode::<String>(&next.arguments[0]).unwrap(),
                "next"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_child_starts_is_signalled_and_returns() {
    let (mut runtime, commands) = start("child");
    match &commands[..] {
        [Command::StartChild(child)] => {
            assert_eq!((child.seq, child.workflow_id.as_str()), (1, "kid"));
            assert_eq!(child.workflow_type, "Child");
        }
        other => panic!("unexpected {other:?}"),
    }
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::ResolveChildStart(ResolveChildStart {
                seq: 1,
                resolution: ChildStartResolution::Started("kid-run".to_owned()),
            })],
        ))
        .unwrap();
    match &commands[..] {
        [Command::SignalExternal(signal)] => {
            assert_eq!(signal.workflow.workflow_id, "kid");
            assert_eq!(signal.workflow.run_id, "kid-run");
            assert_eq!(signal.signal_name, "ping");
        }
        other => panic!("unexpected {other:?}"),
    }
    let commands = runtime
        .activate(activation(
            102,
            vec![
                Job::ResolveSignalExternal(ResolveExternal {
                    seq: 1,
                    failure: None,
                }),
                Job::ResolveChild(ResolveChild {
                    seq: 1,
                    resolution: ChildResolution::Completed(Some(json(&"hello"))),
                }),
            ],
        ))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "child said hello");
}

#[test]
fn a_child_that_cannot_start_fails_the_run_with_the_reason() {
    let (mut runtime, _) = start("child");
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::ResolveChildStart(ResolveChildStart {
                seq: 1,
                resolution: ChildStartResolution::Failed(
                    "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS"
                        .to_owned(),
                ),
            })],
        ))
        .unwrap();
    match &commands[..] {
        [Command::FailWorkflow(failure)] => {
            let text: Vec<&str> = failure.iter().map(|f| f.message.as_str()).collect();
            assert!(
                text.iter().any(|m| m.contains("\"kid\" already exists")),
                "{text:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn memo_upserts_are_commands_and_visible_to_the_run() {
    let (mut runtime, commands) = start("memo");
    match &commands[..] {
        [
            Command::UpsertMemo(fields),
            Command::ScheduleActivity(a),
            Command::ScheduleActivity(b),
        ] => {
            assert_eq!(fields[0].0, "stage");
            assert_eq!((a.seq, b.seq), (1, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
    let commands = runtime
        .activate(activation(
            101,
            vec![completed(2, &"B"), completed(1, &"A")],
        ))
        .unwrap();
    assert_eq!(decode_completion::<String>(&commands), "two A,B");
}

#[test]
fn a_priority_outside_temporals_range_schedules_nothing() {
    let (_, commands) = start("priority");
    let message = decode_completion::<String>(&commands);
    assert!(message.contains("priority 9 is outside"), "{message}");
}

#[test]
fn a_cancellation_request_ends_a_wait_condition() {
    let (mut runtime, commands) = start("wait forever");
    assert!(commands.is_empty(), "{commands:?}");
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::CancelRequested("stop".to_owned())],
        ))
        .unwrap();
    assert!(
        matches!(commands[..], [Command::CancelWorkflow]),
        "{commands:?}"
    );
}

#[test]
fn a_child_that_ended_in_the_cancelling_activation_is_not_cancelled() {
    let (mut runtime, _) = start("child only");
    runtime
        .activate(activation(
            101,
            vec![Job::ResolveChildStart(ResolveChildStart {
                seq: 1,
                resolution: ChildStartResolution::Started("kid-run".to_owned()),
            })],
        ))
        .unwrap();
    let commands = runtime
        .activate(activation(
            102,
            vec![
                Job::ResolveChild(ResolveChild {
                    seq: 1,
                    resolution: ChildResolution::Completed(Some(json(&"done"))),
                }),
                Job::CancelRequested("stop".to_owned()),
            ],
        ))
        .unwrap();
    // No cancel-child for a child that already ended: its result stands.
    assert_eq!(decode_completion::<String>(&commands), "done");
}

#[test]
fn an_activation_of_queries_alone_runs_no_workflow_code() {
    let (mut runtime, _) = start("noisy condition");
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::Query(
                crate::bindings::exports::sandglass::workflow::guest::Query {
                    id: "q".to_owned(),
                    name: "nothing".to_owned(),
                    arguments: Vec::new(),
                },
            )],
        ))
        .unwrap();
    assert!(
        matches!(&commands[..], [Command::RespondToQuery(response)] if response.outcome.is_err()),
        "{commands:?}"
    );
}
