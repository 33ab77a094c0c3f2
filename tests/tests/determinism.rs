//! Plain `std` in a workflow is deterministic, shown on a real server: the clock, the
//! monotonic clock and `HashMap`'s random keys read what the deterministic WASI serves
//! (workflow time and the run's seed), the recorded history replays to the same values,
//! and `println!` reaches the worker's log once, never during replay.
//!
//! This binary installs its own log subscriber to count the guest's prints, so it holds
//! exactly one test.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_host::{
    History, ReplayError, Replayer, WorkflowDefinition, WorkflowHandle, WorkflowOptions,
};
use sandglass_tests::{TestEnv, test_component, unique_task_queue};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Mirrors `DeterminismReport` in `tests/workflows`.
#[derive(Debug, serde::Deserialize)]
struct Report {
    before_timer: Observations,
    after_timer: Observations,
    instant_elapsed_nanos: u64,
    probe_activity_id: String,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Observations {
    system_time_nanos: u64,
    ctx_now_nanos: u64,
    hash_map_order: Vec<u32>,
    random_hash: u64,
}

const STD_DETERMINISM: WorkflowDefinition<u64, Report> =
    WorkflowDefinition::new("StdDeterminismWorkflow");
const TIMER_MILLIS: u64 = 300;

/// Log lines the guest printed with the determinism probe's marker.
#[derive(Clone, Default)]
struct ProbeLines(Arc<Mutex<Vec<String>>>);

impl ProbeLines {
    fn count(&self, run_id: &str) -> usize {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().filter(|line| line.contains(run_id)).count()
    }
}

impl<S: tracing::Subscriber> Layer<S> for ProbeLines {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        #[derive(Default)]
        struct Fields(String);
        impl Visit for Fields {
            fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.0.contains("determinism probe") && fields.0.contains("stream=\"stdout\"") {
            let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            lines.push(fields.0);
        }
    }
}

fn capture_probe_lines() -> ProbeLines {
    let lines = ProbeLines::default();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,sandglass_host=info"));
    // Only the host's info events: the guest's prints are among them, and a layer that
    // saw every event would also see cranelift's trace logging, slowing compiles badly.
    let host_info = tracing_subscriber::filter::Targets::new()
        .with_target("sandglass_host", tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(lines.clone().with_filter(host_info))
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        .try_init()
        .expect("this test binary installs the only log subscriber");
    lines
}

fn nanos(seconds: i64, nanos: i32) -> u64 {
    u64::try_from(seconds).unwrap_or_default() * 1_000_000_000
        + u64::try_from(nanos).unwrap_or_default()
}

/// The times of the run's `WorkflowTaskStarted` events, in order.
fn workflow_task_start_times(history: &History) -> Vec<u64> {
    history
        .events
        .iter()
        .filter(|event| {
            matches!(
                event.attributes,
                Some(Attributes::WorkflowTaskStartedEventAttributes(_))
            )
        })
        .filter_map(|event| event.event_time.as_ref().map(|t| nanos(t.seconds, t.nanos)))
        .collect()
}

async fn run_once(
    env: &TestEnv,
    task_queue: &str,
    id: &str,
) -> (WorkflowHandle<Report>, Report, History) {
    let handle = env
        .client
        .start_workflow(
            STD_DETERMINISM,
            &TIMER_MILLIS,
            WorkflowOptions::new(id, task_queue),
        )
        .await
        .expect("start");
    let report = handle.result().await.expect("the workflow completes");
    let history = handle.fetch_history().await.expect("history");
    (handle, report, history)
}

#[tokio::test(flavor = "multi_thread")]
async fn std_clock_and_randomness_come_from_the_run_and_replay_identically() {
    let probe_lines = capture_probe_lines();
    let env = TestEnv::start().await;
    let task_queue = unique_task_queue("determinism");
    let worker = env.test_worker(&task_queue).await;
    let (first, report, history) = run_once(&env, &task_queue, "determinism-1").await;
    let (second, other, other_history) = run_once(&env, &task_queue, "determinism-2").await;
    worker.stop().await.expect("worker stops cleanly");
    println!("first run: {report:?}\nsecond run: {other:?}");

    for (report, history) in [(&report, &history), (&other, &other_history)] {
        // The wall clock is workflow time: the SDK's clock, and the start of the
        // workflow task that ran the code, as recorded by the server.
        let (before, after) = (&report.before_timer, &report.after_timer);
        assert_eq!(before.system_time_nanos, before.ctx_now_nanos);
        assert_eq!(after.system_time_nanos, after.ctx_now_nanos);
        let task_starts = workflow_task_start_times(history);
        assert_eq!(
            task_starts.first(),
            Some(&before.system_time_nanos),
            "SystemTime::now() before the timer is the first workflow task's start time"
        );
        assert!(
            task_starts.contains(&after.system_time_nanos),
            "SystemTime::now() after the timer is a later workflow task's start: {task_starts:?}"
        );
        // The monotonic clock moves with workflow time, not with the host's clock.
        assert_eq!(
            report.instant_elapsed_nanos,
            after.system_time_nanos - before.system_time_nanos
        );
        assert!(report.instant_elapsed_nanos >= TIMER_MILLIS * 1_000_000);
        // The observations were sealed into the activity id the server recorded.
        assert!(history.events.iter().any(|event| matches!(
            &event.attributes,
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled))
                if scheduled.activity_id == report.probe_activity_id
        )));
    }
    // Randomness is the run's own: two runs, two seeds, two sets of hash keys.
    assert_ne!(
        report.before_timer.random_hash,
        other.before_timer.random_hash
    );
    assert_ne!(
        report.before_timer.random_hash,
        report.after_timer.random_hash
    );

    // Each print reached the log once: the live run printed before and after the timer.
    let run_id = first.run_id().expect("run id").to_owned();
    assert_eq!(probe_lines.count(&run_id), 2, "one line per print");
    assert_eq!(probe_lines.count(second.run_id().expect("run id")), 2);

    // Replay recomputes the same values (or the sealed activity id would not match) and
    // prints nothing.
    let sandbox = Sandbox::new(Default::default()).expect("sandbox");
    let module = WorkflowModule::from_file(&sandbox, test_component()).expect("module");
    let replayer = Replayer::new(sandbox, [module]);
    replayer
        .replay(history.clone(), "determinism-1")
        .await
        .expect("the history replays cleanly");
    replayer
        .replay(other_history, "determinism-2")
        .await
        .expect("the second history replays cleanly");
    assert_eq!(
        probe_lines.count(&run_id),
        2,
        "replay drops the guest's prints"
    );

    // The seal is checked: a history whose activity id differs (as if the workflow had
    // seen another clock or seed) is nondeterministic.
    let mut tampered = history;
    for event in &mut tampered.events {
        if let Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) =
            &mut event.attributes
        {
            scheduled.activity_id = "probe-from-another-clock".to_owned();
        }
    }
    let error = replayer
        .replay(tampered, "determinism-1")
        .await
        .expect_err("a different activity id is nondeterminism");
    assert!(
        matches!(error, ReplayError::Nondeterminism { .. }),
        "{error}"
    );
}
