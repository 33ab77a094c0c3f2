//! The linear memory all runs of a worker may hold together.
//!
//! Each run may grow to [`SandboxLimits::max_memory_bytes`], and a worker caches up to
//! a thousand runs by default: without a bound of its own, the cache could ask for far
//! more memory than the host has. Every run reserves what its memories grow by from one
//! [`MemoryBudget`] and gives it back when its instance is dropped. When a growth does
//! not fit, the budget asks its [`Reclaim`]ers (the workers' run caches) to evict idle
//! runs, least recently used first, and tries again; what still does not fit is refused,
//! which fails that run's workflow task (Temporal retries it) and nothing else.
//!
//! [`SandboxLimits::max_memory_bytes`]: super::SandboxLimits::max_memory_bytes

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Frees memory on request by dropping instances nobody is using.
pub trait Reclaim: Send + Sync {
    /// The memory its idle runs hold: what [`reclaim`](Self::reclaim) could free now.
    fn idle_bytes(&self) -> usize;

    /// Evicts idle runs until about `bytes` are freed (or none is left to evict); the
    /// runs' memory is back in the budget when this returns.
    fn reclaim(&self, bytes: usize);
}

/// A worker's budget of linear memory, shared by every run of its sandbox.
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    reclaimers: Mutex<Vec<Weak<dyn Reclaim>>>,
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit)
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
            reclaimers: Mutex::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes reserved by live runs now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Asks `reclaimer` for memory whenever the budget runs short, for as long as it lives.
    pub fn add_reclaimer(&self, reclaimer: Weak<dyn Reclaim>) {
        let mut reclaimers = self
            .reclaimers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reclaimers.retain(|r| r.strong_count() > 0);
        reclaimers.push(reclaimer);
    }

    /// Reserves `bytes`, evicting idle runs if that is what it takes; `false` if they do
    /// not fit even then.
    pub fn reserve(&self, bytes: usize) -> bool {
        if self.try_reserve(bytes) {
            return true;
        }
        let reclaimers: Vec<Arc<dyn Reclaim>> = self
            .reclaimers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        // Evicting what cannot make room would only cost the evicted runs a replay.
        let short = self.used().saturating_add(bytes).saturating_sub(self.limit);
        let idle: usize = reclaimers.iter().map(|r| r.idle_bytes()).sum();
        if idle < short {
            return false;
        }
        for reclaimer in reclaimers {
            let short = self.used().saturating_add(bytes).saturating_sub(self.limit);
            if short == 0 {
                break;
            }
            reclaimer.reclaim(short);
        }
        self.try_reserve(bytes)
    }

    pub fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn try_reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }
}

/// The default budget: half the memory this process may use (the host's, or its
/// cgroup's limit when it runs in a container), leaving the rest to the worker's own
/// needs, core's caches and the activities.
pub fn default_budget() -> usize {
    let host = host_memory().unwrap_or(8 << 30);
    let limit = cgroup_limit().map_or(host, |cgroup| cgroup.min(host));
    limit / 2
}

fn host_memory() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The memory limit of this process's cgroup, if it has one: the lowest along its path
/// (a limit holds for the whole subtree), in cgroup v2 or in v1's memory hierarchy.
fn cgroup_limit() -> Option<usize> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut lowest: Option<usize> = None;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (root, file) = if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
        } else {
            continue;
        };
        let root = Path::new(root);
        let mut dir = root.join(path.trim_start_matches('/'));
        loop {
            // "max" (no limit) does not parse, and is skipped.
            if let Some(limit) = std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
            {
                lowest = Some(lowest.map_or(limit, |lowest| lowest.min(limit)));
            }
            if dir == root || !dir.pop() {
                break;
            }
        }
    }
    lowest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds reservations and gives them back on request, oldest first.
    struct Cache {
        budget: Arc<MemoryBudget>,
        held: Mutex<Vec<usize>>,
    }

    impl Reclaim for Cache {
        fn idle_bytes(&self) -> usize {
            self.held.lock().unwrap().iter().sum()
        }

        fn reclaim(&self, bytes: usize) {
            let mut held = self.held.lock().unwrap();
            let mut freed = 0;
            while freed < bytes && !held.is_empty() {
                let run = held.remove(0);
                self.budget.release(run);
                freed += run;
            }
        }
    }

    #[test]
    fn reservations_fit_the_limit() {
        let budget = MemoryBudget::new(100);
        assert!(budget.reserve(60));
        assert!(!budget.reserve(50));
        assert_eq!(budget.used(), 60);
        budget.release(60);
        assert!(budget.reserve(100));
    }

    #[test]
    fn idle_runs_are_evicted_to_make_room() {
        let budget = Arc::new(MemoryBudget::new(100));
        let cache = Arc::new(Cache {
            budget: budget.clone(),
            held: Mutex::new(Vec::new()),
        });
        let reclaimer: Arc<dyn Reclaim> = cache.clone();
        budget.add_reclaimer(Arc::downgrade(&reclaimer));
        for _ in 0..4 {
            assert!(budget.reserve(25));
            cache.held.lock().unwrap().push(25);
        }
        assert!(budget.reserve(40), "two idle runs make room");
        assert_eq!(cache.held.lock().unwrap().len(), 2);
        assert_eq!(budget.used(), 90);
        assert!(
            !budget.reserve(70),
            "the idle runs could not make room for this"
        );
        assert_eq!(
            cache.held.lock().unwrap().len(),
            2,
            "so none was evicted in vain"
        );
    }

    #[test]
    fn a_dropped_reclaimer_is_forgotten() {
        let budget = MemoryBudget::new(10);
        let cache = || -> Arc<dyn Reclaim> {
            Arc::new(Cache {
                budget: Arc::new(MemoryBudget::new(0)),
                held: Mutex::new(Vec::new()),
            })
        };
        budget.add_reclaimer(Arc::downgrade(&cache()));
        let kept = cache();
        budget.add_reclaimer(Arc::downgrade(&kept));
        assert_eq!(budget.reclaimers.lock().unwrap().len(), 1);
    }
}
