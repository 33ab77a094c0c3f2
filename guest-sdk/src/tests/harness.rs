//! Fake activations and their parts, built the way the host builds them, and what the
//! tests read back from the commands.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::exports::sandglass::workflow::guest::LocalActivityBackoff;
use crate::bindings::exports::sandglass::workflow::guest::{
    Activation, ActivityResolution, Command, Initialize, Job, ResolveActivity,
};
use crate::bindings::sandglass::workflow::types::Duration as WitDuration;
use crate::bindings::sandglass::workflow::types::{
    ActivityFailure, ApplicationFailure, Failure, FailureFrame, FailureInfo, Payload, Timestamp,
};
use crate::payload;

pub(super) fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Payload {
    payload::encode(value).unwrap()
}

pub(super) fn activation(at: u64, jobs: Vec<Job>) -> Activation {
    Activation {
        timestamp: Timestamp {
            seconds: at,
            nanos: 0,
        },
        is_replaying: false,
        history_length: 3,
        history_size_bytes: 512,
        continue_as_new_suggested: false,
        jobs,
    }
}

pub(super) fn initialize<T: serde::Serialize>(workflow_type: &str, input: &T) -> Job {
    Job::Initialize(Initialize {
        workflow_type: workflow_type.to_owned(),
        workflow_id: "wf-1".to_owned(),
        run_id: "run-1".to_owned(),
        namespace: "default".to_owned(),
        task_queue: "greeting".to_owned(),
        arguments: vec![json(input)],
        randomness_seed: 7,
        attempt: 1,
        start_time: None,
        parent: None,
        continued_from_run_id: None,
        first_execution_run_id: "run-1".to_owned(),
        execution_timeout: None,
        run_timeout: None,
        cron_schedule: None,
        memo: Vec::new(),
        search_attributes: Vec::new(),
    })
}

pub(super) fn completed<T: serde::Serialize>(seq: u32, value: &T) -> Job {
    Job::ResolveActivity(ResolveActivity {
        seq,
        resolution: ActivityResolution::Completed(Some(json(value))),
    })
}

pub(super) fn backoff(seq: u32, attempt: u32, seconds: u64) -> Job {
    Job::ResolveActivity(ResolveActivity {
        seq,
        resolution: ActivityResolution::Backoff(LocalActivityBackoff {
            attempt,
            backoff: WitDuration { seconds, nanos: 0 },
            original_schedule_time: Some(Timestamp {
                seconds: 100,
                nanos: 0,
            }),
        }),
    })
}

pub(super) fn cancelled(seq: u32) -> Job {
    Job::ResolveActivity(ResolveActivity {
        seq,
        resolution: ActivityResolution::Cancelled(vec![FailureFrame {
            message: "Activity cancelled".to_owned(),
            source: String::new(),
            stack_trace: String::new(),
            info: FailureInfo::Canceled(Vec::new()),
        }]),
    })
}

pub(super) fn failed(seq: u32) -> Job {
    let frames = vec![
        FailureFrame {
            message: "Activity task failed".to_owned(),
            source: String::new(),
            stack_trace: String::new(),
            info: FailureInfo::Activity(ActivityFailure {
                activity_type: "count".to_owned(),
                activity_id: seq.to_string(),
                retry_state: "RETRY_STATE_NON_RETRYABLE_FAILURE".to_owned(),
            }),
        },
        FailureFrame {
            message: "boom".to_owned(),
            source: "PythonSDK".to_owned(),
            stack_trace: String::new(),
            info: FailureInfo::Application(ApplicationFailure {
                error_type: "ValueError".to_owned(),
                non_retryable: true,
                details: Vec::new(),
            }),
        },
    ];
    Job::ResolveActivity(ResolveActivity {
        seq,
        resolution: ActivityResolution::Failed(frames),
    })
}

pub(super) fn decode_completion<T: serde::de::DeserializeOwned>(commands: &[Command]) -> T {
    match commands {
        [Command::CompleteWorkflow(Some(result))] => payload::decode(result).unwrap(),
        other => panic!("expected one complete-workflow, got {other:?}"),
    }
}

pub(super) fn scheduled(commands: &[Command]) -> Vec<(u32, String, Payload)> {
    commands
        .iter()
        .map(|command| match command {
            Command::ScheduleActivity(s) => {
                (s.seq, s.activity_type.clone(), s.arguments[0].clone())
            }
            other => panic!("expected schedule-activity, got {other:?}"),
        })
        .collect()
}

pub(super) fn message(failure: &Failure) -> &str {
    &failure[0].message
}

/// Waits for `timer` or `other`, whichever is first (as `futures::select!` does, biased
/// to the timer): `None` if the timer fired, else `other`'s output.
pub(super) fn timer_first<O>(
    timer: impl Future,
    other: &mut (impl Future<Output = O> + Unpin),
) -> impl Future<Output = Option<O>> {
    let mut timer = Box::pin(timer);
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Pin::new(&mut *other).poll(cx).map(Some)
    })
}

/// Both futures to completion, polled in order (what `futures::join!` does).
pub(super) fn join<A: Future, B: Future>(
    a: A,
    b: B,
) -> impl Future<Output = (A::Output, B::Output)> {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        poll_into(&mut a, &mut out_a, cx);
        poll_into(&mut b, &mut out_b, cx);
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
}

pub(super) fn poll_into<F: Future>(
    future: &mut Pin<Box<F>>,
    out: &mut Option<F::Output>,
    cx: &mut Context<'_>,
) {
    if out.is_none()
        && let Poll::Ready(value) = future.as_mut().poll(cx)
    {
        *out = Some(value);
    }
}
