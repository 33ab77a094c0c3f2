//! The host/guest contract in Rust: the bindings generated from `wit/workflow.wit`, and
//! the few helpers its records need.
//!
//! Both halves of the host stand on it: the sandbox runs guests in its terms, and the
//! bridge converts core's protos to and from them; neither needs the other's types. The
//! WIT lives at the top of the repository because guest and host share it; this is the
//! only place the host names its path.

use std::time::Duration;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "workflows",
});

pub use exports::sandglass::workflow::guest;
pub use sandglass::workflow::{host, types};

/// The WIT package version this host implements; a module built against any other
/// version is rejected at load time with an error naming both.
pub const WIT_PACKAGE: &str = "sandglass:workflow@0.4.0";

/// A WIT timestamp as the time since the Unix epoch, the form WASI clocks read.
pub fn since_epoch(timestamp: &types::Timestamp) -> Duration {
    Duration::new(timestamp.seconds, timestamp.nanos.min(999_999_999))
}
