//! What the continue-as-new example's workflow, worker and starter agree on: the batch
//! processor, the state it carries from run to run, and the batch activity.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// The job: process items `1..=items`, `batch_size` at a time, continuing as new after
/// `batches_per_run` batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessorInput {
    pub items: u64,
    pub batch_size: u64,
    pub batches_per_run: u32,
    /// Where the previous run stopped; a fresh start passes the default.
    pub progress: Progress,
}

/// The state that survives continue-as-new: it travels in the next run's input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Items processed so far (the next item is `processed + 1`).
    pub processed: u64,
    pub batches: u32,
    /// The running result: the sum of the squares of the processed items.
    pub sum_of_squares: u64,
    /// How many runs the chain has had, this one included once it reports.
    pub runs: u32,
}

/// One batch of items: `first..first + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub first: u64,
    pub count: u64,
}

/// Processes items in batches, continuing as new to keep each run's history short;
/// returns the final progress.
pub const BATCH_PROCESSOR_WORKFLOW: WorkflowDefinition<ProcessorInput, Progress> =
    WorkflowDefinition::new("BatchProcessorWorkflow");

/// Processes one batch; returns the sum of the squares of its items.
pub const PROCESS_BATCH: ActivityDefinition<Batch, u64> = ActivityDefinition::new("process_batch");
