//! Where a worker's time goes, counted cheaply enough to leave on: the guest's share
//! (instantiating and running workflow code), the bridge's (converting between core's
//! protos and WIT values) and the activities'. Whatever the process spends beyond these
//! is core, gRPC and the runtime; `sandglass-bench` reports that split.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Cumulative counters, shared by the workflow and activity halves of one worker.
#[derive(Debug, Default)]
pub(crate) struct StatsRecorder {
    activations: AtomicU64,
    instances: AtomicU64,
    activities: AtomicU64,
    instantiate_nanos: AtomicU64,
    guest_nanos: AtomicU64,
    conversion_nanos: AtomicU64,
    activity_nanos: AtomicU64,
}

/// Which counter a timed section adds to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    /// Creating a run's instance (`InstancePre::instantiate`).
    Instantiate,
    /// Running `activate` in the guest.
    Guest,
    /// Routing an activation and converting the guest's commands.
    Conversion,
    /// Running an activity function, pool wait included.
    Activity,
}

impl StatsRecorder {
    /// Runs `section` and adds its wall time to `phase`.
    pub(crate) fn time<T>(&self, phase: Phase, section: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = section();
        self.add(phase, started.elapsed());
        result
    }

    pub(crate) fn add(&self, phase: Phase, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let (total, count) = match phase {
            Phase::Instantiate => (&self.instantiate_nanos, Some(&self.instances)),
            Phase::Guest => (&self.guest_nanos, Some(&self.activations)),
            Phase::Conversion => (&self.conversion_nanos, None),
            Phase::Activity => (&self.activity_nanos, Some(&self.activities)),
        };
        total.fetch_add(nanos, Ordering::Relaxed);
        if let Some(count) = count {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> WorkerStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let nanos = |counter: &AtomicU64| Duration::from_nanos(read(counter));
        WorkerStats {
            activations: read(&self.activations),
            instances_created: read(&self.instances),
            activities_run: read(&self.activities),
            instantiate_time: nanos(&self.instantiate_nanos),
            guest_time: nanos(&self.guest_nanos),
            conversion_time: nanos(&self.conversion_nanos),
            activity_time: nanos(&self.activity_nanos),
        }
    }
}

/// A worker's counters since it was built. Times are wall time of CPU-bound sections,
/// so they approximate the CPU each part used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Guest `activate` calls.
    pub activations: u64,
    /// Instances created (one per run started or rebuilt after eviction).
    pub instances_created: u64,
    /// Activity executions, sync and async, local and remote.
    pub activities_run: u64,
    pub instantiate_time: Duration,
    pub guest_time: Duration,
    pub conversion_time: Duration,
    pub activity_time: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_add_to_their_phase() {
        let stats = StatsRecorder::default();
        let value = stats.time(Phase::Guest, || 7);
        stats.add(Phase::Activity, Duration::from_millis(3));
        stats.add(Phase::Conversion, Duration::from_micros(5));
        let snapshot = stats.snapshot();
        assert_eq!(value, 7);
        assert_eq!(snapshot.activations, 1);
        assert_eq!(snapshot.activities_run, 1);
        assert_eq!(snapshot.instances_created, 0);
        assert_eq!(snapshot.activity_time, Duration::from_millis(3));
        assert_eq!(snapshot.conversion_time, Duration::from_micros(5));
    }
}
