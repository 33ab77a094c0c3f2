//! Checks that a guest's commands make sense before core sees them.
//!
//! The guest SDK never breaks core's protocol, but a component written by hand (or a
//! buggy SDK in another language) might: reuse a sequence number, cancel twice, answer a
//! query it was not asked, send an update's responses out of order. Core would reject
//! such a completion deep in its state machines (or, for some, stall the run or panic its
//! workflow thread in a debug build); catching it here fails the workflow task with a
//! message that says what the guest did wrong.

use std::collections::{HashMap, HashSet};

use crate::sandbox::{MAX_NAME_BYTES, command_name, quoted};
use crate::wit::{guest, types};

/// Most distinct patch ids one run may set. Core rebuilds the set of a run's patch ids
/// for every new one, so their number is what a run's patching costs; real workflows
/// have a handful.
pub const MAX_PATCHES: usize = 1000;

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
        "the workflow scheduled local activity {0}, a sequence number no higher than an \
         earlier local activity's; each local activity (and each retry after a backoff) \
         needs a new, higher one"
    )]
    ReusedLocalActivity(u32),
    #[error(
        "the workflow cancelled timer {0}, which is not open (never started, fired or already cancelled)"
    )]
    CancelClosedTimer(u32),
    #[error(
        "the workflow cancelled activity {0}, which is not open (never scheduled or already resolved)"
    )]
    CancelClosedActivity(u32),
    #[error("the workflow cancelled {what} {seq} a second time; cancel each once")]
    DuplicateCancel { what: &'static str, seq: u32 },
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
    #[error(
        "the workflow sent `{command}` for activity {seq}, which is {kind}; cancel an \
         activity with the command of its kind"
    )]
    CancelWrongKind {
        command: &'static str,
        seq: u32,
        kind: &'static str,
    },
    /// The query's id, quoted and cut short.
    #[error(
        "the workflow answered query {0}, which this activation did not ask (or which it \
         already answered)"
    )]
    UnknownQuery(String),
    /// The update's protocol instance id, quoted and cut short.
    #[error(
        "the workflow responded to update {0}, which it was not given (or which already \
         finished)"
    )]
    UnknownUpdate(String),
    #[error(
        "the workflow sent `{response}` for update {id} out of order; accept an update \
         once, then complete or reject it"
    )]
    UpdateOutOfOrder { id: String, response: &'static str },
    #[error(
        "the workflow set a patch id of {0} bytes; patch ids may be {MAX_NAME_BYTES} bytes \
         at most"
    )]
    PatchIdTooLong(usize),
    #[error("the workflow set more than {MAX_PATCHES} different patch ids")]
    TooManyPatches,
    #[error(
        "the workflow gave a retry policy a backoff coefficient of {0}; use 0 (the server's \
         default) or a finite number of at least 1"
    )]
    InvalidBackoff(String),
}

/// Where an update the guest was given stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UpdateStage {
    Delivered,
    Accepted,
}

/// What a run has started and Temporal has not yet resolved, and the messages it must
/// still answer. Activities and local activities share one sequence, as in core.
#[derive(Debug, Default)]
pub struct OpenCommands {
    timers: HashSet<u32>,
    activities: HashSet<u32>,
    /// The highest sequence number a local activity has had in this run. Local
    /// activities take ever higher ones: core may still be running one whose
    /// cancellation already resolved it.
    last_local_activity: Option<u32>,
    /// Open activities that are local.
    open_local_activities: HashSet<u32>,
    /// Open activities and children whose cancellation was requested.
    cancelled_activities: HashSet<u32>,
    cancelled_children: HashSet<u32>,
    children: HashSet<u32>,
    /// Signals to and cancellation requests of other workflows (one sequence).
    externals: HashSet<u32>,
    /// The queries of the current activation not yet answered.
    queries: HashSet<String>,
    /// Updates given to the guest and not yet finished, by protocol instance id.
    updates: HashMap<String, UpdateStage>,
    /// The patch ids set, by hash: only their number matters here.
    patches: HashSet<u64>,
}

