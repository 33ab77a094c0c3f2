//! Signals, queries, updates, conditions and cancellation requests, driven through the
//! runtime by fake activations.

use std::cell::RefCell;

use super::*;
use crate::bindings::exports::sandglass::workflow::guest::{
    Query, QueryResponse, Signal, StartTimer, Update, UpdateOutcome, UpdateResponse,
};
use crate::{Handlers, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowInit};

const APPROVE: SignalDefinition<String> = SignalDefinition::new("approve");
const LANGUAGE: QueryDefinition<(), String> = QueryDefinition::new("language");
const SET_LANGUAGE: UpdateDefinition<String, String> = UpdateDefinition::new("set_language");
const FETCH_LANGUAGE: UpdateDefinition<String, String> = UpdateDefinition::new("fetch_language");

/// The Python guide's message-passing workflow: waits for approval, answers a query,
/// changes language by update (validated), or by an update that calls an activity.
struct Greeter {
    language: RefCell<String>,
    approved_by: RefCell<Option<String>>,
}

impl WorkflowInit for Greeter {
    fn init(_ctx: &WorkflowContext, _timeout: &u64) -> Self {
        Greeter {
            language: RefCell::new("English".to_owned()),
            approved_by: RefCell::new(None),
        }
    }
}

impl Workflow for Greeter {
    type Input = u64;
    type Output = String;
    const DEFINITION: WorkflowDefinition<u64, String> = WorkflowDefinition::new("Greeter");

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .signal(APPROVE, |greeter, _ctx, name| {
                *greeter.approved_by.borrow_mut() = Some(name);
            })
            .query(LANGUAGE, |greeter, ()| greeter.language.borrow().clone())
            .update(SET_LANGUAGE, |greeter, _ctx, language| {
                Ok(greeter.language.replace(language))
            })
            .validator(SET_LANGUAGE, |_greeter, language| {
                if ["English", "Chinese"].contains(&language.as_str()) {
                    Ok(())
                } else {
                    Err(WorkflowError::application(
                        "UnsupportedLanguage",
                        format!("{language} is not supported"),
                    ))
                }
            })
            .update_async(FETCH_LANGUAGE, |greeter, ctx, code| async move {
                let translate: ActivityDefinition<String, String> =
                    ActivityDefinition::new("translate");
                let language = ctx
                    .execute_activity(translate, code, thirty_seconds())
                    .await?;
                Ok(greeter.language.replace(language))
            });
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, timeout: u64) -> WorkflowResult<String> {
        let me = self.clone();
        let approved = ctx
            .wait_condition_timeout(
                move || me.approved_by.borrow().is_some(),
                Duration::from_secs(timeout),
            )
            .await?;
        if !approved {
            return Err(WorkflowError::application("NotApproved", "nobody approved"));
        }
        let handlers_ctx = ctx.clone();
        ctx.wait_condition(move || handlers_ctx.all_handlers_finished())
            .await?;
        let approver = self.approved_by.borrow().clone().unwrap_or_default();
        Ok(format!("{} approved by {approver}", self.language.borrow()))
    }
}

/// Waits for a cancellation request and gives in to it, or to an activity's cancellation.
#[derive(Default)]
struct Cancellable;

impl Workflow for Cancellable {
    type Input = bool;
    type Output = ();
    const DEFINITION: WorkflowDefinition<bool, ()> = WorkflowDefinition::new("Cancellable");

    async fn run(self: Rc<Self>, ctx: WorkflowContext, via_activity: bool) -> WorkflowResult<()> {
        if via_activity {
            let handle = ctx.execute_activity(GREET, "x".to_owned(), thirty_seconds());
            let reason = ctx.cancelled().await;
            assert_eq!(reason, "no longer needed");
            handle.cancel();
            handle.await?;
            return Ok(());
        }
        let reason = ctx.cancelled().await;
        Err(WorkflowError::cancelled(reason))
    }
}

const MESSAGE_WORKFLOWS: &[WorkflowEntry] = &[
    WorkflowEntry::of::<Greeter>(),
    WorkflowEntry::of::<Cancellable>(),
];

