//! The resource limiter of one run's store.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::SandboxLimits;

/// Core instances, tables and memories one run may create. A Rust component built for
/// `wasm32-wasip2` has a handful of each (the program, the WASIp1 adapter, shims);
/// anything near these limits is not a workflow.
const MAX_INSTANCES: usize = 16;
const MAX_TABLES: usize = 16;
const MAX_MEMORIES: usize = 16;
/// Elements in any one table: a Rust program's function table has a few thousand.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A memory growth the limiter refused because of [`SandboxLimits::max_memory_bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRefusal {
    /// The size, in bytes, the guest asked its memory to grow to.
    pub requested: usize,
    /// The cap it ran into.
    pub limit: usize,
}

/// wasmtime's `StoreLimits` plus a note of the last memory growth refused for the cap.
///
/// A refused `memory.grow` is not a trap: the guest sees it fail and usually aborts
/// (Rust prints "memory allocation of N bytes failed" and executes `unreachable`). The
/// note lets the host name the cap as the cause of that trap instead of reporting a bare
/// `unreachable`.
pub struct RunLimiter {
    limits: StoreLimits,
    max_memory_bytes: usize,
    refused: Option<MemoryRefusal>,
}

impl RunLimiter {
    pub fn new(limits: &SandboxLimits) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.max_memory_bytes)
                .instances(MAX_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .table_elements(MAX_TABLE_ELEMENTS)
                .build(),
            max_memory_bytes: limits.max_memory_bytes,
            refused: None,
        }
    }

    /// The refusal noted since the last call, if any; call before each activation to
    /// start clean and after a trap to explain it.
    pub fn take_refusal(&mut self) -> Option<MemoryRefusal> {
        self.refused.take()
    }
}

impl ResourceLimiter for RunLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed && desired > self.max_memory_bytes {
            self.refused = Some(MemoryRefusal {
                requested: desired,
                limit: self.max_memory_bytes,
            });
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
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
        RunLimiter::new(&SandboxLimits {
            max_memory_bytes,
            ..SandboxLimits::default()
        })
    }

    #[test]
    fn growth_past_the_cap_is_refused_and_noted() {
        let mut limiter = limiter(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert_eq!(limiter.take_refusal(), None);
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert_eq!(
            limiter.take_refusal(),
            Some(MemoryRefusal {
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
}
