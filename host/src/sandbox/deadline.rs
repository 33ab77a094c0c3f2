//! The activation deadline, counted in the guest's own CPU time.
//!
//! A deadline on the wall clock punishes a healthy run for its neighbours' load: on a
//! 2-core host beside a few spinning runs, a run that needs 0.8 s of CPU takes several
//! seconds to get it. So the budget ([`SandboxLimits::activation_deadline`]) is CPU time
//! of the thread running the guest, which only the guest's own work advances, with a
//! wall-clock backstop ([`WALL_CLOCK_FACTOR`] times the budget) so that a run starved of
//! CPU is still stopped within seconds.
//!
//! wasmtime's epoch interruption does the stopping: the engine's epoch ticks every
//! [`EPOCH_TICK`](super::engine::EPOCH_TICK); when a store's deadline in ticks passes, the
//! guest calls [`Deadline::check`] at its next loop header or function entry, on its own
//! thread. A thread cannot use CPU faster than the wall clock passes, so the first check
//! is due once the budget has passed on the wall clock, and each check schedules the next
//! for when the budget could be used up at the earliest: a few checks per activation at
//! most, each one `clock_gettime`.
//!
//! [`SandboxLimits::activation_deadline`]: super::SandboxLimits::activation_deadline

use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

use super::engine::ticks_for;

/// How many times its CPU budget an activation may take on the wall clock.
pub const WALL_CLOCK_FACTOR: u32 = 5;

/// The share of the workflow task timeout an activation may take on the wall clock, so
/// that its failure still reaches the server in time.
const TASK_TIMEOUT_SHARE: f64 = 0.8;

/// Which limit stopped an activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overrun {
    /// It used its whole CPU budget.
    Cpu,
    /// It ran past the wall-clock backstop (while short of CPU), after `limit`.
    WallClock { limit: Duration },
}

/// One run's deadline, restarted for each activation.
#[derive(Debug)]
pub struct Deadline {
    budget: Duration,
    wall_clock_limit: Duration,
    started: Option<(Duration, Instant)>,
    overrun: Option<Overrun>,
}

impl Deadline {
    /// A deadline of `budget` in CPU time, for a run whose workflow tasks time out after
    /// `task_timeout` (if known).
    pub fn new(budget: Duration, task_timeout: Option<Duration>) -> Self {
        let backstop = budget.saturating_mul(WALL_CLOCK_FACTOR);
        Self {
            budget,
            wall_clock_limit: task_timeout.map_or(backstop, |timeout| {
                backstop.min(timeout.mul_f64(TASK_TIMEOUT_SHARE))
            }),
            started: None,
            overrun: None,
        }
    }

    /// Starts the clock for an activation; returns the ticks until the first check.
    pub fn start(&mut self) -> u64 {
        self.started = Some((thread_cpu_time(), Instant::now()));
        self.overrun = None;
        ticks_for(self.budget.min(self.wall_clock_limit))
    }

    #[cfg(test)]
    fn wall_clock_limit(&self) -> Duration {
        self.wall_clock_limit
    }

    /// What stopped the last activation, if the deadline did.
    pub fn overrun(&self) -> Option<Overrun> {
        self.overrun
    }

    /// Called by wasmtime when the store's epoch deadline passes: stop the guest, or
    /// schedule the next check.
    pub fn check(&mut self) -> UpdateDeadline {
        let Some((cpu_start, wall_start)) = self.started else {
            self.overrun = Some(Overrun::Cpu);
            return UpdateDeadline::Interrupt;
        };
        let cpu = thread_cpu_time().saturating_sub(cpu_start);
        let wall = wall_start.elapsed();
        let wall_limit = self.wall_clock_limit;
        if cpu >= self.budget {
            self.overrun = Some(Overrun::Cpu);
            return UpdateDeadline::Interrupt;
        }
        if wall >= wall_limit {
            self.overrun = Some(Overrun::WallClock { limit: wall_limit });
            return UpdateDeadline::Interrupt;
        }
        let next = (self.budget - cpu).min(wall_limit - wall);
        UpdateDeadline::Continue(ticks_for(next))
    }
}

/// CPU time the calling thread has used. Where the platform cannot tell, the time since
/// the process started stands in for it, which makes the deadline a wall-clock one.
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the
        // platform defines.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0 {
            return Duration::new(
                u64::try_from(now.tv_sec).unwrap_or(0),
                u32::try_from(now.tv_nsec).unwrap_or(0),
            );
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(duration: Duration) {
        let start = thread_cpu_time();
        while thread_cpu_time() - start < duration {
            std::hint::black_box(());
        }
    }

    #[test]
    fn sleeping_uses_no_cpu_budget() {
        let mut deadline = Deadline::new(Duration::from_millis(50), None);
        deadline.start();
        std::thread::sleep(Duration::from_millis(120));
        assert!(
            matches!(deadline.check(), UpdateDeadline::Continue(_)),
            "a run that waited used none of its CPU budget"
        );
        assert_eq!(deadline.overrun(), None);
    }

    #[test]
    fn computing_uses_it_up() {
        let mut deadline = Deadline::new(Duration::from_millis(50), None);
        deadline.start();
        spin(Duration::from_millis(60));
        assert!(matches!(deadline.check(), UpdateDeadline::Interrupt));
        assert_eq!(deadline.overrun(), Some(Overrun::Cpu));
    }

    #[test]
    fn the_wall_clock_backstop_stops_a_starved_run() {
        let mut deadline = Deadline::new(Duration::from_millis(20), None);
        assert_eq!(deadline.wall_clock_limit(), Duration::from_millis(100));
        deadline.start();
        std::thread::sleep(deadline.wall_clock_limit() + Duration::from_millis(10));
        assert!(matches!(deadline.check(), UpdateDeadline::Interrupt));
        assert_eq!(
            deadline.overrun(),
            Some(Overrun::WallClock {
                limit: Duration::from_millis(100)
            })
        );
        deadline.start();
        assert_eq!(deadline.overrun(), None, "each activation starts afresh");
    }

    #[test]
    fn a_short_task_timeout_brings_the_backstop_forward() {
        let mut deadline = Deadline::new(Duration::from_secs(2), Some(Duration::from_secs(3)));
        assert_eq!(deadline.wall_clock_limit(), Duration::from_millis(2400));
        assert_eq!(deadline.start(), ticks_for(Duration::from_secs(2)));
        let mut deadline = Deadline::new(Duration::from_secs(2), Some(Duration::from_secs(1)));
        assert_eq!(
            deadline.start(),
            ticks_for(Duration::from_millis(800)),
            "the first check comes before the task times out"
        );
        let deadline = Deadline::new(Duration::from_secs(2), Some(Duration::from_secs(60)));
        assert_eq!(deadline.wall_clock_limit(), Duration::from_secs(10));
    }
}