fn signal<T: serde::Serialize>(name: &str, value: &T) -> Job {
    Job::Signal(Signal {
        name: name.to_owned(),
        arguments: vec![json(value)],
    })
}

fn query(id: &str, name: &str) -> Job {
    Job::Query(Query {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments: Vec::new(),
    })
}

fn update<T: serde::Serialize>(id: &str, name: &str, value: &T) -> Job {
    Job::Update(Update {
        id: id.to_owned(),
        protocol_instance_id: format!("protocol-{id}"),
        name: name.to_owned(),
        arguments: vec![json(value)],
        run_validator: true,
    })
}

fn started() -> Runtime {
    let mut runtime = Runtime::new(MESSAGE_WORKFLOWS);
    let commands = runtime
        .activate(activation(100, vec![initialize("Greeter", &60)]))
        .unwrap();
    assert!(
        matches!(
            commands[..],
            [Command::StartTimer(StartTimer { seq: 1, .. })]
        ),
        "{commands:?}"
    );
    runtime
}

fn query_answer(command: &Command) -> Result<String, String> {
    match command {
        Command::RespondToQuery(QueryResponse { outcome, .. }) => match outcome {
            Ok(Some(value)) => Ok(payload::decode(value).unwrap()),
            Ok(None) => Ok(String::new()),
            Err(failure) => Err(message(failure).to_owned()),
        },
        other => panic!("expected a query response, got {other:?}"),
    }
}

#[test]
fn a_signal_releases_the_condition_and_a_query_sees_the_whole_activation() {
    let mut runtime = started();
    let commands = runtime
        .activate(activation(
            101,
            vec![
                update("u1", "set_language", &"Chinese"),
                signal("approve", &"Ana"),
                query("q1", "language"),
            ],
        ))
        .unwrap();
    // Accepted and completed at once, the approval's condition cancels the timer, the
    // run completes, and the query (answered last) sees the new language.
    match &commands[..] {
        [
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Accepted,
                ..
            }),
            Command::RespondToUpdate(UpdateResponse {
                protocol_instance_id,
                outcome: UpdateOutcome::Completed(Some(previous)),
            }),
            Command::CancelTimer(1),
            Command::CompleteWorkflow(Some(result)),
            answer,
        ] => {
            assert_eq!(protocol_instance_id, "protocol-u1");
            assert_eq!(payload::decode::<String>(previous).unwrap(), "English");
            assert_eq!(
                payload::decode::<String>(result).unwrap(),
                "Chinese approved by Ana"
            );
            assert_eq!(query_answer(answer).unwrap(), "Chinese");
        }
        other => panic!("unexpected {other:?}"),
    }
    // A finished run still answers queries.
    let commands = runtime
        .activate(activation(102, vec![query("q2", "language")]))
        .unwrap();
    assert_eq!(query_answer(&commands[0]).unwrap(), "Chinese");
}

