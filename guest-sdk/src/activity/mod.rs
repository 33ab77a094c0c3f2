//! Scheduling activities and local activities: their options, and the handle that
//! waits for their result or cancels them.

mod options;

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use sandglass_declare::failure_types::{
    INVALID_ACTIVITY_OPTIONS, PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR, PROTOCOL_ERROR,
};
use serde::de::DeserializeOwned;

use crate::bindings::exports::sandglass::workflow::guest::{
    ActivityResolution, Command, LocalActivityBackoff, ScheduleActivity, ScheduleLocalActivity,
    StartTimer,
};
use crate::bindings::sandglass::workflow::types::Payload;
use crate::error::ActivityError;
use crate::payload;
use crate::state::Shared;
use crate::time::to_wit_duration;

use options::has_close_timeout;
pub use options::{ActivityCancellationType, ActivityOptions, LocalActivityOptions, RetryPolicy};

/// Issues the `schedule-activity` command (or finds the options invalid) and returns the
/// handle of its result. See [`WorkflowContext::execute_activity`](crate::WorkflowContext::execute_activity).
pub(crate) fn schedule<O: DeserializeOwned>(
    shared: &Rc<Shared>,
    activity_type: &'static str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
    options: ActivityOptions,
) -> ActivityHandle<O> {
    let handle = |stage: Stage, local: Option<Box<ScheduleLocalActivity>>| {
        ActivityHandle::new(shared, activity_type, stage, local)
    };
    if !options.has_close_timeout() {
        return handle(Stage::Rejected(Some(missing_timeout(activity_type))), None);
    }
    if let Some(key) = options.priority.filter(|key| !(1..=5).contains(key)) {
        let error = ActivityError::local(
            INVALID_ACTIVITY_OPTIONS,
            format!(
                "activity {activity_type:?} was not scheduled: priority {key} is outside \
                 Temporal's range 1 (highest) to 5"
            ),
        );
        return handle(Stage::Rejected(Some(error)), None);
    }
    let Some(arguments) = encoded(shared, activity_type, arguments) else {
        return handle(Stage::Done, None);
    };
    let mut state = shared.state.borrow_mut();
    let seq = state.activities.allocate();
    state.push_command(Command::ScheduleActivity(ScheduleActivity {
        seq,
        activity_id: options.activity_id.unwrap_or_else(|| seq.to_string()),
        activity_type: activity_type.to_owned(),
        task_queue: options.task_queue,
        arguments,
        schedule_to_close_timeout: set_duration(options.schedule_to_close_timeout),
        schedule_to_start_timeout: set_duration(options.schedule_to_start_timeout),
        start_to_close_timeout: set_duration(options.start_to_close_timeout),
        heartbeat_timeout: options.heartbeat_timeout.map(to_wit_duration),
        retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_wit),
        cancellation_type: options.cancellation_type.to_wit(),
        priority: options.priority,
    }));
    drop(state);
    handle(Stage::Scheduled(seq), None)
}

/// Issues the `schedule-local-activity` command (or finds the options invalid) and
/// returns the handle of its result. See
/// [`WorkflowContext::execute_local_activity`](crate::WorkflowContext::execute_local_activity).
pub(crate) fn schedule_local<O: DeserializeOwned>(
    shared: &Rc<Shared>,
    activity_type: &'static str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
    options: LocalActivityOptions,
) -> ActivityHandle<O> {
    if !has_close_timeout(
        options.start_to_close_timeout,
        options.schedule_to_close_timeout,
    ) {
        let error = missing_timeout(activity_type);
        return ActivityHandle::new(shared, activity_type, Stage::Rejected(Some(error)), None);
    }
    let Some(arguments) = encoded(shared, activity_type, arguments) else {
        return ActivityHandle::new(shared, activity_type, Stage::Done, None);
    };
    let mut command = ScheduleLocalActivity {
        seq: 0,
        activity_id: String::new(),
        activity_type: activity_type.to_owned(),
        arguments,
        attempt: 1,
        original_schedule_time: None,
        schedule_to_close_timeout: set_duration(options.schedule_to_close_timeout),
        schedule_to_start_timeout: set_duration(options.schedule_to_start_timeout),
        start_to_close_timeout: set_duration(options.start_to_close_timeout),
        retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_wit),
        local_retry_threshold: options.local_retry_threshold.map(to_wit_duration),
        cancellation_type: options.cancellation_type.to_wit(),
    };
    let mut state = shared.state.borrow_mut();
    let seq = state.activities.allocate();
    command.seq = seq;
    // Retries after a timer backoff keep the first attempt's id, as in other SDKs.
    command.activity_id = options.activity_id.unwrap_or_else(|| seq.to_string());
    state.push_command(Command::ScheduleLocalActivity(command.clone()));
    drop(state);
    ActivityHandle::new(
        shared,
        activity_type,
        Stage::Scheduled(seq),
        Some(Box::new(command)),
    )
}

/// Temporal reads a zero timeout as unset; core would read it as "time out at once".
fn set_duration(
    timeout: Option<Duration>,
) -> Option<crate::bindings::sandglass::workflow::types::Duration> {
    timeout.filter(|t| !t.is_zero()).map(to_wit_duration)
}

