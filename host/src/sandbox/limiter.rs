//! The resource limiter of one run's store.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::SandboxLimits;
use super::memory_budget::MemoryBudget;

/// Core instances, tables and memories one run may create. A Rust component built for
/// `wasm32-wasip2` has a handful of each (the program, the WASIp1 adapter, shims);
/// anything near these limits is not a workflow.
const MAX_INSTANCES: usize = 16;
const MAX_TABLES: usize = 16;
const MAX_MEMORIES: usize = 16;
/// Elements in any one table: a Rust program's function table has a few thousand.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// What one table element costs the host: a pointer.
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// A memory growth the limiter refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryRefusal {
    /// The run would have grown past [`SandboxLimits::max_memory_bytes`].
    RunCap {
        /// The size, in bytes, the run's memories together would have grown to.
        requested: usize,
        /// The cap it ran into.
        limit: usize,
    },
    /// The worker's runs together would have held more than
    /// [`SandboxLimits::max_total_memory_bytes`], even after evicting the idle ones.
    WorkerBudget {
        /// The bytes the growth needed.
        requested: usize,
        /// The bytes the worker's runs held.
        in_use: usize,
        /// The budget.
        limit: usize,
    },
}

/// wasmtime's `StoreLimits`, the worker's memory budget (which a run's memories and
/// tables draw on), and a note of the last memory growth refused.
///
/// A refused `memory.grow` is not a trap: the guest sees it fail and usually aborts
/// (Rust prints "memory allocation of N bytes failed" and executes `unreachable`). The
/// note lets the host name the limit as the cause of that trap instead of reporting a
/// bare `unreachable`.
pub struct RunLimiter {
    limits: StoreLimits,
    max_memory_bytes: usize,
    budget: Arc<MemoryBudget>,
    /// What this run's memories and tables reserved from the budget; given back on drop.
    reserved: usize,
    /// The size of this run's memories together.
    memory_bytes: usize,
    /// The budget refused this call into the guest once already (after reclaiming).
    budget_exhausted: bool,
    refused: Option<MemoryRefusal>,
}

impl RunLimiter {
    pub fn new(limits: &SandboxLimits, budget: Arc<MemoryBudget>) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .instances(MAX_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .table_elements(MAX_TABLE_ELEMENTS)
                .build(),
            max_memory_bytes: limits.max_memory_bytes,
            budget,
            reserved: 0,
            memory_bytes: 0,
            budget_exhausted: false,
            refused: None,
        }
    }

    /// The refusal noted since the last call, if any; call after a trap to explain it.
    pub fn take_refusal(&mut self) -> Option<MemoryRefusal> {
        self.refused.take()
    }

    /// Starts a call into the guest: forgets the last call's refusals.
    pub fn renew(&mut self) {
        self.refused = None;
        self.budget_exhausted = false;
    }

    /// Bytes this run's memories hold of the worker's budget.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    pub fn has_refusal(&self) -> bool {
        self.refused.is_some()
    }
}

impl Drop for RunLimiter {
    fn drop(&mut self) {
        self.budget.release(self.reserved);
    }
}

