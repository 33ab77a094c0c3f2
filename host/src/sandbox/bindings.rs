//! Host-side bindings generated from `wit/workflow.wit`.
//!
//! The WIT lives at the top of the repository because guest and host share it; this is
//! the only place the host names its path.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "workflows",
});

pub use exports::sandglass::workflow::guest;
pub use sandglass::workflow::{host, types};

/// The WIT package version this host implements; a module built against any other
/// version is rejected at load time with an error naming both.
pub const WIT_PACKAGE: &str = "sandglass:workflow@0.4.0";