impl OpenCommands {
    /// Forgets what the activation's jobs resolve and notes the messages it must answer;
    /// call before [`Self::issue`].
    pub fn resolve(&mut self, jobs: &[guest::Job]) {
        self.queries.clear();
        for job in jobs {
            match job {
                guest::Job::FireTimer(seq) => {
                    self.timers.remove(seq);
                }
                guest::Job::ResolveActivity(resolve) => {
                    self.activities.remove(&resolve.seq);
                    self.open_local_activities.remove(&resolve.seq);
                    self.cancelled_activities.remove(&resolve.seq);
                }
                guest::Job::ResolveChildStart(start) => {
                    if !matches!(start.resolution, guest::ChildStartResolution::Started(_)) {
                        self.children.remove(&start.seq);
                        self.cancelled_children.remove(&start.seq);
                    }
                }
                guest::Job::ResolveChild(resolve) => {
                    self.children.remove(&resolve.seq);
                    self.cancelled_children.remove(&resolve.seq);
                }
                guest::Job::ResolveSignalExternal(resolve)
                | guest::Job::ResolveCancelExternal(resolve) => {
                    self.externals.remove(&resolve.seq);
                }
                guest::Job::Query(query) => {
                    self.queries.insert(query.id.clone());
                }
                guest::Job::Update(update) => {
                    self.updates
                        .insert(update.protocol_instance_id.clone(), UpdateStage::Delivered);
                }
                guest::Job::Initialize(_)
                | guest::Job::UpdateRandomSeed(_)
                | guest::Job::Signal(_)
                | guest::Job::CancelRequested(_)
                | guest::Job::NotifyHasPatch(_) => {}
            }
        }
    }

    /// Records the guest's new commands, refusing any that break core's protocol.
    pub fn issue(&mut self, commands: &[guest::Command]) -> Result<(), MalformedOutput> {
        for command in commands {
            match command {
                guest::Command::StartTimer(timer) => {
                    if !self.timers.insert(timer.seq) {
                        return Err(MalformedOutput::DuplicateTimer(timer.seq));
                    }
                }
                guest::Command::ScheduleActivity(activity) => {
                    check_retry_policy(activity.retry_policy.as_ref())?;
                    if !self.activities.insert(activity.seq) {
                        return Err(MalformedOutput::DuplicateActivity(activity.seq));
                    }
                }
                guest::Command::ScheduleLocalActivity(activity) => {
                    check_retry_policy(activity.retry_policy.as_ref())?;
                    if self
                        .last_local_activity
                        .is_some_and(|last| activity.seq <= last)
                    {
                        return Err(MalformedOutput::ReusedLocalActivity(activity.seq));
                    }
                    if !self.activities.insert(activity.seq) {
                        return Err(MalformedOutput::DuplicateActivity(activity.seq));
                    }
                    self.last_local_activity = Some(activity.seq);
                    self.open_local_activities.insert(activity.seq);
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
                    let local = self.open_local_activities.contains(seq);
                    if local != matches!(command, guest::Command::RequestCancelLocalActivity(_)) {
                        return Err(MalformedOutput::CancelWrongKind {
                            command: command_name(command),
                            seq: *seq,
                            kind: if local { "local" } else { "not local" },
                        });
                    }
                    if !self.cancelled_activities.insert(*seq) {
                        return Err(MalformedOutput::DuplicateCancel {
                            what: "activity",
                            seq: *seq,
                        });
                    }
                }
                guest::Command::StartChild(child) => {
                    check_retry_policy(child.retry_policy.as_ref())?;
                    if !self.children.insert(child.seq) {
                        return Err(MalformedOutput::DuplicateChild(child.seq));
                    }
                }
                guest::Command::CancelChild(seq) => {
                    // The child stays open: it is still resolved, as cancelled.
                    if !self.children.contains(seq) {
                        return Err(MalformedOutput::CancelClosedChild(*seq));
                    }
                    if !self.cancelled_children.insert(*seq) {
                        return Err(MalformedOutput::DuplicateCancel {
                            what: "child workflow",
                            seq: *seq,
                        });
                    }
                }
                guest::Command::SignalExternal(guest::SignalExternal { seq, .. })
                | guest::Command::CancelExternal(guest::CancelExternal { seq, .. }) => {
                    if !self.externals.insert(*seq) {
                        return Err(MalformedOutput::DuplicateExternal(*seq));
                    }
                }
                guest::Command::RespondToQuery(response) => {
                    if !self.queries.remove(&response.id) {
                        return Err(MalformedOutput::UnknownQuery(quoted(&response.id)));
                    }
                }
                guest::Command::RespondToUpdate(response) => self.respond_to_update(response)?,
                guest::Command::SetPatchMarker(marker) => {
                    if marker.patch_id.len() > MAX_NAME_BYTES {
                        return Err(MalformedOutput::PatchIdTooLong(marker.patch_id.len()));
                    }
                    let id = patch_hash(&marker.patch_id);
                    if !self.patches.contains(&id) {
                        if self.patches.len() >= MAX_PATCHES {
                            return Err(MalformedOutput::TooManyPatches);
                        }
                        self.patches.insert(id);
                    }
                }
                guest::Command::ContinueAsNew(next) => {
                    check_retry_policy(next.retry_policy.as_ref())?;
                }
                guest::Command::CompleteWorkflow(_)
                | guest::Command::FailWorkflow(_)
                | guest::Command::CancelWorkflow
                | guest::Command::UpsertSearchAttributes(_)
                | guest::Command::UpsertMemo(_) => {}
            }
        }
        Ok(())
    }

