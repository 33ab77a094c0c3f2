//! The worker's cache of live runs: Temporal's sticky cache, on the host's side.
//!
//! Core decides which runs stay cached and tells the worker to evict the others. The
//! memory budget may evict idle runs too ([`Reclaim`]): it drops their instances and asks
//! core to evict them, so that their next task replays them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use temporalio_sdk_core::Worker as CoreWorker;

use crate::sandbox::Reclaim;

use super::run::Run;

/// A cached run, shared by the cache and the activation working on it.
pub(crate) type CachedRun = Arc<Mutex<Run>>;

/// The live runs of one core worker, by run id.
#[derive(Default)]
pub(crate) struct RunCache {
    runs: Mutex<HashMap<String, CachedRun>>,
    /// The core worker, once it polls: runs evicted to free memory are evicted from
    /// core's cache too.
    core: OnceLock<Arc<CoreWorker>>,
}

impl RunCache {
    pub fn set_core(&self, core: Arc<CoreWorker>) {
        let _ = self.core.set(core);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The run, held: while an activation holds it, the memory budget cannot evict it.
    pub fn get(&self, run_id: &str) -> Option<CachedRun> {
        self.lock().get(run_id).cloned()
    }

    pub fn insert(&self, run_id: String, run: CachedRun) {
        self.lock().insert(run_id, run);
    }

    /// Drops the run's instance, outside the cache's lock (dropping a store unmaps its
    /// memory).
    pub fn forget(&self, run_id: &str) {
        let forgotten = self.lock().remove(run_id);
        drop(forgotten);
    }

    /// The idle runs, as (last active, memory held, run id). A run is idle when nothing
    /// holds it but the cache: no activation is running or waiting for it (those hold it
    /// from before they start) and its lock is free.
    fn idle(runs: &HashMap<String, CachedRun>) -> Vec<(Instant, usize, String)> {
        runs.iter()
            .filter(|(_, run)| Arc::strong_count(run) == 1)
            .filter_map(|(run_id, run)| {
                let run = run.try_lock().ok()?;
                Some((run.last_active(), run.memory(), run_id.clone()))
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, CachedRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Reclaim for RunCache {
    fn idle_bytes(&self) -> usize {
        Self::idle(&self.lock())
            .iter()
            .map(|(_, memory, _)| memory)
            .sum()
    }

    /// Evicts idle runs, least recently active first, until `bytes` are freed.
    fn reclaim(&self, bytes: usize) {
        let evicted: Vec<(String, CachedRun)> = {
            let mut runs = self.lock();
            let mut idle = Self::idle(&runs);
            idle.sort_unstable_by_key(|(last_active, ..)| *last_active);
            let mut freed = 0;
            idle.into_iter()
                .take_while(|(_, memory, _)| {
                    let more = freed < bytes;
                    freed += memory;
                    more
                })
                .filter_map(|(_, _, run_id)| runs.remove(&run_id).map(|run| (run_id, run)))
                .collect()
        };
        if evicted.is_empty() {
            return;
        }
        tracing::info!(
            runs = evicted.len(),
            "evicting idle workflow runs to stay within the worker's memory budget"
        );
        for (run_id, run) in evicted {
            if let Some(core) = self.core.get() {
                core.request_workflow_eviction(&run_id);
            }
            // Dropping the instance gives its memory back to the budget.
            drop(run);
        }
    }
}
