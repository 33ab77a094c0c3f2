//! How Temporal runs an activity or a local activity: timeouts, retries, cancellation.

use std::time::Duration;

use crate::bindings::exports::sandglass::workflow::guest::ActivityCancellationType as WitCancellationType;
use crate::bindings::sandglass::workflow::types::RetryPolicy as WitRetryPolicy;
use crate::time::to_wit_duration;

/// How Temporal runs one activity: its timeouts, retries and where it runs.
///
/// Temporal requires [`start_to_close_timeout`](Self::start_to_close_timeout) or
/// [`schedule_to_close_timeout`](Self::schedule_to_close_timeout); without either (or with
/// only zero durations, which Temporal reads as unset) the activity is not scheduled and
/// its future resolves at once with an [`ActivityError`](crate::ActivityError) that says so.
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
    /// Temporal's priority key, 1 (highest) to 5; tasks with a lower key are dispatched
    /// first. Default: `None`, the server's default (3). A key outside 1..=5 schedules
    /// nothing: the handle resolves at once with an [`ActivityError`](crate::ActivityError) that says so.
    pub priority: Option<u32>,
}

impl ActivityOptions {
    /// Options with the given start-to-close timeout and every other field at its default.
    pub fn start_to_close(timeout: Duration) -> Self {
        Self {
            start_to_close_timeout: Some(timeout),
            ..Self::default()
        }
    }

    pub(super) fn has_close_timeout(&self) -> bool {
        has_close_timeout(self.start_to_close_timeout, self.schedule_to_close_timeout)
    }
}

/// How the worker running the workflow runs one local activity.
///
/// A local activity runs on the workflow's own worker, inside the workflow task: no
/// activity task goes through the server, and its result is recorded as a marker. Use it
/// for short work (well under the workflow task timeout per attempt) where the
/// round-trips of a normal activity would dominate. Like [`ActivityOptions`], it needs a
/// start-to-close or schedule-to-close timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalActivityOptions {
    /// The longest one attempt may run. Default: unset; set it or
    /// `schedule_to_close_timeout`.
    pub start_to_close_timeout: Option<Duration>,
    /// The longest the activity may take, all attempts included. Default: unset.
    pub schedule_to_close_timeout: Option<Duration>,
    /// The longest an attempt may wait for a free activity slot on the worker. Default:
    /// unset.
    pub schedule_to_start_timeout: Option<Duration>,
    /// How failed attempts are retried. Default: `None` (retry forever with exponential
    /// backoff from 1 s).
    pub retry_policy: Option<RetryPolicy>,
    /// Retries due sooner than this wait inside the worker; later ones wait on a durable
    /// workflow timer, so a long backoff survives the worker. Default: `None`, one minute.
    pub local_retry_threshold: Option<Duration>,
    /// The activity id. Default: `None`, its sequence number in the run.
    pub activity_id: Option<String>,
    /// What cancelling the activity does. Default:
    /// [`ActivityCancellationType::WaitCancellationCompleted`], as core recommends for
    /// local activities (the worker that would confirm it is this one).
    pub cancellation_type: ActivityCancellationType,
}

impl Default for LocalActivityOptions {
    fn default() -> Self {
        Self {
            start_to_close_timeout: None,
            schedule_to_close_timeout: None,
            schedule_to_start_timeout: None,
            retry_policy: None,
            local_retry_threshold: None,
            activity_id: None,
            cancellation_type: ActivityCancellationType::WaitCancellationCompleted,
        }
    }
}

impl LocalActivityOptions {
    /// Options with the given start-to-close timeout and every other field at its default.
    pub fn start_to_close(timeout: Duration) -> Self {
        Self {
            start_to_close_timeout: Some(timeout),
            ..Self::default()
        }
    }
}

pub(super) fn has_close_timeout(
    start_to_close: Option<Duration>,
    schedule_to_close: Option<Duration>,
) -> bool {
    let set = |timeout: Option<Duration>| timeout.is_some_and(|t| !t.is_zero());
    set(start_to_close) || set(schedule_to_close)
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
    /// Error types (as in [`FailureChain::application_error_type`](crate::FailureChain::application_error_type)) that are not
    /// retried.
    pub non_retryable_error_types: Vec<String>,
}

impl RetryPolicy {
    pub(crate) fn to_wit(&self) -> WitRetryPolicy {
        WitRetryPolicy {
            initial_interval: self.initial_interval.map(to_wit_duration),
            backoff_coefficient: self.backoff_coefficient.unwrap_or(0.0),
            maximum_interval: self.maximum_interval.map(to_wit_duration),
            maximum_attempts: self.maximum_attempts,
            non_retryable_error_types: self.non_retryable_error_types.clone(),
        }
    }
}

/// What [`ActivityHandle::cancel`](crate::ActivityHandle::cancel) does to a running activity.
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
    pub(super) fn to_wit(self) -> WitCancellationType {
        match self {
            Self::TryCancel => WitCancellationType::TryCancel,
            Self::WaitCancellationCompleted => WitCancellationType::WaitCancellationCompleted,
            Self::Abandon => WitCancellationType::Abandon,
        }
    }
}
