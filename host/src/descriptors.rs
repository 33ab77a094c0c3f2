//! The Temporal API's protobuf schema, as `temporalio-protos` compiled it (copied in by
//! `build.rs`).
//!
//! The history reader (the CLI's proto3 JSON) needs the schema at run time rather than
//! the generated types; it decodes it the first time it reads a history.

use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

/// The decoded schema, built once per process and kept (about 14 MiB). An error means
/// the embedded bytes are unusable: a build bug, reported rather than panicked on.
pub(crate) fn pool() -> Result<&'static DescriptorPool, &'static str> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(String::as_str)
}
