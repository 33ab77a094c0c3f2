//! Checks that a guest's commands make sense before core sees them.
//!
//! The guest SDK never reuses a sequence number, but a component written by hand (or a
//! buggy SDK in another language) might. Core would reject such a completion deep in its
//! state machines; catching it here fails the workflow task with a message that says
//! what the guest did wrong.

use std::collections::HashSet;

use crate::sandbox::bindings::guest;

/// A guest command that cannot be right, whatever the history.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedOutput {
    #[error("the workflow started timer {0} while a timer with that sequence number is still open")]
    DuplicateTimer(u32),
    #[error(
        "the workflow scheduled activity {0} while an activity with that sequence number is \
         still open"
    )]
    DuplicateActivity(u32),
    #[error(
        "the workflow cancelled timer {0}, which is not open (never started, fired or already cancelled)"
    )]
    CancelClosedTimer(u32),
    #[error(
        "the workflow cancelled activity {0}, which is not open (never scheduled or already resolved)"
    )]
    CancelClosedActivity(u32),
    #[error(
        "the workflow started child workflow {0} while a child with that sequence number is \
         still open"
    )]
    DuplicateChild(u32),
    #[error(
        "the workflow cancelled child workflow {0}, which is not open (never started or already resolved)"
    )]
    CancelClosedChild(u32),
    #[error(
        "the workflow signalled or cancelled another workflow with sequence number {0}, which \
         is still in use"
    )]
    DuplicateExternal(u32),
}

/// The timers and activities a run has started and Temporal has not yet resolved.
/// Activities and local activities share one sequence, as in core.
#[derive(Debug, Default)]
pub struct OpenCommands {
    timers: HashSet<u32>,
    activities: HashSet<u32>,
    children: HashSet<u32>,
    /// Signals to and cancellation requests of other workflows (one sequence).
    externals: HashSet<u32>,
}

impl OpenCommands {
    /// Forgets what the activation's jobs resolve; call before [`Self::issue`].
    pub fn resolve(&mut self, jobs: &[guest::Job]) {
        for job in jobs {
            match job {
                guest::Job::FireTimer(seq) => {
                    self.timers.remove(seq);
                }
                guest::Job::ResolveActivity(resolve) => {
                    self.activities.remove(&resolve.seq);
                }
                guest::Job::ResolveChildStart(start) => {
                    if !matches!(start.resolution, guest::ChildStartResolution::Started(_)) {
                        self.children.remove(&start.seq);
                    }
                }
                guest::Job::ResolveChild(resolve) => {
                    self.children.remove(&resolve.seq);
                }
                guest::Job::ResolveSignalExternal(resolve)
                | guest::Job::ResolveCancelExternal(resolve) => {
                    self.externals.remove(&resolve.seq);
                }
                guest::Job::Initialize(_)
                | guest::Job::UpdateRandomSeed(_)
                | guest::Job::Signal(_)
                | guest::Job::Query(_)
                | guest::Job::Update(_)
                | guest::Job::CancelRequested(_)
                | guest::Job::NotifyHasPatch(_) => {}
            }
        }
    }

    /// Records the guest's new commands, refusing reuse of an open sequence number.
    pub fn issue(&mut self, commands: &[guest::Command]) -> Result<(), MalformedOutput> {
        for command in commands {
            match command {
                guest::Command::StartTimer(timer) => {
                    if !self.timers.insert(timer.seq) {
                        return Err(MalformedOutput::DuplicateTimer(timer.seq));
                    }
                }
                guest::Command::ScheduleActivity(guest::ScheduleActivity { seq, .. })
                | guest::Command::ScheduleLocalActivity(guest::ScheduleLocalActivity {
                    seq, ..
                }) => {
                    if !self.activities.insert(*seq) {
                        return Err(MalformedOutput::DuplicateActivity(*seq));
                    }
                }
                guest::Command::CancelTimer(seq) => {
                    // A cancelled timer never fires, so its seq closes now.
                    if !self.timers.remove(seq) {
                        return Err(MalformedOutput::CancelClosedTimer(*seq));
                    }
                }
                guest::Command::RequestCancelActivity(seq)
                | guest::Command::RequestCancelLocalActivity(seq) => {
                    // The activity stays open: it is still resolved, as cancelled.
                    if !self.activities.contains(seq) {
                        return Err(MalformedOutput::CancelClosedActivity(*seq));
                    }
                }
                guest::Command::StartChild(child) => {
                    if !self.children.insert(child.seq) {
                        return Err(MalformedOutput::DuplicateChild(child.seq));
                    }
                }
                guest::Command::CancelChild(seq) => {
                    // The child stays open: it is still resolved, as cancelled.
                    if !self.children.contains(seq) {
                        return Err(MalformedOutput::CancelClosedChild(*seq));
                    }
                }
                guest::Command::SignalExternal(guest::SignalExternal { seq, .. })
                | guest::Command::CancelExternal(guest::CancelExternal { seq, .. }) => {
                    if !self.externals.insert(*seq) {
                        return Err(MalformedOutput::DuplicateExternal(*seq));
                    }
                }
                guest::Command::CompleteWorkflow(_)
                | guest::Command::FailWorkflow(_)
                | guest::Command::CancelWorkflow
                | guest::Command::RespondToQuery(_)
                | guest::Command::RespondToUpdate(_)
                | guest::Command::ContinueAsNew(_)
                | guest::Command::SetPatchMarker(_)
                | guest::Command::UpsertSearchAttributes(_)
                | guest::Command::UpsertMemo(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::bindings::types::Duration;

    fn timer(seq: u32) -> guest::Command {
        guest::Command::StartTimer(guest::StartTimer {
            seq,
            duration: Duration {
                seconds: 1,
                nanos: 0,
            },
        })
    }

    #[test]
    fn a_timer_seq_may_be_reused_only_after_it_fired() {
        let mut open = OpenCommands::default();
        open.issue(&[timer(1)]).unwrap();
        assert_eq!(
            open.issue(&[timer(1)]),
            Err(MalformedOutput::DuplicateTimer(1))
        );
        open.resolve(&[guest::Job::FireTimer(1)]);
        open.issue(&[timer(1)]).unwrap();
    }

    #[test]
    fn a_cancelled_timer_closes_and_cannot_be_cancelled_twice() {
        let mut open = OpenCommands::default();
        open.issue(&[timer(2), guest::Command::CancelTimer(2)])
            .unwrap();
        assert_eq!(
            open.issue(&[guest::Command::CancelTimer(2)]),
            Err(MalformedOutput::CancelClosedTimer(2))
        );
        assert_eq!(
            open.issue(&[guest::Command::RequestCancelActivity(7)]),
            Err(MalformedOutput::CancelClosedActivity(7))
        );
    }

    #[test]
    fn duplicates_within_one_activation_are_caught() {
        let mut open = OpenCommands::default();
        assert_eq!(
            open.issue(&[timer(3), timer(3)]),
            Err(MalformedOutput::DuplicateTimer(3))
        );
    }
}
