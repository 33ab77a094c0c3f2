//! The examples, run the way their READMEs run them, against a real dev server.

use activities_example_declarations::REPORT_WORKFLOW;
use sandglass_host::{WorkerOptions, WorkflowOptions};
use sandglass_tests::{RunningWorker, TestEnv, component};

#[tokio::test(flavor = "multi_thread")]
async fn the_activities_example_retries_resumes_and_cancels() {
    let env = TestEnv::start().await;
    let mut options = WorkerOptions::default();
    options.activity_threads = 8;
    let worker = activities_example::worker_builder(
        env.client.clone(),
        component("activities-example-workflows"),
    )
    .options(options)
    .build()
    .await
    .expect("build the example's worker");
    let worker = RunningWorker::spawn(worker);

    let summary = env
        .client
        .execute_workflow(
            REPORT_WORKFLOW,
            &4,
            WorkflowOptions::new("report-example", activities_example::TASK_QUEUE),
        )
        .await
        .expect("the report workflow completes");
    assert_eq!(summary.fetch.chunks, 4);
    assert_eq!(summary.fetch.attempt, 2, "the first attempt fails halfway");
    assert_eq!(
        summary.fetch.resumed_at, 2,
        "the retry resumes from the heartbeat"
    );
    assert_eq!(summary.checksum, activities_example::checksum(4));
    assert_eq!(
        summary.upload, "cancelled",
        "the upload outlives its deadline"
    );
    worker.stop().await.expect("worker stops cleanly");
}
