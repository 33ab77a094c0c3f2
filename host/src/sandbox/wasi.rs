//! Deterministic WASI: the parts of WASI a workflow may touch, made replay-safe.
//!
//! A workflow must produce the same commands every time its history is replayed, on any
//! worker. So the guest's wall clock reads workflow time (the activation timestamp), its
//! monotonic clock is derived from it, its random bytes come from the run's randomness
//! seed, and its stdout and stderr are captured for the replay-safe log. Everything else
//! (environment variables, arguments, files, sockets, stdin, sleeping) traps with a
//! message naming the deterministic alternative: see [`Forbidden`](super::Forbidden).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiView};

use super::forbidden::{ForbiddenStdin, shadow_forbidden};

/// Workflow time, shared by the host (which sets it from each activation) and the guest's
/// WASI clocks (which read it).
#[derive(Clone, Debug, Default)]
pub struct WorkflowClock(Arc<AtomicU64>);

impl WorkflowClock {
    /// Sets the time the guest sees, as a duration since the Unix epoch.
    pub fn set(&self, since_epoch: Duration) {
        let nanos = u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX);
        self.0.store(nanos, Ordering::Relaxed);
    }

    fn nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl HostWallClock for WorkflowClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }
}

impl HostMonotonicClock for WorkflowClock {
    fn resolution(&self) -> u64 {
        1
    }

    /// Workflow time never goes backwards, so it serves as a monotonic clock as well.
    fn now(&self) -> u64 {
        self.nanos()
    }
}

/// The run's deterministic random source: SplitMix64 over the run's randomness seed.
///
/// Temporal can replace the seed mid-run (`UpdateRandomSeed`); every clone shares the
/// state, so reseeding reaches the WASI random interfaces too.
#[derive(Clone, Debug)]
pub struct SeededRandom(Arc<Mutex<u64>>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(seed)))
    }

    pub fn reseed(&self, seed: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = seed;
    }

    fn next(&self) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// A guest output stream (stdout or stderr) captured in memory until the host drains it
/// after the activation.
///
/// Output beyond `limit` bytes per activation is dropped, so a guest cannot exhaust host
/// memory by printing.
#[derive(Clone, Debug)]
pub struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl CapturedOutput {
    pub fn new(limit: usize) -> Self {
        Self {
            buffer: Arc::default(),
            limit,
        }
    }

    /// Takes what the guest wrote since the last call.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.limit.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always writable: overflow is dropped in `append` rather than blocking the guest.
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Most random bytes one WASI call may ask for (wasmtime-wasi's default is 64 MiB); a
/// larger request traps.
const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// The replay-safe pieces a run's WASI context is built from; the host keeps clones to
/// drive them between activations.
#[derive(Clone, Debug)]
pub struct DeterministicParts {
    pub clock: WorkflowClock,
    pub random: SeededRandom,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
}

impl DeterministicParts {
    pub fn new(randomness_seed: u64, output_limit: usize) -> Self {
        Self {
            clock: WorkflowClock::default(),
            random: SeededRandom::new(randomness_seed),
            stdout: CapturedOutput::new(output_limit),
            stderr: CapturedOutput::new(output_limit),
        }
    }

    /// A WASI context that grants nothing but these parts: no env, args, preopened
    /// directories or network, and a stdin whose reads trap.
    pub fn wasi_ctx(&self, randomness_seed: u64) -> WasiCtx {
        WasiCtxBuilder::new()
            .wall_clock(self.clock.clone())
            .monotonic_clock(self.clock.clone())
            .secure_random(self.random.clone())
            .insecure_random(self.random.clone())
            .insecure_random_seed(u128::from(randomness_seed))
            // One call's bytes are allocated on the host before the guest sees them.
            .max_random_size(MAX_RANDOM_BYTES)
            .stdin(ForbiddenStdin)
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build()
    }
}

/// Adds WASI to `linker`: wasmtime-wasi's WASIp2, with every way out of the sandbox
/// (environment, arguments, files, sockets, sleeping, blocking, exiting) replaced by a
/// trap that names the deterministic alternative (see [`Forbidden`](super::Forbidden)).
pub fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    shadow_forbidden(linker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn same_seed_same_bytes_and_reseed_restarts() {
        let mut a = SeededRandom::new(7);
        let mut b = SeededRandom::new(7);
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let again: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(first, again);
        a.reseed(7);
        assert_eq!(a.next_u64(), first[0]);
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn clock_reads_what_was_set() {
        let clock = WorkflowClock::default();
        clock.set(Duration::new(1_700_000_000, 5));
        assert_eq!(HostWallClock::now(&clock), Duration::new(1_700_000_000, 5));
        assert_eq!(HostMonotonicClock::now(&clock), 1_700_000_000_000_000_005);
    }

    #[test]
    fn captured_output_is_bounded_and_drained() {
        let out = CapturedOutput::new(4);
        out.append(b"hello");
        assert_eq!(out.take(), b"hell");
        assert!(out.take().is_empty());
    }
}
