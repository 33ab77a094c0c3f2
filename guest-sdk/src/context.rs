//! The workflow's handle on its run: facts, time, randomness, activities and timers.

use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use sandglass_declare::failure_types::{PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::activity::ActivityHandle;
use crate::bindings::exports::sandglass::workflow::guest::{
    Command, ContinueAsNew as WitContinueAsNew, SetPatchMarker,
};
use crate::bindings::sandglass::workflow::types::Payload;
use crate::child::{self, ChildWorkflowError, ChildWorkflowOptions, StartChildWorkflow};
use crate::condition::{CancelRequested, WaitCondition, WaitConditionTimeout};
use crate::error::Cancelled;
use crate::external::ExternalWorkflowHandle;
use crate::scope::{CancellationScope, InScope};
use crate::state::{Shared, TaskFailure};
use crate::time::to_wit_duration;
use crate::timer::Sleep;
use crate::{ActivityDefinition, ActivityOptions, LocalActivityOptions, activity, payload, timer};
use crate::{RetryPolicy, WorkflowDefinition, WorkflowError};

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
    /// The workflow that started this one as a child, if one did.
    pub parent: Option<ParentWorkflow>,
    /// The run this one continued as new from, if it did.
    pub continued_from_run_id: Option<String>,
    /// The first run of this chain of runs (retries, continue-as-new, cron).
    pub first_execution_run_id: String,
    /// The limit on the whole chain of runs, if the starter set one.
    pub execution_timeout: Option<Duration>,
    /// The limit on this run, if the starter set one.
    pub run_timeout: Option<Duration>,
    /// The cron schedule this workflow runs on, if any.
    pub cron_schedule: Option<String>,
}

