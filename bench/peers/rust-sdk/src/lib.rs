//! Benchmark peer built on the official Temporal Rust SDK (`temporalio-sdk` 1.1.1).
//!
//! The benchmark harness compares Sandglass against this crate and against the Python SDK
//! (`bench/peers/python`). All three implement one contract (see `bench/peers/README.md`), so
//! that the harness can drive them alike and a history recorded by any of them replays on the
//! others:
//!
//! - [`activities::Greeter`]: activity type `greet`, `"Hello, {name}!"`.
//! - [`workflows::GreetingWorkflow`], [`workflows::ParkedWorkflow`],
//!   [`workflows::ChainWorkflow`]: JSON payloads, SDK-default activity ids (`"1"`, `"2"`, ...).
//!
//! Two binaries use this library: `rust-sdk-worker` (polls a task queue until SIGTERM/SIGINT)
//! and `rust-sdk-replay` (replays a binary `History` K times and prints events per second).
//! Both keep every SDK setting at its default unless the contract names it, because the point
//! is to measure the SDK as a user gets it.

pub mod activities;
pub mod args;
pub mod workflows;

use tracing_subscriber::{EnvFilter, fmt};

/// Sends `tracing` output to stderr, warnings and up unless `RUST_LOG` says otherwise.
///
/// Installed as the process-wide default rather than through the SDK's `TelemetryOptions`,
/// because the SDK's console logger writes to stdout, which the harness reads for the `ready`
/// line and the replay result, and because it only attaches to the thread that builds the
/// runtime.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // An error only means a subscriber is already installed, which is fine.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
