//! What the timers example's workflow, worker and starter agree on: the reminder
//! workflow, its signal and query, and its three activities.

use std::time::Duration;

use sandglass_declare::{
    ActivityDefinition, QueryDefinition, SignalDefinition, WorkflowDefinition,
};
use serde::{Deserialize, Serialize};

/// A reminder: what to do, how long to wait for an acknowledgement, and how long to
/// let the on-call phone ring if nobody acknowledges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub task: String,
    pub acknowledge_within: Duration,
    pub ring_for: Duration,
}

/// Who acknowledged the reminder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
}

/// How a reminder ended, if the workflow was not cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Acknowledged before the deadline.
    Acknowledged { by: String },
    /// Nobody acknowledged; the on-call engineer answered the phone.
    Escalated { answered_by: String },
    /// Nobody acknowledged, and nobody answered before the phone stopped ringing.
    Unanswered,
}

/// Where the workflow is, for the `stage` query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Posting,
    WaitingForAcknowledgement,
    CallingOnCall,
    CleaningUp,
    Done,
}

/// Posts a reminder, waits for an acknowledgement, escalates if none comes; cancelled,
/// it withdraws the reminder before it ends.
pub const REMINDER_WORKFLOW: WorkflowDefinition<Reminder, Outcome> =
    WorkflowDefinition::new("ReminderWorkflow");

pub const ACKNOWLEDGE: SignalDefinition<Acknowledgement> = SignalDefinition::new("acknowledge");

pub const STAGE: QueryDefinition<(), Stage> = QueryDefinition::new("stage");

/// Posts the reminder where the team sees it.
pub const POST_REMINDER: ActivityDefinition<String, ()> = ActivityDefinition::new("post_reminder");

/// Rings the on-call engineer until they answer (heartbeating, so it can be cancelled);
/// returns who answered.
pub const CALL_ON_CALL: ActivityDefinition<String, String> =
    ActivityDefinition::new("call_on_call");

/// Takes a posted reminder down again.
pub const WITHDRAW_REMINDER: ActivityDefinition<String, ()> =
    ActivityDefinition::new("withdraw_reminder");