/// The parent of a child workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParentWorkflow {
    pub workflow_id: String,
    pub run_id: String,
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

    /// The history's size in bytes as of the current activation.
    pub fn history_size_bytes(&self) -> u64 {
        self.shared.state.borrow().history_size_bytes
    }

    /// Whether Temporal suggests continuing as new because the history is getting long
    /// (the Python SDK's `workflow.info().is_continue_as_new_suggested()`).
    pub fn continue_as_new_suggested(&self) -> bool {
        self.shared.state.borrow().continue_as_new_suggested
    }

    /// Ends this run and starts a new run of the same workflow id with `input`: return
    /// the error from `run` (`return Err(ctx.continue_as_new(&state))`). The new run has
    /// a fresh history; the client's handle follows it to the final result.
    pub fn continue_as_new<I: Serialize>(&self, input: &I) -> WorkflowError {
        self.continue_as_new_with(input, ContinueAsNewOptions::default())
    }

    /// [`continue_as_new`](Self::continue_as_new) with options: another workflow type or
    /// task queue, timeouts, a retry policy.
    pub fn continue_as_new_with<I: Serialize>(
        &self,
        input: &I,
        options: ContinueAsNewOptions,
    ) -> WorkflowError {
        let command = payload::encode_arguments(input)
            .map(|arguments| WitContinueAsNew {
                workflow_type: options.workflow_type.map(str::to_owned),
                task_queue: options.task_queue,
                arguments,
                run_timeout: options.run_timeout.map(to_wit_duration),
                task_timeout: options.task_timeout.map(to_wit_duration),
                memo: Vec::new(),
                search_attributes: Vec::new(),
                retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_wit),
            })
            .map_err(|error| {
                format!(
                    "could not encode the input of continue-as-new (`{}`) as JSON: {error}",
                    std::any::type_name::<I>()
                )
            });
        WorkflowError::continue_as_new(command)
    }

    /// Whether the run takes the new code path of a change named `patch_id` (the Python
    /// SDK's `workflow.patched`): `true` for runs that start or reach this point on code
    /// with the patch, `false` for runs replaying history made before it.
    ///
    /// The first call records a marker in history; every later call in the run gives the
    /// same answer. Once no run older than the patch is left, replace the call with
    /// [`deprecate_patch`](Self::deprecate_patch) and remove the old branch; later still,
    /// remove that call too.
    pub fn patched(&self, patch_id: &str) -> bool {
        self.patch(patch_id, false)
    }

    /// Marks `patch_id` deprecated: the old code path is gone from this workflow, so
    /// histories made with or without the patch's marker both replay.
    pub fn deprecate_patch(&self, patch_id: &str) {
        self.patch(patch_id, true);
    }

    fn patch(&self, patch_id: &str, deprecated: bool) -> bool {
        let mut state = self.shared.state.borrow_mut();
        if let Some(decided) = state.patches_decided.get(patch_id) {
            return *decided;
        }
        let use_patch = !state.is_replaying || state.patches_in_history.contains(patch_id);
        state.patches_decided.insert(patch_id.to_owned(), use_patch);
        if use_patch {
            state.push_command(Command::SetPatchMarker(SetPatchMarker {
                patch_id: patch_id.to_owned(),
                deprecated,
            }));
        }
        use_patch
    }

    /// A memo field of the run (as started, with the run's own upserts), decoded as `T`;
    /// `None` if absent, `Some(Err(..))` if it does not decode.
    pub fn memo<T: DeserializeOwned>(&self, name: &str) -> Option<Result<T, WorkflowError>> {
        let state = self.shared.state.borrow();
        state
            .memo
            .get(name)
            .map(|value| decode_named("memo", name, value))
    }

    /// A search attribute of the run (as started, with the run's own upserts), decoded as
    /// `T`; `None` if absent, `Some(Err(..))` if it does not decode.
    pub fn search_attribute<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Option<Result<T, WorkflowError>> {
        let state = self.shared.state.borrow();
        state
            .search_attributes
            .get(name)
            .map(|value| decode_named("search attribute", name, value))
    }

    /// Sets memo fields of the run (others are kept), visible to clients that describe
    /// or list it. A value that does not encode as JSON fails the workflow task.
    pub fn upsert_memo<T: Serialize>(&self, fields: &[(&str, T)]) {
        if let Some(fields) = self.encode_fields("memo", fields) {
            let mut state = self.shared.state.borrow_mut();
            state.memo.extend(fields.iter().cloned());
            state.push_command(Command::UpsertMemo(fields));
        }
    }

    /// Sets search attributes of the run (others are kept), for visibility queries. Custom
    /// attributes must be registered with the server first (`temporal operator
    /// search-attribute create`). A value that does not encode fails the workflow task.
    pub fn upsert_search_attributes<T: Serialize>(&self, attributes: &[(&str, T)]) {
        if let Some(attributes) = self.encode_fields("search attribute", attributes) {
            let mut state = self.shared.state.borrow_mut();
            state.search_attributes.extend(attributes.iter().cloned());
            state.push_command(Command::UpsertSearchAttributes(attributes));
        }
    }

    fn encode_fields<T: Serialize>(
        &self,
        kind: &str,
        fields: &[(&str, T)],
    ) -> Option<Vec<(String, Payload)>> {
        let mut encoded = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            match payload::encode(value) {
                Ok(payload) => encoded.push(((*name).to_owned(), payload)),
                Err(error) => {
                    self.shared.state.borrow_mut().fail_task(
                        PAYLOAD_ENCODE_ERROR,
                        format!(
                            "workflow {:?}: {kind} {name:?} does not encode as JSON: {error}",
                            self.shared.info.workflow_type
                        ),
                    );
                    return None;
                }
            }
        }
        Some(encoded)
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
    /// duration starts no timer and is ready at once. It resolves with [`Cancelled`] if
    /// its [cancellation scope](Self::cancellation_scope) (or the workflow) is cancelled
    /// first, or if [`Sleep::cancel`] is called.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the wait; the timer still fires in Temporal and is
    /// ignored. [`Sleep::cancel`] removes it.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        timer::start(&self.shared, duration)
    }

    /// A new cancellation scope inside the current one: operations started by futures it
    /// [runs](CancellationScope::run) are cancelled together by
    /// [`CancellationScope::cancel`], and by any cancellation of the enclosing scope.
    pub fn cancellation_scope(&self) -> CancellationScope {
        CancellationScope::open(&self.shared, false)
    }

    /// Makes a future with `make` and runs it where cancellation does not reach: the
    /// workflow's cancellation (or an enclosing scope's) leaves the operations it starts
    /// alone. Use it for cleanup that must run after a cancellation, such as
    /// compensations: `ctx.non_cancellable(|| ctx.execute_activity(UNDO, input, options))`.
    pub fn non_cancellable<F: Future>(&self, make: impl FnOnce() -> F) -> InScope<F> {
        CancellationScope::open(&self.shared, true).run(make)
    }

    /// Waits until `condition` returns true (the Python SDK's `workflow.wait_condition`).
    ///
    /// The condition reads the workflow's state, typically something a signal or update
    /// handler changes. It is checked when the future is polled and again each time the
    /// run has nothing else to do, so it must be cheap and must not have side effects.
    /// If its cancellation scope (or the workflow) is cancelled first, the wait ends with
    /// [`Cancelled`], as Python's `wait_condition` raises.
    pub fn wait_condition<C: FnMut() -> bool + 'static>(
        &self,
        condition: C,
    ) -> impl Future<Output = Result<(), Cancelled>> + use<C> {
        WaitCondition::new(self.shared.clone(), condition)
    }

    /// Like [`wait_condition`](Self::wait_condition), giving up after `timeout` of
    /// workflow time: `true` if the condition came true, `false` if the timeout
    /// passed first. The timeout is a durable timer, cancelled when the condition wins;
    /// a cancelled scope ends the wait with [`Cancelled`].
    pub fn wait_condition_timeout<C: FnMut() -> bool + 'static>(
        &self,
        condition: C,
        timeout: Duration,
    ) -> impl Future<Output = Result<bool, Cancelled>> + use<C> {
        let condition = WaitCondition::new(self.shared.clone(), condition);
        WaitConditionTimeout::new(condition, timer::start(&self.shared, timeout))
    }

    /// Whether no signal or update handler is still running. Await
    /// `ctx.wait_condition(move || ctx.all_handlers_finished())` before `run` returns so
    /// that no handler's work is cut off and every update caller gets its result.
    pub fn all_handlers_finished(&self) -> bool {
        self.shared.state.borrow().running_handlers.is_empty()
    }

    /// Whether a client has asked to cancel this run.
    ///
    /// Cancellation is a request: the run decides what to do. To end as cancelled, return
    /// [`WorkflowError::cancelled`](crate::WorkflowError::cancelled) (or an error from a
    /// cancelled activity) from `run` after the request arrived.
    pub fn is_cancel_requested(&self) -> bool {
        let state = self.shared.state.borrow();
        state.scopes.cancelled(crate::scope::ROOT).is_some()
    }

    /// Ready with the request's reason once a client asks to cancel this run.
    pub fn cancelled(&self) -> impl Future<Output = String> + use<> {
        CancelRequested::new(self.shared.clone())
    }

    /// Starts a child workflow; resolves to its handle once Temporal has started it (or
    /// with why it could not, e.g. its id is taken). Await the handle for the result.
    pub fn start_child_workflow<I: Serialize, O>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: ChildWorkflowOptions,
    ) -> StartChildWorkflow<O> {
        child::start(
            &self.shared,
            workflow.name(),
            payload::encode_arguments(input),
            options,
        )
    }

    /// Starts a child workflow and waits for its result.
    pub fn execute_child_workflow<I: Serialize, O: DeserializeOwned + 'static>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: ChildWorkflowOptions,
    ) -> impl Future<Output = Result<O, ChildWorkflowError>> + use<I, O> {
        let start = self.start_child_workflow(workflow, input, options);
        async move { start.await?.await }
    }

    /// A handle to another workflow, to signal it or ask it to cancel; `run_id: None`
    /// means its latest run.
    pub fn external_workflow(
        &self,
        workflow_id: impl Into<String>,
        run_id: Option<String>,
    ) -> ExternalWorkflowHandle {
        ExternalWorkflowHandle::new(&self.shared, workflow_id.into(), run_id)
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

/// How to continue as new; every field defaults to the current run's setting.
#[derive(Clone, Debug, Default)]
pub struct ContinueAsNewOptions {
    /// Another workflow type to continue as; `None` keeps this run's.
    pub workflow_type: Option<&'static str>,
    /// Another task queue; `None` keeps this run's.
    pub task_queue: Option<String>,
    pub run_timeout: Option<Duration>,
    pub task_timeout: Option<Duration>,
    pub retry_policy: Option<RetryPolicy>,
}

fn decode_named<T: DeserializeOwned>(
    kind: &str,
    name: &str,
    value: &Payload,
) -> Result<T, WorkflowError> {
    payload::decode(value).map_err(|error| {
        WorkflowError::application(
            PAYLOAD_DECODE_ERROR,
            format!(
                "{kind} {name:?} does not decode as `{}`: {error}",
                std::any::type_name::<T>()
            ),
        )
    })
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
