//! The one wasmtime `Engine` a worker compiles and runs every workflow module with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::SandboxLimits;

/// How often the epoch advances. Activation deadlines are counted in these ticks, so a
/// deadline is enforced to within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine: component model on, deterministic floating point and SIMD, and
/// epoch interruption so a runaway activation can be stopped. Wasm threads are not
/// compiled into this build of wasmtime at all.
pub fn build_engine(limits: &SandboxLimits) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(limits.max_wasm_stack);
    if let Some(slots) = limits.instance_pool {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(slots, limits)));
    }
    Engine::new(&config)
}

/// Core instances, memories and tables one workflow component may hold. A Rust guest
/// built for wasm32-wasip2 has one memory, a couple of tables and a few core instances
/// (its module plus the shims the component linker adds); these leave room for more.
const CORE_INSTANCES_PER_RUN: u32 = 16;
const MEMORIES_PER_RUN: u32 = 2;
const TABLES_PER_RUN: u32 = 4;

fn pool(slots: u32, limits: &SandboxLimits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_RUN))
        .total_memories(slots.saturating_mul(MEMORIES_PER_RUN))
        .total_tables(slots.saturating_mul(TABLES_PER_RUN))
        .max_core_instances_per_component(CORE_INSTANCES_PER_RUN)
        .max_memories_per_component(MEMORIES_PER_RUN)
        .max_tables_per_component(TABLES_PER_RUN)
        .max_memory_size(limits.max_memory_bytes);
    pool
}

/// A thread that advances an engine's epoch every [`EPOCH_TICK`] until dropped.
///
/// Each store sets its deadline in ticks before every activation; when it passes, the
/// guest calls the store's deadline check at its next loop header or function entry,
/// which stops it or sets the next deadline ([`super::deadline`]).
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let thread = std::thread::Builder::new()
            .name("sandglass-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        match engine.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => break,
                        }
                    }
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The ticker only sleeps and increments; joining cannot hang for long.
            let _ = thread.join();
        }
    }
}

/// The number of ticks that covers `deadline`, at least one.
pub fn ticks_for(deadline: Duration) -> u64 {
    let ticks = deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_to_whole_ticks() {
        assert_eq!(ticks_for(Duration::from_secs(2)), 200);
        assert_eq!(ticks_for(Duration::from_millis(15)), 2);
        assert_eq!(ticks_for(Duration::ZERO), 1);
    }
}
