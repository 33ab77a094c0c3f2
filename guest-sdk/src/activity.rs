//! Scheduling activities: their options, and the future that waits for their result.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::bindings::exports::sandglass::workflow::guest::{
    ActivityCancellationType as WitCancellationType, ActivityResolution, Command, ScheduleActivity,
};
use crate::bindings::sandglass::workflow::types::{Payload, RetryPolicy as WitRetryPolicy};
use crate::error::ActivityError;
use crate::payload;
use crate::state::Shared;
use crate::time::to_wit_duration;

/// How Temporal runs one activity: its timeouts, retries and where it runs.
///
/// Temporal requires [`start_to_close_timeout`](Self::start_to_close_timeout) or
/// [`schedule_to_close_timeout`](Self::schedule_to_close_timeout); without either (or with
/// only zero durations, which Temporal reads as unset) the activity is not scheduled and
/// its future resolves at once with an [`ActivityError`] that says so.
///
/// ```
/// use std::time::Duration;
/// use sandglass::{ActivityOptions, RetryPolicy};
///
/// let options = ActivityOptions {
///     retry_policy: Some(RetryPolicy { maximum_attempts: 3, ..Default::default() }),
///     ..ActivityOptions::start_to_close(Duration::from_secs(30))
/// };
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityOptions {
    /// The longest one attempt may run. Default: unset. Set it (or
    /// `schedule_to_close_timeout`): Temporal requires one of them.
    pub start_to_close_timeout: Option<Duration>,
    /// The longest the activity may take, all attempts and waiting included. Default:
    /// unset (unlimited, given a start-to-close timeout).
    pub schedule_to_close_timeout: Option<Duration>,
    /// The longest an attempt may wait in the task queue for a worker. Default: unset
    /// (unlimited). Rarely useful: a missing worker is better found by monitoring.
    pub schedule_to_start_timeout: Option<Duration>,
    /// The longest an attempt may go without heartbeating. Default: unset (no heartbeat
    /// expected).
    pub heartbeat_timeout: Option<Duration>,
    /// How failed attempts are retried. Default: `None`, the server's default policy
    /// (retry forever with exponential backoff from 1 s, capped at 100 s).
    pub retry_policy: Option<RetryPolicy>,
    /// The task queue whose workers run the activity. Default: `None`, the workflow's own
    /// task queue.
    pub task_queue: Option<String>,
    /// The activity id. Default: `None`, the activity's sequence number in the run
    /// (`"1"`, `"2"`, ...), as other Temporal SDKs do. Must be unique among the run's
    /// open activities.
    pub activity_id: Option<String>,
    /// What cancelling the activity does. Default: [`ActivityCancellationType::TryCancel`].
    pub cancellation_type: ActivityCancellationType,
}

impl ActivityOptions {
    /// Options with the given start-to-close timeout and every other field at its default.
    pub fn start_to_close(timeout: Duration) -> Self {
        Self {
            start_to_close_timeout: Some(timeout),
            ..Self::default()
        }
    }

    fn has_close_timeout(&self) -> bool {
        let set = |timeout: Option<Duration>| timeout.is_some_and(|t| !t.is_zero());
        set(self.start_to_close_timeout) || set(self.schedule_to_close_timeout)
    }
}

/// How Temporal retries a failed activity attempt. Unset fields take the server's
/// defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetryPolicy {
    /// The wait before the first retry. Default: the server's (1 s).
    pub initial_interval: Option<Duration>,
    /// How much longer each wait is than the previous one. Default: the server's (2.0).
    pub backoff_coefficient: Option<f64>,
    /// The longest wait between retries. Default: the server's (100 × the initial
    /// interval).
    pub maximum_interval: Option<Duration>,
    /// How many attempts in all; 0 (the default) means unlimited.
    pub maximum_attempts: u32,
    /// Error types (as in [`ActivityError::application_error_type`]) that are not
    /// retried.
    pub non_retryable_error_types: Vec<String>,
}

impl RetryPolicy {
    fn to_wit(&self) -> WitRetryPolicy {
        WitRetryPolicy {
            initial_interval: self.initial_interval.map(to_wit_duration),
            backoff_coefficient: self.backoff_coefficient.unwrap_or(0.0),
            maximum_interval: self.maximum_interval.map(to_wit_duration),
            maximum_attempts: self.maximum_attempts,
            non_retryable_error_types: self.non_retryable_error_types.clone(),
        }
    }
}

/// What cancelling a running activity does. (Cancellation itself is not in this version
/// of the SDK; the setting is sent to Temporal so it applies once it is.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActivityCancellationType {
    /// Ask the activity to stop, and report it cancelled at once.
    #[default]
    TryCancel,
    /// Ask the activity to stop, and wait until it has.
    WaitCancellationCompleted,
    /// Report it cancelled at once and let the activity run on.
    Abandon,
}