fn missing_timeout(activity_type: &str) -> ActivityError {
    ActivityError::local(
        INVALID_ACTIVITY_OPTIONS,
        format!(
            "activity {activity_type:?} was not scheduled: set start_to_close_timeout or \
             schedule_to_close_timeout in its options (Temporal requires one)"
        ),
    )
}

/// The encoded arguments, or `None` after failing the task because they do not encode:
/// a bug in the workflow's types, not the activity's failure, so fixed code can go on.
fn encoded(
    shared: &Shared,
    activity_type: &str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
) -> Option<Vec<Payload>> {
    match arguments {
        Ok(arguments) => Some(arguments),
        Err(error) => {
            shared.state.borrow_mut().fail_task(
                PAYLOAD_ENCODE_ERROR,
                format!(
                    "workflow {:?}: the input of activity {activity_type:?} does not encode \
                     as JSON: {error}",
                    shared.info.workflow_type
                ),
            );
            None
        }
    }
}

/// A scheduled activity or local activity: await it for its result, or
/// [`cancel`](Self::cancel) it.
///
/// Returned by [`WorkflowContext::execute_activity`](crate::WorkflowContext::execute_activity)
/// and [`WorkflowContext::execute_local_activity`](crate::WorkflowContext::execute_local_activity).
/// The command is issued when the handle is made, not when it is first polled.
///
/// # Cancel safety
///
/// Dropping the handle does not cancel the activity: Temporal still runs it and its
/// result is ignored. Call [`cancel`](Self::cancel) to stop it.
#[must_use = "an activity handle does nothing unless awaited or cancelled"]
pub struct ActivityHandle<O> {
    shared: Rc<Shared>,
    activity_type: &'static str,
    stage: RefCell<Stage>,
    /// For a local activity: the command to schedule again after a timer backoff.
    local: Option<Box<ScheduleLocalActivity>>,
    cancel_requested: std::cell::Cell<bool>,
    /// The cancellation scope it was started in, and its operation id there.
    scope: usize,
    operation: u64,
    output: PhantomData<fn() -> O>,
}

enum Stage {
    /// Not scheduled because of its options; the error is handed out on the first poll.
    Rejected(Option<ActivityError>),
    /// Scheduled with this activity seq; waiting for the host to resolve it.
    Scheduled(u32),
    /// A local activity waiting on timer `timer` before its next attempt.
    BackingOff {
        timer: u32,
        backoff: LocalActivityBackoff,
    },
    /// Cancelled while backing off; the cancellation is handed out on the next poll.
    CancelledWhileBackingOff,
    /// The result has been handed out, or the task is failing (an input that did not
    /// encode, a result that did not decode): pending forever.
    Done,
}

impl<O> ActivityHandle<O> {
    fn new(
        shared: &Rc<Shared>,
        activity_type: &'static str,
        stage: Stage,
        local: Option<Box<ScheduleLocalActivity>>,
    ) -> Self {
        let (scope, operation) = shared.state.borrow_mut().scopes.enlist();
        Self {
            shared: shared.clone(),
            activity_type,
            stage: RefCell::new(stage),
            local,
            cancel_requested: std::cell::Cell::new(false),
            scope,
            operation,
            output: PhantomData,
        }
    }

    /// Asks Temporal to cancel the activity, as its
    /// [`ActivityCancellationType`] says. The handle still resolves: with an error whose
    /// [`is_cancelled`](crate::FailureChain::is_cancelled) is true, or with the activity's own
    /// result if it finished first. Calling it again, or after the result arrived, does
    /// nothing.
    ///
    /// A running activity learns of the request through its heartbeats, so cancel only
    /// activities that heartbeat (local activities learn of it directly).
    pub fn cancel(&self) {
        if self.cancel_requested.replace(true) {
            return;
        }
        let mut stage = self.stage.borrow_mut();
        let mut state = self.shared.state.borrow_mut();
        // A resolution (or timer) may have arrived in this activation before the handle
        // saw it; then there is nothing left to cancel in Temporal.
        match &*stage {
            Stage::Scheduled(seq) => match state.activities.ready(*seq) {
                None => {
                    let command = if self.local.is_some() {
                        Command::RequestCancelLocalActivity(*seq)
                    } else {
                        Command::RequestCancelActivity(*seq)
                    };
                    state.push_command(command);
                }
                Some(ActivityResolution::Backoff(_)) => {
                    state.activities.abandon(*seq);
                    *stage = Stage::CancelledWhileBackingOff;
                }
                // The activity ended first; its result stands.
                Some(_) => {}
            },
            Stage::BackingOff { timer, .. } => {
                let waker = state.cancel_timer(*timer);
                *stage = Stage::CancelledWhileBackingOff;
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            Stage::Rejected(_) | Stage::CancelledWhileBackingOff | Stage::Done => {}
        }
    }
}

impl<O: DeserializeOwned> Future for ActivityHandle<O> {
    type Output = Result<O, ActivityError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.cancel_requested.get() {
            let scope_cancelled = this
                .shared
                .state
                .borrow()
                .scopes
                .cancelled(this.scope)
                .is_some();
            if scope_cancelled {
                this.cancel();
            }
        }
        let polled = this.poll_stage(cx);
        let mut state = this.shared.state.borrow_mut();
        if polled.is_pending() {
            state.scopes.watch(this.scope, this.operation, cx.waker());
        } else {
            state.scopes.unwatch(this.scope, this.operation);
        }
        polled
    }
}

