//! The workflow's handle on its run: facts, time, randomness, activities and timers.

use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::activity::ActivityHandle;
use crate::bindings::exports::sandglass::workflow::guest::Command;
use crate::state::{Shared, TaskFailure};
use crate::{ActivityDefinition, ActivityOptions, LocalActivityOptions, activity, payload, timer};

/// Facts about the run, fixed for its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkflowInfo {
    /// The Temporal workflow type name (a [`WorkflowDefinition`](crate::WorkflowDefinition)'s name).
    pub workflow_type: String,
    /// The workflow id the client chose.
    pub workflow_id: String,
    /// The id of this run of the workflow.
    pub run_id: String,
    /// The Temporal namespace.
    pub namespace: String,
    /// The task queue the workflow runs on.
    pub task_queue: String,
    /// Which attempt of the workflow this run is (1 unless a workflow retry policy
    /// started it again).
    pub attempt: u32,
    /// When the run started, if Temporal said.
    pub start_time: Option<SystemTime>,
}

/// The workflow's handle on its run.
///
/// Everything it returns is deterministic: the same on every replay of the run. That is
/// why workflow code reads time, randomness and results through it (or through `std`,
/// which the host's deterministic WASI backs with the same sources), and why it has no
/// way to do I/O: that belongs in activities.
///
/// Cloning is cheap (one `Rc`); clones share the run. It is neither `Send` nor `Sync`:
/// a run lives on one thread.
#[derive(Clone)]
pub struct WorkflowContext {
    shared: Rc<Shared>,
}

impl WorkflowContext {
    pub(crate) fn new(shared: Rc<Shared>) -> Self {
        Self { shared }
    }

    /// Ends the run with `command`, or fails the task if it could not be made.
    pub(crate) fn finish(&self, command: Result<Command, TaskFailure>) {
        let mut state = self.shared.state.borrow_mut();
        match command {
            Ok(command) => state.finish(command),
            Err(failure) => state.fail_task(failure.error_type, failure.message),
        }
    }

    /// Facts about the run.
    pub fn info(&self) -> &WorkflowInfo {
        &self.shared.info
    }

    /// Workflow time: when Temporal created the current workflow task, the same on replay.
    /// It stands still while the workflow runs and moves between activations.
    /// `SystemTime::now()` in a workflow reads the same clock.
    pub fn now(&self) -> SystemTime {
        self.shared.state.borrow().now
    }

    /// Whether the run is replaying history it has already made, rather than making new
    /// history. Use it only for side effects that must not repeat (the [`log`](crate::log)
    /// macros already use it); branching on it makes the workflow nondeterministic.
    pub fn is_replaying(&self) -> bool {
        self.shared.state.borrow().is_replaying
    }

    /// The number of events in the run's history as of the current activation.
    pub fn history_length(&self) -> u32 {
        self.shared.state.borrow().history_length
    }

    /// 64 random bits from the run's deterministic generator, seeded by Temporal.
    pub fn random(&self) -> u64 {
        self.shared.state.borrow_mut().rng.next_u64()
    }

    /// A random float in `[0, 1)` from the run's deterministic generator.
    pub fn random_f64(&self) -> f64 {
        self.shared.state.borrow_mut().rng.next_f64()
    }

    /// A random version 4 UUID (`"xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"`) from the run's
    /// deterministic generator: the same on every replay, so safe to use as an id.
    pub fn uuid4(&self) -> String {
        self.shared.state.borrow_mut().rng.uuid4()
    }

    /// Waits for `duration` of workflow time, with a durable Temporal timer.
    ///
    /// The `start-timer` command is issued by this call, not by the first poll. A zero
    /// duration starts no timer and is ready at once.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the wait; the timer still fires in Temporal and is
    /// ignored.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + use<> {
        timer::start(&self.shared, duration)
    }

    /// Runs an activity; await the handle for its result, or cancel it.
    ///
    /// The `schedule-activity` command is issued by this call, not by the first poll, so
    /// activities started one after another run concurrently however their handles are
    /// awaited. Options without a start-to-close or schedule-to-close timeout schedule
    /// nothing: the handle resolves at once with an [`ActivityError`](crate::ActivityError) saying so.
    ///
    /// An input that does not encode as JSON, or a result that does not decode as `O`,
    /// does not fail the workflow: it fails the workflow task with a message naming the
    /// workflow type and the activity, and the handle never resolves.
    ///
    /// # Cancel safety
    ///
    /// Dropping the handle does not cancel the activity: Temporal still runs it, and its
    /// result is ignored. [`ActivityHandle::cancel`] cancels it.
    pub fn execute_activity<I: Serialize, O: DeserializeOwned>(
        &self,
        activity: ActivityDefinition<I, O>,
        input: I,
        options: ActivityOptions,
    ) -> ActivityHandle<O> {
        let arguments = payload::encode_arguments(&input);
        activity::schedule(&self.shared, activity.name(), arguments, options)
    }

    /// Runs an activity as a local activity, on this workflow's worker; await the handle
    /// for its result, or cancel it.
    ///
    /// Everything [`execute_activity`](Self::execute_activity) says holds, except that
    /// no activity task goes through the server: the worker runs the activity inside the
    /// workflow task and records its result in a marker. Retries whose backoff exceeds
    /// the local retry threshold wait on a durable timer the handle starts for you.
    pub fn execute_local_activity<I: Serialize, O: DeserializeOwned>(
        &self,
        activity: ActivityDefinition<I, O>,
        input: I,
        options: LocalActivityOptions,
    ) -> ActivityHandle<O> {
        let arguments = payload::encode_arguments(&input);
        activity::schedule_local(&self.shared, activity.name(), arguments, options)
    }
}

impl std::fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowContext")
            .field("info", &self.shared.info)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `WorkflowContext` must stay `!Send`: a run and its `Rc`s live on one thread.
    /// This compiles only if the first impl is the only one that applies.
    #[test]
    fn context_is_not_send() {
        trait AmbiguousIfSend<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSend<()> for T {}
        impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
        <WorkflowContext as AmbiguousIfSend<_>>::check();
    }

    #[test]
    fn plain_values_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<WorkflowInfo>();
        assert_send_sync::<ActivityOptions>();
        assert_send_sync::<crate::ActivityError>();
        assert_send_sync::<crate::WorkflowError>();
    }
}
