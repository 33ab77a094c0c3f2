//! `BatchProcessorWorkflow`: a long job split into batches, each an activity, that
//! continues as new every few batches (or when Temporal suggests it) so no run's
//! history grows without bound. Its progress travels in the next run's input.

use std::rc::Rc;
use std::time::Duration;

use continue_as_new_declarations::{
    BATCH_PROCESSOR_WORKFLOW, Batch, PROCESS_BATCH, ProcessorInput, Progress,
};
use sandglass::prelude::*;

#[derive(Default)]
pub struct BatchProcessorWorkflow;

impl Workflow for BatchProcessorWorkflow {
    type Input = ProcessorInput;
    type Output = Progress;
    const DEFINITION: WorkflowDefinition<ProcessorInput, Progress> = BATCH_PROCESSOR_WORKFLOW;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        input: ProcessorInput,
    ) -> WorkflowResult<Progress> {
        if input.batch_size == 0 || input.batches_per_run == 0 {
            return Err(WorkflowError::application(
                "InvalidInput",
                "batch_size and batches_per_run must be at least 1",
            )
            .non_retryable());
        }
        let mut progress = input.progress.clone();
        progress.runs += 1;
        let options = ActivityOptions::start_to_close(Duration::from_secs(30));
        let mut batches_this_run = 0;
        while progress.processed < input.items {
            // Stop at the limit, or earlier if the history is already long. The state is
            // consistent here: no activity is in flight.
            if batches_this_run == input.batches_per_run || ctx.continue_as_new_suggested() {
                sandglass::info!(
                    "run {} continues as new after {} events, at item {}",
                    progress.runs,
                    ctx.history_length(),
                    progress.processed + 1
                );
                let next = ProcessorInput { progress, ..input };
                return Err(ctx.continue_as_new(&next));
            }
            let batch = Batch {
                first: progress.processed + 1,
                count: input.batch_size.min(input.items - progress.processed),
            };
            let sum = ctx
                .execute_activity(PROCESS_BATCH, batch, options.clone())
                .await?;
            progress.processed += batch.count;
            progress.batches += 1;
            progress.sum_of_squares += sum;
            batches_this_run += 1;
        }
        Ok(progress)
    }
}

sandglass::export_workflows!(BatchProcessorWorkflow);
