//! What the report workflow and its activities agree on: names, inputs and outputs.
//! Both the workflow component (wasm) and the worker (native) depend on this crate.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// What `fetch_chunks` did: how many chunks it fetched, and where the attempt that
/// finished picked up (0 unless an earlier attempt heartbeated progress).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchReport {
    pub chunks: u32,
    pub resumed_at: u32,
    pub attempt: u32,
}

/// What the workflow returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub fetch: FetchReport,
    pub checksum: String,
    /// `"cancelled"` when the upload outlived its deadline, else what it returned.
    pub upload: String,
}

/// Fetches a report of `chunks` chunks (input), heartbeating progress; a sync activity.
pub const FETCH_CHUNKS: ActivityDefinition<u32, FetchReport> =
    ActivityDefinition::new("fetch_chunks");

/// Checksums the fetched report; quick, so the workflow runs it as a local activity.
pub const CHECKSUM: ActivityDefinition<u32, String> = ActivityDefinition::new("checksum");

/// Uploads the report, heartbeating until done or cancelled; an async activity.
pub const UPLOAD: ActivityDefinition<String, String> = ActivityDefinition::new("upload");

/// Fetches, checksums and uploads a report of the given number of chunks.
pub const REPORT_WORKFLOW: WorkflowDefinition<u32, ReportSummary> =
    WorkflowDefinition::new("ReportWorkflow");