#[test]
fn a_validator_rejection_leaves_the_state_alone() {
    let mut runtime = started();
    let commands = runtime
        .activate(activation(
            101,
            vec![
                update("u1", "set_language", &"Klingon"),
                query("q1", "language"),
            ],
        ))
        .unwrap();
    match &commands[..] {
        [
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Rejected(failure),
                ..
            }),
            answer,
        ] => {
            assert_eq!(message(failure), "Klingon is not supported");
            assert_eq!(query_answer(answer).unwrap(), "English");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_names_and_bad_arguments_are_answered_without_failing_the_task() {
    let mut runtime = started();
    let commands = runtime
        .activate(activation(
            101,
            vec![
                signal("nonsense", &1),
                signal("approve", &42),
                update("u1", "nonsense", &1),
                update("u2", "set_language", &42),
                query("q1", "nonsense"),
            ],
        ))
        .unwrap();
    match &commands[..] {
        [
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Rejected(unknown),
                ..
            }),
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Rejected(bad),
                ..
            }),
            answer,
        ] => {
            assert!(
                message(unknown).contains("no handler for update \"nonsense\"")
                    && message(unknown).contains("set_language"),
                "{unknown:?}"
            );
            assert!(message(bad).contains("do not decode"), "{bad:?}");
            let error = query_answer(answer).unwrap_err();
            assert!(
                error.contains("no handler for query \"nonsense\""),
                "{error}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // The bad approval was dropped: the run still waits, and its timer decides.
    let commands = runtime
        .activate(activation(160, vec![Job::FireTimer(1)]))
        .unwrap();
    assert!(
        matches!(&commands[..], [Command::FailWorkflow(f)] if message(f) == "nobody approved"),
        "{commands:?}"
    );
}

#[test]
fn an_async_update_holds_the_run_until_its_activity_returns() {
    let mut runtime = started();
    let commands = runtime
        .activate(activation(
            101,
            vec![
                update("u1", "fetch_language", &"zh"),
                signal("approve", &"Ana"),
            ],
        ))
        .unwrap();
    match &commands[..] {
        [
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Accepted,
                ..
            }),
            Command::ScheduleActivity(schedule),
            Command::CancelTimer(1),
        ] => assert_eq!(schedule.activity_type, "translate"),
        other => panic!("unexpected {other:?}"),
    }
    let commands = runtime
        .activate(activation(102, vec![completed(1, &"Chinese")]))
        .unwrap();
    match &commands[..] {
        [
            Command::RespondToUpdate(UpdateResponse {
                outcome: UpdateOutcome::Completed(Some(previous)),
                ..
            }),
            Command::CompleteWorkflow(Some(result)),
        ] => {
            assert_eq!(payload::decode::<String>(previous).unwrap(), "English");
            assert_eq!(
                payload::decode::<String>(result).unwrap(),
                "Chinese approved by Ana"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_cancellation_request_ends_the_run_as_cancelled() {
    let mut runtime = Runtime::new(MESSAGE_WORKFLOWS);
    let commands = runtime
        .activate(activation(100, vec![initialize("Cancellable", &false)]))
        .unwrap();
    assert!(commands.is_empty(), "{commands:?}");
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::CancelRequested("no longer needed".to_owned())],
        ))
        .unwrap();
    assert!(
        matches!(commands[..], [Command::CancelWorkflow]),
        "{commands:?}"
    );
}

#[test]
fn a_cancelled_activity_propagated_after_a_request_cancels_the_run() {
    let mut runtime = Runtime::new(MESSAGE_WORKFLOWS);
    runtime
        .activate(activation(100, vec![initialize("Cancellable", &true)]))
        .unwrap();
    let commands = runtime
        .activate(activation(
            101,
            vec![Job::CancelRequested("no longer needed".to_owned())],
        ))
        .unwrap();
    assert!(
        matches!(commands[..], [Command::RequestCancelActivity(1)]),
        "{commands:?}"
    );
    let commands = runtime
        .activate(activation(102, vec![cancelled(1)]))
        .unwrap();
    assert!(
        matches!(commands[..], [Command::CancelWorkflow]),
        "{commands:?}"
    );
}

#[test]
fn an_activity_cancelled_without_a_request_fails_the_run() {
    let error = WorkflowError::from(crate::ActivityError::cancelled_before_retry("greet"));
    let command = crate::runtime::final_command::<Cancellable>(Err(error), false);
    assert!(
        matches!(command, Ok(Command::FailWorkflow(_))),
        "{command:?}"
    );
}

#[test]
fn workflow_types_describe_each_types_handlers() {
    let descriptions = crate::export::workflow_types(MESSAGE_WORKFLOWS);
    let greeter = &descriptions[0];
    assert_eq!(greeter.name, "Greeter");
    assert_eq!(greeter.signals, [APPROVE.name()]);
    assert_eq!(greeter.queries, [LANGUAGE.name()]);
    let mut updates = vec![FETCH_LANGUAGE.name(), SET_LANGUAGE.name()];
    updates.sort();
    assert_eq!(greeter.updates, updates);
    assert!(!greeter.dynamic_signals && !greeter.dynamic_queries && !greeter.dynamic_updates);
    assert!(
        descriptions[1].signals.is_empty(),
        "Cancellable has no handlers"
    );
}
