//! The one wasmtime `Engine` a worker compiles and runs every workflow module with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine};

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
    Engine::new(&config)
}

/// A thread that advances an engine's epoch every [`EPOCH_TICK`] until dropped.
///
/// Each store sets its deadline in ticks before every activation; when it passes, the
/// guest traps at its next loop header or function entry.
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
