//! Before a version becomes current, it must replay the histories of the open
//! executions that will move to it: they continue on it from wherever they are. Which
//! executions move is the server's answer, not this worker's settings: every execution
//! not pinned to a version (auto-upgrade ones, and unversioned ones from before the
//! deployment) runs its next task on the current version.

use super::ReloadProblem;
use super::deployment::quoted;
use super::version::Version;
use crate::client::{Client, ClientError, WorkflowExecutionSummary};
use crate::replay::{ReplayError, Replayer};
use crate::sandbox::Sandbox;

/// Replays up to `limit` of the open executions of `workflow_type` on `task_queue` that
/// will move to `version`; returns how many replayed, or the first that did not.
/// `stopping` is asked between replays, so a worker shutting down need not wait.
pub(crate) async fn check(
    client: &Client,
    sandbox: &Sandbox,
    task_queue: &str,
    version: &Version,
    workflow_type: &str,
    limit: usize,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<usize, ReloadProblem> {
    let problem = |message: String| ReloadProblem::ReplayCheck {
        build_id: version.build_id().to_owned(),
        workflow_type: workflow_type.to_owned(),
        message,
    };
    let query = format!(
        "WorkflowType = '{}' AND {}",
        quoted(workflow_type),
        moving(task_queue)
    );
    let executions = client
        .list_workflows_up_to(&query, limit)
        .await
        .map_err(|error| problem(format!("listing open executions failed: {error}")))?;
    let replayer = Replayer::new(sandbox.clone(), version.modules().iter().cloned());
    for WorkflowExecutionSummary {
        workflow_id,
        run_id,
        ..
    } in &executions
    {
        if stopping() {
            return Err(problem("the worker is shutting down".into()));
        }
        let history = client
            .workflow_handle::<()>(workflow_id.clone(), Some(run_id.clone()))
            .fetch_history()
            .await
            .map_err(|error| problem(format!("fetching the history of {workflow_id}: {error}")))?;
        match replayer.replay(history, workflow_id.clone()).await {
            Ok(()) => {}
            Err(
                error @ (ReplayError::Nondeterminism { .. }
                | ReplayError::WorkflowTaskFailed { .. }),
            ) => {
                return Err(ReloadProblem::Incompatible {
                    build_id: version.build_id().to_owned(),
                    workflow_type: workflow_type.to_owned(),
                    workflow_id: workflow_id.clone(),
                    run_id: run_id.clone(),
                    message: error.to_string(),
                });
            }
            Err(error) => return Err(problem(error.to_string())),
        }
    }
    Ok(executions.len())
}

/// An open execution that would move to `version` although it lacks the execution's
/// workflow type, if there is one: `(workflow id, workflow type)`.
pub(crate) async fn stranded_execution(
    client: &Client,
    task_queue: &str,
    version: &Version,
) -> Result<Option<(String, String)>, ClientError> {
    let types: Vec<String> = version
        .workflow_types()
        .iter()
        .map(|name| format!("'{}'", quoted(name)))
        .collect();
    let query = format!(
        "WorkflowType NOT IN ({}) AND {}",
        types.join(", "),
        moving(task_queue)
    );
    Ok(client
        .list_workflows_up_to(&query, 1)
        .await?
        .into_iter()
        .next()
        .map(|summary| (summary.workflow_id, summary.workflow_type)))
}

/// Open executions on `task_queue` whose next task goes to the current version.
fn moving(task_queue: &str) -> String {
    format!(
        "ExecutionStatus = 'Running' AND TaskQueue = '{}' AND \
         (TemporalWorkflowVersioningBehavior IS NULL OR \
          TemporalWorkflowVersioningBehavior != 'Pinned')",
        quoted(task_queue)
    )
}
