//! The Temporal API's protobuf schema, as `temporalio-protos` compiled it (copied in by
//! `build.rs`).
//!
//! Two readers need the schema at run time rather than the generated types: the history
//! reader (the CLI's proto3 JSON) and the wire guard that bounds failure chains in
//! responses before prost decodes them ([`crate::failure_chain`]).

use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

/// The decoded schema, built once per process. An error means the embedded bytes are
/// unusable: a build bug, reported rather than panicked on.
pub(crate) fn pool() -> Result<&'static DescriptorPool, &'static str> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(String::as_str)
}
