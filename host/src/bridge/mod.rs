//! Translation between `temporalio-sdk-core`'s protos and the WIT contract.
//!
//! Core speaks protobuf; guests speak the typed records of `wit/workflow.wit`. Everything
//! that crosses between the two passes through here, so a change to the WIT is a change
//! to these files (and to the guest SDK) in the same commit.

pub mod activation;
pub mod commands;
pub mod failure;
pub mod messages;
pub mod payload;
pub mod sequence;