impl ActivityCancellationType {
    fn to_wit(self) -> WitCancellationType {
        match self {
            Self::TryCancel => WitCancellationType::TryCancel,
            Self::WaitCancellationCompleted => WitCancellationType::WaitCancellationCompleted,
            Self::Abandon => WitCancellationType::Abandon,
        }
    }
}

/// Issues the `schedule-activity` command (or finds the options invalid) and returns the
/// future of its result. See [`WorkflowContext::execute_activity`](crate::WorkflowContext::execute_activity).
pub(crate) fn schedule<O: DeserializeOwned>(
    shared: &Rc<Shared>,
    activity_type: &'static str,
    arguments: Result<Vec<Payload>, serde_json::Error>,
    options: ActivityOptions,
) -> ActivityFuture<O> {
    let rejected = |error: ActivityError| ActivityFuture {
        shared: shared.clone(),
        activity_type,
        state: FutureState::Rejected(Some(error)),
        output: PhantomData,
    };
    if !options.has_close_timeout() {
        return rejected(ActivityError::local(
            "InvalidActivityOptions",
            format!(
                "activity {activity_type:?} was not scheduled: set start_to_close_timeout or \
                 schedule_to_close_timeout in its ActivityOptions (Temporal requires one)"
            ),
        ));
    }
    let arguments = match arguments {
        Ok(arguments) => arguments,
        Err(error) => {
            // A bug in the workflow's types, not the activity's failure: fail the task
            // (like a result that does not decode), so fixed code can go on.
            shared.state.borrow_mut().fail_task(
                "PayloadEncodeError",
                format!(
                    "workflow {:?}: the input of activity {activity_type:?} does not encode \
                     as JSON: {error}",
                    shared.info.workflow_type
                ),
            );
            return ActivityFuture {
                shared: shared.clone(),
                activity_type,
                state: FutureState::Done,
                output: PhantomData,
            };
        }
    };
    let seq = {
        let mut state = shared.state.borrow_mut();
        let seq = state.activities.allocate();
        state.push_command(Command::ScheduleActivity(ScheduleActivity {
            seq,
            activity_id: options.activity_id.unwrap_or_else(|| seq.to_string()),
            activity_type: activity_type.to_owned(),
            task_queue: options.task_queue,
            arguments,
            schedule_to_close_timeout: options.schedule_to_close_timeout.map(to_wit_duration),
            schedule_to_start_timeout: options.schedule_to_start_timeout.map(to_wit_duration),
            start_to_close_timeout: options.start_to_close_timeout.map(to_wit_duration),
            heartbeat_timeout: options.heartbeat_timeout.map(to_wit_duration),
            retry_policy: options.retry_policy.as_ref().map(RetryPolicy::to_wit),
            cancellation_type: options.cancellation_type.to_wit(),
        }));
        seq
    };
    ActivityFuture {
        shared: shared.clone(),
        activity_type,
        state: FutureState::Scheduled(seq),
        output: PhantomData,
    }
}

/// The result of one scheduled activity.
pub(crate) struct ActivityFuture<O> {
    shared: Rc<Shared>,
    activity_type: &'static str,
    state: FutureState,
    output: PhantomData<fn() -> O>,
}

enum FutureState {
    /// Not scheduled because of its options; the error is handed out on the first poll.
    Rejected(Option<ActivityError>),
    /// Scheduled with this seq; waiting for the host to resolve it.
    Scheduled(u32),
    /// The result has been handed out, or the task is failing (an input that did not
    /// encode, a result that did not decode): pending forever.
    Done,
}

impl<O: DeserializeOwned> Future for ActivityFuture<O> {
    type Output = Result<O, ActivityError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let seq = match &mut this.state {
            FutureState::Rejected(error) => {
                let error = error.take();
                this.state = FutureState::Done;
                return error.map_or(Poll::Pending, |error| Poll::Ready(Err(error)));
            }
            FutureState::Scheduled(seq) => *seq,
            FutureState::Done => return Poll::Pending,
        };
        let polled = this.shared.state.borrow_mut().activities.poll(seq, cx);
        let Poll::Ready(resolution) = polled else {
            return Poll::Pending;
        };
        this.state = FutureState::Done;
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
                            this.shared.info.workflow_type,
                            this.activity_type,
                            std::any::type_name::<O>(),
                        );
                        this.shared
                            .state
                            .borrow_mut()
                            .fail_task("PayloadDecodeError", message);
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
        }
    }
}

impl<O> Drop for ActivityFuture<O> {
    fn drop(&mut self) {
        if let FutureState::Scheduled(seq) = self.state
            && let Ok(mut state) = self.shared.state.try_borrow_mut()
        {
            state.activities.abandon(seq);
        }
    }
}