    /// The activation's queries the guest did not answer; the host answers them for it.
    pub fn take_unanswered_queries(&mut self) -> Vec<String> {
        let mut unanswered: Vec<String> = self.queries.drain().collect();
        unanswered.sort_unstable();
        unanswered
    }

    fn respond_to_update(
        &mut self,
        response: &guest::UpdateResponse,
    ) -> Result<(), MalformedOutput> {
        let id = &response.protocol_instance_id;
        let Some(stage) = self.updates.get_mut(id) else {
            return Err(MalformedOutput::UnknownUpdate(quoted(id)));
        };
        match (&response.outcome, *stage) {
            (guest::UpdateOutcome::Accepted, UpdateStage::Delivered) => {
                *stage = UpdateStage::Accepted;
            }
            (guest::UpdateOutcome::Rejected(_), _)
            | (guest::UpdateOutcome::Completed(_), UpdateStage::Accepted) => {
                self.updates.remove(id);
            }
            (outcome, _) => {
                return Err(MalformedOutput::UpdateOutOfOrder {
                    id: quoted(id),
                    response: match outcome {
                        guest::UpdateOutcome::Accepted => "accepted",
                        guest::UpdateOutcome::Rejected(_) => "rejected",
                        guest::UpdateOutcome::Completed(_) => "completed",
                    },
                });
            }
        }
        Ok(())
    }
}

fn patch_hash(id: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(id)
}

