//! `ReportWorkflow`: one activity that retries and resumes from its heartbeats, one
//! local activity, and one activity the workflow cancels when it outlives a deadline.

use std::rc::Rc;
use std::time::Duration;

use activities_example_declarations::{
    CHECKSUM, FETCH_CHUNKS, REPORT_WORKFLOW, ReportSummary, UPLOAD,
};
use sandglass::prelude::*;
use sandglass::{ActivityCancellationType, LocalActivityOptions, RetryPolicy};

/// How long the upload may take before the workflow cancels it.
const UPLOAD_DEADLINE: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct ReportWorkflow;

impl Workflow for ReportWorkflow {
    type Input = u32;
    type Output = ReportSummary;
    const DEFINITION: WorkflowDefinition<u32, ReportSummary> = REPORT_WORKFLOW;

    async fn run(
        self: Rc<Self>,
        ctx: WorkflowContext,
        chunks: u32,
    ) -> WorkflowResult<ReportSummary> {
        // Retried after a failure; a heartbeat timeout also catches a hung attempt.
        let fetch_options = ActivityOptions {
            heartbeat_timeout: Some(Duration::from_secs(2)),
            retry_policy: Some(RetryPolicy {
                initial_interval: Some(Duration::from_millis(500)),
                maximum_attempts: 5,
                non_retryable_error_types: vec!["ReportNotFound".to_owned()],
                ..RetryPolicy::default()
            }),
            ..ActivityOptions::start_to_close(Duration::from_secs(60))
        };
        let fetch = ctx
            .execute_activity(FETCH_CHUNKS, chunks, fetch_options)
            .await?;
        sandglass::info!(
            "fetched {} chunks on attempt {}",
            fetch.chunks,
            fetch.attempt
        );

        let checksum = ctx
            .execute_local_activity(
                CHECKSUM,
                fetch.chunks,
                LocalActivityOptions::start_to_close(Duration::from_secs(5)),
            )
            .await?;

        // Wait until the activity confirms it stopped, so the summary is final.
        let upload_options = ActivityOptions {
            heartbeat_timeout: Some(Duration::from_secs(2)),
            cancellation_type: ActivityCancellationType::WaitCancellationCompleted,
            ..ActivityOptions::start_to_close(Duration::from_secs(300))
        };
        let upload = ctx.execute_activity(UPLOAD, checksum.clone(), upload_options);
        ctx.sleep(UPLOAD_DEADLINE).await?;
        upload.cancel();
        let upload = match upload.await {
            Ok(receipt) => receipt,
            Err(error) if error.is_cancelled() => "cancelled".to_owned(),
            Err(error) => return Err(error.into()),
        };
        Ok(ReportSummary {
            fetch,
            checksum,
            upload,
        })
    }
}

sandglass::export_workflows!(ReportWorkflow);
