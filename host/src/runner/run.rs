//! One workflow run on this worker: its sandboxed instance and the commands it has open.

use std::time::Instant;

use crate::bridge::activation::RunStart;
use crate::bridge::sequence::OpenCommands;
use crate::sandbox::{RunIdentity, Sandbox, WorkflowInstance, WorkflowModule, host_frame};
use crate::wit::{guest, types};

use super::task_error::WorkflowTaskError;

/// A run's live instance and the commands it has open, kept together in the worker's
/// cache between workflow tasks.
pub(crate) struct Run {
    instance: WorkflowInstance,
    open: OpenCommands,
    /// When its last activation started, for evicting the least recently used.
    last_active: Instant,
}

impl Run {
    /// Starts run `run_id` of `module` as `start` says.
    pub fn start(
        sandbox: &Sandbox,
        module: &WorkflowModule,
        run_id: &str,
        start: RunStart,
    ) -> Result<Self, WorkflowTaskError> {
        let identity = RunIdentity {
            workflow_type: start.workflow_type,
            run_id: run_id.to_owned(),
            randomness_seed: start.randomness_seed,
            task_timeout: start.task_timeout,
        };
        Ok(Self {
            instance: WorkflowInstance::new(sandbox, module, identity)?,
            open: OpenCommands::default(),
            last_active: Instant::now(),
        })
    }

    pub fn workflow_type(&self) -> &str {
        &self.instance.identity().workflow_type
    }

    pub fn last_active(&self) -> Instant {
        self.last_active
    }

    /// Bytes of the worker's memory budget the run holds.
    pub fn memory(&self) -> usize {
        self.instance.reserved_memory()
    }

    /// Runs one activation: forgets what it resolves, runs the guest, and checks its
    /// commands against what is open. A query the guest leaves unanswered gets a failure
    /// (its caller would otherwise wait until it times out).
    ///
    /// Blocks while the guest runs; after an error the run must be dropped.
    pub fn activate(
        &mut self,
        activation: guest::Activation,
        reseed: Option<u64>,
    ) -> Result<Vec<guest::Command>, WorkflowTaskError> {
        self.last_active = Instant::now();
        if let Some(seed) = reseed {
            self.instance.reseed(seed);
        }
        self.open.resolve(&activation.jobs);
        let mut commands = self.instance.activate(activation)?;
        self.open
            .issue(&commands)
            .map_err(|source| WorkflowTaskError::MalformedOutput {
                workflow_type: self.instance.identity().workflow_type.clone(),
                run_id: self.instance.identity().run_id.clone(),
                source,
            })?;
        commands.extend(
            self.open
                .take_unanswered_queries()
                .into_iter()
                .map(unanswered_query),
        );
        Ok(commands)
    }
}

fn unanswered_query(id: String) -> guest::Command {
    let message = "the workflow did not answer the query (its component returned without a \
                   response for it)";
    guest::Command::RespondToQuery(guest::QueryResponse {
        id,
        outcome: Err(vec![host_frame(
            message.to_owned(),
            types::FailureInfo::Other,
        )]),
    })
}
