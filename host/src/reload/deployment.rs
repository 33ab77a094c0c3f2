//! The worker deployment calls a hot-reloading worker makes: which versions the server
//! knows, which one is current, and making one current.

use std::time::{Duration, Instant};

use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::enums::v1::WorkerDeploymentVersionStatus;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkerDeploymentRequest, SetWorkerDeploymentCurrentVersionRequest,
};

use crate::client::{Client, ClientError};

/// A version of the deployment and where it stands.
#[derive(Clone, Debug)]
pub(crate) struct ServerVersion {
    pub build_id: String,
    pub status: WorkerDeploymentVersionStatus,
}

impl ServerVersion {
    /// Whether executions may still need this version's code.
    pub fn in_use(&self) -> bool {
        matches!(
            self.status,
            WorkerDeploymentVersionStatus::Current
                | WorkerDeploymentVersionStatus::Ramping
                | WorkerDeploymentVersionStatus::Draining
        )
    }
}

/// The deployment as the server sees it; empty if it does not exist yet.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deployment {
    pub current: Option<String>,
    pub versions: Vec<ServerVersion>,
    /// Passed back when changing the deployment, so a change made meanwhile by another
    /// worker is not overwritten unseen.
    conflict_token: Vec<u8>,
}

impl Deployment {
    pub fn knows(&self, build_id: &str) -> bool {
        self.versions.iter().any(|v| v.build_id == build_id)
    }

    pub fn status_of(&self, build_id: &str) -> Option<WorkerDeploymentVersionStatus> {
        self.versions
            .iter()
            .find(|v| v.build_id == build_id)
            .map(|v| v.status)
    }
}

pub(crate) async fn describe(client: &Client, name: &str) -> Result<Deployment, tonic::Status> {
    let request = DescribeWorkerDeploymentRequest {
        namespace: client.namespace().to_owned(),
        deployment_name: name.to_owned(),
    };
    let response = match client
        .connection()
        .workflow_service()
        .describe_worker_deployment(tonic::Request::new(request))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(Deployment::default()),
        Err(status) => return Err(status),
    };
    let info = response.worker_deployment_info.unwrap_or_default();
    let current = info
        .routing_config
        .and_then(|routing| routing.current_deployment_version)
        .map(|version| version.build_id)
        .filter(|build_id| !build_id.is_empty());
    let versions = info
        .version_summaries
        .into_iter()
        .filter_map(|summary| {
            let status = summary.status();
            summary.deployment_version.map(|version| ServerVersion {
                build_id: version.build_id,
                status,
            })
        })
        .collect();
    Ok(Deployment {
        current,
        versions,
        conflict_token: response.conflict_token,
    })
}

/// Why a version could not be made current.
#[derive(Debug)]
pub(crate) enum SetCurrentError {
    /// Another worker made `now` current after this one looked.
    Conflict {
        now: Option<String>,
    },
    Rpc(tonic::Status),
}

/// Makes `build_id` the current version of deployment `name`, provided the current
/// version is still `expected_current`. The caller's lane for the version is polling
/// already, but its first poll may not have reached the server; `allow_no_pollers`
/// spares the wait, and a server that insists is retried for up to `patience`.
pub(crate) async fn set_current(
    client: &Client,
    name: &str,
    build_id: &str,
    expected_current: Option<&str>,
    patience: Duration,
) -> Result<(), SetCurrentError> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(20);
    loop {
        let deployment = describe(client, name).await.map_err(SetCurrentError::Rpc)?;
        if deployment.current.as_deref() == Some(build_id) {
            return Ok(());
        }
        if deployment.current.as_deref() != expected_current {
            return Err(SetCurrentError::Conflict {
                now: deployment.current,
            });
        }
        let request = SetWorkerDeploymentCurrentVersionRequest {
            namespace: client.namespace().to_owned(),
            deployment_name: name.to_owned(),
            build_id: build_id.to_owned(),
            identity: client.settings().identity.clone(),
            conflict_token: deployment.conflict_token,
            allow_no_pollers: true,
            ..Default::default()
        };
        let result = client
            .connection()
            .workflow_service()
            .set_worker_deployment_current_version(tonic::Request::new(request))
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(status) if started.elapsed() < patience && retryable(&status) => {
                tracing::debug!(build_id, %status, "version not ready to be current yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
            Err(status) => return Err(SetCurrentError::Rpc(status)),
        }
    }
}

/// The version has no pollers yet, the deployment does not exist yet, or another
/// worker changed the deployment at the same moment (the next look tells).
fn retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::NotFound
            | tonic::Code::FailedPrecondition
            | tonic::Code::Aborted
            | tonic::Code::Unavailable
            | tonic::Code::ResourceExhausted
            | tonic::Code::DeadlineExceeded
    )
}

/// Open executions on version `build_id` of deployment `name`, by the server's
/// visibility (eventually consistent).
pub(crate) async fn open_executions(
    client: &Client,
    name: &str,
    build_id: &str,
) -> Result<u64, ClientError> {
    client
        .count_workflows(&format!(
            "ExecutionStatus = 'Running' AND TemporalWorkerDeploymentVersion = '{}:{}'",
            quoted(name),
            quoted(build_id)
        ))
        .await
}

/// `text` safe inside a single-quoted visibility literal.
pub(crate) fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}