impl ResourceLimiter for RunLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        // The cap is the run's, over all its memories together: a component may declare
        // several, and wasmtime's own limit applies to each alone.
        let run_total = self.memory_bytes.saturating_add(growth);
        if !self.limits.memory_growing(current, desired, maximum)? {
            if desired > self.max_memory_bytes {
                self.refused = Some(MemoryRefusal::RunCap {
                    requested: run_total,
                    limit: self.max_memory_bytes,
                });
            }
            return Ok(false);
        }
        if run_total > self.max_memory_bytes {
            self.refused = Some(MemoryRefusal::RunCap {
                requested: run_total,
                limit: self.max_memory_bytes,
            });
            return Ok(false);
        }
        if self.budget_exhausted || !self.budget.reserve(growth) {
            // One reclaim per call into the guest: a guest that keeps asking after a
            // refusal must not keep the worker scanning its cache.
            self.budget_exhausted = true;
            self.refused = Some(MemoryRefusal::WorkerBudget {
                requested: growth,
                in_use: self.budget.used(),
                limit: self.budget.limit(),
            });
            return Ok(false);
        }
        // Kept even if wasmtime then fails the growth: `memory_grow_failed` is also called
        // for growths never approved, so it cannot tell which to give back, and counting
        // too much is the safe side (bounded by the cap, and given back on drop).
        self.reserved += growth;
        self.memory_bytes = run_total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.table_growing(current, desired, maximum)? {
            return Ok(false);
        }
        // Tables live in host memory too: a run could hold sixteen of 100,000 elements.
        let growth = desired
            .saturating_sub(current)
            .saturating_mul(TABLE_ELEMENT_BYTES);
        if self.budget_exhausted || !self.budget.reserve(growth) {
            self.budget_exhausted = true;
            return Ok(false);
        }
        self.reserved += growth;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max_memory_bytes: usize) -> RunLimiter {
        RunLimiter::new(
            &SandboxLimits {
                max_memory_bytes,
                ..SandboxLimits::default()
            },
            Arc::new(MemoryBudget::new(usize::MAX)),
        )
    }

    #[test]
    fn growth_past_the_cap_is_refused_and_noted() {
        let mut limiter = limiter(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert_eq!(limiter.take_refusal(), None);
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert_eq!(
            limiter.take_refusal(),
            Some(MemoryRefusal::RunCap {
                requested: 2 << 20,
                limit: 1 << 20
            })
        );
        assert_eq!(limiter.take_refusal(), None, "taking clears the note");
    }

    #[test]
    fn growth_past_the_memory_own_maximum_is_not_blamed_on_the_cap() {
        let mut limiter = limiter(64 << 20);
        assert!(!limiter.memory_growing(0, 2 << 20, Some(1 << 20)).unwrap());
        assert_eq!(limiter.take_refusal(), None);
    }

    #[test]
    fn counts_and_tables_are_bounded() {
        let mut limiter = limiter(64 << 20);
        assert_eq!(limiter.instances(), MAX_INSTANCES);
        assert_eq!(limiter.tables(), MAX_TABLES);
        assert_eq!(limiter.memories(), MAX_MEMORIES);
        assert!(limiter.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(
            !limiter
                .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
                .unwrap()
        );
    }

    #[test]
    fn growth_is_reserved_from_the_worker_budget_and_given_back_on_drop() {
        let budget = Arc::new(MemoryBudget::new(3 << 20));
        let limits = SandboxLimits::default();
        let mut first = RunLimiter::new(&limits, budget.clone());
        assert!(first.memory_growing(0, 2 << 20, None).unwrap());
        let mut second = RunLimiter::new(&limits, budget.clone());
        assert!(!second.memory_growing(0, 2 << 20, None).unwrap());
        assert_eq!(
            second.take_refusal(),
            Some(MemoryRefusal::WorkerBudget {
                requested: 2 << 20,
                in_use: 2 << 20,
                limit: 3 << 20
            })
        );
        drop(first);
        assert_eq!(budget.used(), 0);
        second.renew();
        assert!(second.memory_growing(0, 2 << 20, None).unwrap());
    }

    #[test]
    fn the_run_cap_covers_all_its_memories_together() {
        let mut limiter = limiter(4 << 20);
        assert!(limiter.memory_growing(0, 3 << 20, None).unwrap());
        assert!(
            !limiter.memory_growing(0, 3 << 20, None).unwrap(),
            "a second memory of 3 MiB passes the run's 4 MiB"
        );
        assert_eq!(
            limiter.take_refusal(),
            Some(MemoryRefusal::RunCap {
                requested: 6 << 20,
                limit: 4 << 20
            })
        );
    }

    #[test]
    fn after_a_refusal_the_budget_is_not_asked_again_until_the_next_call() {
        let budget = Arc::new(MemoryBudget::new(1 << 20));
        let mut limiter = RunLimiter::new(&SandboxLimits::default(), budget);
        assert!(!limiter.memory_growing(0, 2 << 20, None).unwrap());
        assert!(
            !limiter.memory_growing(0, 1 << 20, None).unwrap(),
            "refused without asking the budget"
        );
        limiter.renew();
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
    }
}
