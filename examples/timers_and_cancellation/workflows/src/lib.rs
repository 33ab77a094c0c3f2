//! `ReminderWorkflow`: a durable deadline raced against a signal, a cancellation scope
//! with its own deadline around a heartbeating activity, and cleanup after the client
//! cancels the workflow.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use sandglass::prelude::*;
use sandglass::{ActivityCancellationType, Either, select};
use timers_declarations::{
    ACKNOWLEDGE, CALL_ON_CALL, Outcome, POST_REMINDER, REMINDER_WORKFLOW, Reminder, STAGE, Stage,
    WITHDRAW_REMINDER,
};

pub struct ReminderWorkflow {
    acknowledged_by: RefCell<Option<String>>,
    stage: Cell<Stage>,
}

impl Default for ReminderWorkflow {
    fn default() -> Self {
        ReminderWorkflow {
            acknowledged_by: RefCell::new(None),
            stage: Cell::new(Stage::Posting),
        }
    }
}

impl Workflow for ReminderWorkflow {
    type Input = Reminder;
    type Output = Outcome;
    const DEFINITION: WorkflowDefinition<Reminder, Outcome> = REMINDER_WORKFLOW;

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .signal(ACKNOWLEDGE, |workflow, _ctx, acknowledgement| {
                // The first acknowledgement counts.
                workflow
                    .acknowledged_by
                    .borrow_mut()
                    .get_or_insert(acknowledgement.by);
            })
            .query(STAGE, |workflow, ()| workflow.stage.get());
    }

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        reminder: Reminder,
    ) -> WorkflowResult<Outcome> {
        let outcome = self.clone().remind(&ctx, &reminder).await;
        match outcome {
            // A cancelled timer or activity ended the work early. Cancellation reaches
            // every operation started outside a shield, so the cleanup runs in one.
            Err(cancelled) if ctx.is_cancel_requested() => {
                self.stage.set(Stage::CleaningUp);
                let options = ActivityOptions::start_to_close(Duration::from_secs(10));
                ctx.non_cancellable(|| {
                    ctx.execute_activity(WITHDRAW_REMINDER, reminder.task.clone(), options)
                })
                .await?;
                sandglass::info!("withdrew {:?} after the cancellation", reminder.task);
                self.stage.set(Stage::Done);
                // A cancellation error returned after the request ends the run as
                // cancelled rather than failed.
                Err(cancelled)
            }
            outcome => {
                self.stage.set(Stage::Done);
                outcome
            }
        }
    }
}

impl ReminderWorkflow {
    /// Posts the reminder, waits for an acknowledgement, and escalates without one.
    /// `?` on a cancelled timer or activity returns the cancellation to `run`.
    async fn remind(
        self: Rc<Self>,
        ctx: &WorkflowContext,
        reminder: &Reminder,
    ) -> WorkflowResult<Outcome> {
        let options = ActivityOptions::start_to_close(Duration::from_secs(10));
        ctx.execute_activity(POST_REMINDER, reminder.task.clone(), options)
            .await?;

        // The acknowledgement races a durable timer. The condition is polled first, so
        // one arriving in the same workflow task as the deadline still counts.
        // (`ctx.wait_condition_timeout` does the same in one call.)
        self.stage.set(Stage::WaitingForAcknowledgement);
        let this = self.clone();
        let acknowledged = ctx.wait_condition(move || this.acknowledged_by.borrow().is_some());
        let deadline = ctx.sleep(reminder.acknowledge_within);
        match select(acknowledged, deadline).await {
            Either::Left((acknowledged, mut deadline)) => {
                // `Err` if the workflow was cancelled while it waited.
                acknowledged?;
                // Cancel the timer that lost, so it does not fire into history for nothing.
                deadline.cancel();
                let by = self.acknowledged_by.borrow().clone().unwrap_or_default();
                return Ok(Outcome::Acknowledged { by });
            }
            // `Err` if the workflow was cancelled while it waited.
            Either::Right((fired, _acknowledged)) => fired?,
        }

        // Escalate: ring the on-call engineer, but only for `ring_for`. The call runs in
        // a scope of its own, so the deadline cancels the call and nothing else.
        self.stage.set(Stage::CallingOnCall);
        sandglass::info!("{:?} was not acknowledged; calling on-call", reminder.task);
        let call_options = ActivityOptions {
            // Heartbeats are how a running activity hears it was cancelled.
            heartbeat_timeout: Some(Duration::from_secs(1)),
            // Wait until the activity has hung up, not just until the request is sent.
            cancellation_type: ActivityCancellationType::WaitCancellationCompleted,
            ..ActivityOptions::start_to_close(Duration::from_secs(60))
        };
        let scope = ctx.cancellation_scope();
        let call =
            scope.run(|| ctx.execute_activity(CALL_ON_CALL, reminder.task.clone(), call_options));
        let ring_for = ctx.sleep(reminder.ring_for);
        match select(call, ring_for).await {
            Either::Left((answered, mut ring_for)) => {
                ring_for.cancel();
                Ok(Outcome::Escalated {
                    answered_by: answered?,
                })
            }
            Either::Right((rang_out, call)) => {
                scope.cancel("nobody answered in time");
                let answered = call.await;
                // `Err` if the timer was cancelled, not fired: the workflow is being cancelled.
                rang_out?;
                match answered {
                    // It answered in the same workflow task as the deadline.
                    Ok(answered_by) => Ok(Outcome::Escalated { answered_by }),
                    Err(error) if error.is_cancelled() => Ok(Outcome::Unanswered),
                    Err(error) => Err(error.into()),
                }
            }
        }
    }
}

sandglass::export_workflows!(ReminderWorkflow);