impl<O: DeserializeOwned> ActivityHandle<O> {
    fn poll_stage(&mut self, cx: &mut Context<'_>) -> Poll<Result<O, ActivityError>> {
        let this = self;
        loop {
            let stage = std::mem::replace(this.stage.get_mut(), Stage::Done);
            match stage {
                Stage::Rejected(error) => {
                    return error.map_or(Poll::Pending, |error| Poll::Ready(Err(error)));
                }
                Stage::Done => return Poll::Pending,
                Stage::CancelledWhileBackingOff => {
                    return Poll::Ready(Err(ActivityError::cancelled_before_retry(
                        this.activity_type,
                    )));
                }
                Stage::Scheduled(seq) => {
                    let polled = this.shared.state.borrow_mut().activities.poll(seq, cx);
                    let Poll::Ready(resolution) = polled else {
                        *this.stage.get_mut() = Stage::Scheduled(seq);
                        return Poll::Pending;
                    };
                    match resolution {
                        // Core may answer a cancelled attempt's failure with a backoff;
                        // a cancelled handle must not start another attempt.
                        ActivityResolution::Backoff(_) if this.cancel_requested.get() => {
                            return Poll::Ready(Err(ActivityError::cancelled_before_retry(
                                this.activity_type,
                            )));
                        }
                        ActivityResolution::Backoff(backoff) => this.back_off(seq, backoff),
                        other => return this.resolved(seq, other),
                    }
                }
                Stage::BackingOff { timer, backoff } => {
                    let polled = this.shared.state.borrow_mut().timers.poll(timer, cx);
                    if polled.is_pending() {
                        *this.stage.get_mut() = Stage::BackingOff { timer, backoff };
                        return Poll::Pending;
                    }
                    this.retry_local(backoff);
                }
            }
        }
    }

    /// A local activity must wait before its next attempt: start the timer.
    fn back_off(&mut self, seq: u32, backoff: LocalActivityBackoff) {
        let mut state = self.shared.state.borrow_mut();
        if self.local.is_none() {
            state.fail_task(
                PROTOCOL_ERROR,
                format!("resolve-activity: activity {seq} is not local but was told to back off"),
            );
            return;
        }
        let timer = state.timers.allocate();
        state.push_command(Command::StartTimer(StartTimer {
            seq: timer,
            duration: backoff.backoff,
        }));
        *self.stage.get_mut() = Stage::BackingOff { timer, backoff };
    }

    /// The backoff timer fired: schedule the next attempt under a new seq.
    fn retry_local(&mut self, backoff: LocalActivityBackoff) {
        let Some(command) = self.local.as_deref_mut() else {
            return;
        };
        let mut state = self.shared.state.borrow_mut();
        command.seq = state.activities.allocate();
        command.attempt = backoff.attempt;
        command.original_schedule_time = backoff.original_schedule_time;
        state.push_command(Command::ScheduleLocalActivity(command.clone()));
        *self.stage.get_mut() = Stage::Scheduled(command.seq);
    }

    fn resolved(&self, seq: u32, resolution: ActivityResolution) -> Poll<Result<O, ActivityError>> {
        match resolution {
            ActivityResolution::Completed(result) => {
                match payload::decode_optional::<O>(result.as_ref()) {
                    Ok(output) => Poll::Ready(Ok(output)),
                    Err(error) => {
                        // Not the workflow's failure: a result that does not fit the
                        // declared type fails the task, so a fixed workflow can go on.
                        let message = format!(
                            "workflow {:?}: the result of activity {:?} (seq {seq}) does not \
                             decode as `{}`: {error}",
                            self.shared.info.workflow_type,
                            self.activity_type,
                            std::any::type_name::<O>(),
                        );
                        self.shared
                            .state
                            .borrow_mut()
                            .fail_task(PAYLOAD_DECODE_ERROR, message);
                        Poll::Pending
                    }
                }
            }
            ActivityResolution::Failed(failure) => {
                Poll::Ready(Err(ActivityError::from_host(failure, false)))
            }
            ActivityResolution::Cancelled(failure) => {
                Poll::Ready(Err(ActivityError::from_host(failure, true)))
            }
            ActivityResolution::Backoff(_) => Poll::Pending,
        }
    }
}

impl<O> Drop for ActivityHandle<O> {
    fn drop(&mut self) {
        let Ok(mut state) = self.shared.state.try_borrow_mut() else {
            return;
        };
        state.scopes.unwatch(self.scope, self.operation);
        match self.stage.get_mut() {
            Stage::Scheduled(seq) => state.activities.abandon(*seq),
            Stage::BackingOff { timer, .. } => state.timers.abandon(*timer),
            _ => {}
        }
    }
}