/// Core and the server take a retry policy's backoff coefficient as a number of at
/// least 1; NaN passes the server's `< 1` check and poisons every retry interval.
fn check_retry_policy(policy: Option<&types::RetryPolicy>) -> Result<(), MalformedOutput> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let coefficient = policy.backoff_coefficient;
    if coefficient == 0.0 || (coefficient.is_finite() && coefficient >= 1.0) {
        Ok(())
    } else {
        Err(MalformedOutput::InvalidBackoff(coefficient.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::types::Duration;

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

    fn local_activity(seq: u32) -> guest::Command {
        guest::Command::ScheduleLocalActivity(guest::ScheduleLocalActivity {
            seq,
            activity_id: seq.to_string(),
            activity_type: "greet".to_owned(),
            arguments: Vec::new(),
            attempt: 1,
            original_schedule_time: None,
            schedule_to_close_timeout: None,
            schedule_to_start_timeout: None,
            start_to_close_timeout: None,
            retry_policy: None,
            local_retry_threshold: None,
            cancellation_type: guest::ActivityCancellationType::TryCancel,
        })
    }

    fn resolved(seq: u32) -> guest::Job {
        guest::Job::ResolveActivity(guest::ResolveActivity {
            seq,
            resolution: guest::ActivityResolution::Completed(None),
        })
    }

    fn update(id: &str) -> guest::Job {
        guest::Job::Update(guest::Update {
            id: id.to_owned(),
            protocol_instance_id: id.to_owned(),
            name: "u".to_owned(),
            arguments: Vec::new(),
            run_validator: true,
        })
    }

    fn respond(id: &str, outcome: guest::UpdateOutcome) -> guest::Command {
        guest::Command::RespondToUpdate(guest::UpdateResponse {
            protocol_instance_id: id.to_owned(),
            outcome,
        })
    }

    #[test]
    fn local_activities_take_ever_higher_seqs() {
        let mut open = OpenCommands::default();
        open.issue(&[local_activity(3)]).unwrap();
        open.resolve(&[resolved(3)]);
        for reused in [3, 2] {
            assert_eq!(
                open.issue(&[local_activity(reused)]),
                Err(MalformedOutput::ReusedLocalActivity(reused))
            );
        }
        open.issue(&[local_activity(4)]).unwrap();
    }

    #[test]
    fn an_activity_is_cancelled_with_the_command_of_its_kind() {
        let mut open = OpenCommands::default();
        open.issue(&[local_activity(5)]).unwrap();
        assert!(matches!(
            open.issue(&[guest::Command::RequestCancelActivity(5)]),
            Err(MalformedOutput::CancelWrongKind { seq: 5, .. })
        ));
    }

    #[test]
    fn an_activity_is_cancelled_once_until_it_resolves() {
        let mut open = OpenCommands::default();
        open.issue(&[
            local_activity(4),
            guest::Command::RequestCancelLocalActivity(4),
        ])
        .unwrap();
        assert_eq!(
            open.issue(&[guest::Command::RequestCancelLocalActivity(4)]),
            Err(MalformedOutput::DuplicateCancel {
                what: "activity",
                seq: 4
            })
        );
    }

    #[test]
    fn updates_are_accepted_once_then_completed_or_rejected() {
        let mut open = OpenCommands::default();
        assert_eq!(
            open.issue(&[respond("u1", guest::UpdateOutcome::Accepted)]),
            Err(MalformedOutput::UnknownUpdate("\"u1\"".to_owned()))
        );
        open.resolve(&[update("u1")]);
        assert_eq!(
            open.issue(&[respond("u1", guest::UpdateOutcome::Completed(None))]),
            Err(MalformedOutput::UpdateOutOfOrder {
                id: "\"u1\"".to_owned(),
                response: "completed"
            })
        );
        open.issue(&[
            respond("u1", guest::UpdateOutcome::Accepted),
            respond("u1", guest::UpdateOutcome::Completed(None)),
        ])
        .unwrap();
        assert!(
            open.issue(&[respond("u1", guest::UpdateOutcome::Accepted)])
                .is_err(),
            "a finished update is gone"
        );
        open.resolve(&[update("u2")]);
        open.issue(&[respond("u2", guest::UpdateOutcome::Rejected(Vec::new()))])
            .unwrap();
    }

    #[test]
    fn only_the_activations_queries_are_answered_and_the_rest_are_reported() {
        let mut open = OpenCommands::default();
        let query = |id: &str| {
            guest::Job::Query(guest::Query {
                id: id.to_owned(),
                name: "q".to_owned(),
                arguments: Vec::new(),
            })
        };
        let answer = |id: &str| {
            guest::Command::RespondToQuery(guest::QueryResponse {
                id: id.to_owned(),
                outcome: Ok(None),
            })
        };
        open.resolve(&[query("a"), query("b"), query("c")]);
        open.issue(&[answer("b")]).unwrap();
        assert_eq!(
            open.issue(&[answer("b")]),
            Err(MalformedOutput::UnknownQuery("\"b\"".to_owned()))
        );
        assert_eq!(open.take_unanswered_queries(), ["a", "c"]);
        open.resolve(&[]);
        assert_eq!(
            open.issue(&[answer("legacy_query")]),
            Err(MalformedOutput::UnknownQuery("\"legacy_query\"".to_owned()))
        );
    }

    #[test]
    fn patch_ids_are_bounded_in_length_and_number() {
        let mut open = OpenCommands::default();
        let patch = |id: String| {
            guest::Command::SetPatchMarker(guest::SetPatchMarker {
                patch_id: id,
                deprecated: false,
            })
        };
        assert_eq!(
            open.issue(&[patch("p".repeat(MAX_NAME_BYTES + 1))]),
            Err(MalformedOutput::PatchIdTooLong(MAX_NAME_BYTES + 1))
        );
        let patches: Vec<_> = (0..MAX_PATCHES).map(|i| patch(i.to_string())).collect();
        open.issue(&patches).unwrap();
        open.issue(&[patch("0".to_owned())])
            .expect("setting a known patch again costs nothing");
        assert_eq!(
            open.issue(&[patch("one more".to_owned())]),
            Err(MalformedOutput::TooManyPatches)
        );
    }

    #[test]
    fn a_backoff_coefficient_must_be_a_number_of_at_least_one() {
        let policy = |coefficient: f64| types::RetryPolicy {
            initial_interval: None,
            backoff_coefficient: coefficient,
            maximum_interval: None,
            maximum_attempts: 0,
            non_retryable_error_types: Vec::new(),
        };
        for good in [0.0, 1.0, 2.5] {
            assert_eq!(check_retry_policy(Some(&policy(good))), Ok(()), "{good}");
        }
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.5] {
            assert!(check_retry_policy(Some(&policy(bad))).is_err(), "{bad}");
        }
    }
}
