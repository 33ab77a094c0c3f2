//! The client: a connection to Temporal bound to one namespace.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sandglass_declare::WorkflowDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_client::errors::ClientConnectError;
use temporalio_client::{Connection, ConnectionOptions, Url, tonic};

use crate::settings::{ConnectionSettings, SettingsError};

use super::error::start_error;
use super::start::Start;
use super::time_skipping::{ServerTimeLock, TimeLock};
use super::transport;
use super::{ClientError, WorkflowHandle, WorkflowOptions, WorkflowResultError};

/// A connection to Temporal bound to one namespace. Cheap to clone.
///
/// A client made by [`TimeSkippingServer::client`](crate::testing::TimeSkippingServer::client)
/// is *time-skipping*: [`WorkflowHandle::result`] lets the test server skip time
/// while it waits, and [`Client::sleep`](crate::Client::sleep) skips time on request. Clones share that
/// behaviour; see [`Client::is_time_skipping`](crate::Client::is_time_skipping).
#[derive(Clone, Debug)]
pub struct Client {
    pub(super) connection: Connection,
    pub(super) settings: ConnectionSettings,
    /// Set for clients of a time-skipping test server.
    pub(super) time_lock: Option<TimeLock>,
}

impl Client {
    /// Connects, failing with [`ClientError::Unreachable`](crate::ClientError::Unreachable) if the server does not answer
    /// within `settings.connect_timeout`.
    pub async fn connect(settings: ConnectionSettings) -> Result<Self, ClientError> {
        Self::connect_with(settings, None).await
    }

    /// Connects to a time-skipping test server whose lock state is `server`.
    pub(crate) async fn connect_time_skipping(
        settings: ConnectionSettings,
        server: Arc<ServerTimeLock>,
    ) -> Result<Self, ClientError> {
        Self::connect_with(settings, Some(server)).await
    }

    async fn connect_with(
        settings: ConnectionSettings,
        time_skipping: Option<Arc<ServerTimeLock>>,
    ) -> Result<Self, ClientError> {
        settings.validate()?;
        let url = Url::from_str(&settings.url()?)
            .map_err(|_| ClientError::InvalidAddress(settings.address.clone()))?;
        let tls = settings.effective_tls();
        let address = settings.address.as_str();
        let url_text = url.to_string();
        let connecting = async {
            let transport =
                transport::connect(url.as_str(), settings.connect_timeout, tls.as_ref())
                    .await
                    .map_err(|e| connect_error(address, tls.is_some(), Box::new(e)))?;
            let options = ConnectionOptions::new(url)
                .identity(settings.identity.clone())
                .maybe_api_key(settings.api_key.clone())
                .maybe_headers(
                    (!settings.headers.is_empty())
                        .then(|| settings.headers.clone().into_iter().collect()),
                )
                .service_override(transport)
                // The override is the transport; the client's own DNS balancing is off.
                .dns_load_balancing(None)
                .build();
            Connection::connect(options)
                .await
                .map_err(|error| match error {
                    ClientConnectError::SystemInfoCallError(status)
                        if matches!(
                            status.code(),
                            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                        ) =>
                    {
                        ClientError::Unauthenticated {
                            address: address.to_owned(),
                            message: status.message().to_owned(),
                        }
                    }
                    ClientConnectError::SystemInfoCallError(status)
                        if status.message().starts_with(transport::TLS_FAILURE) =>
                    {
                        ClientError::Tls {
                            address: address.to_owned(),
                            reason: status.message()[transport::TLS_FAILURE.len()..].to_owned(),
                        }
                    }
                    other => connect_error(address, tls.is_some(), Box::new(other)),
                })
        };
        let started = Instant::now();
        let result = tokio::time::timeout(settings.connect_timeout, connecting)
            .await
            .unwrap_or_else(|elapsed| {
                Err(ClientError::Unreachable {
                    address: address.to_owned(),
                    source: Box::new(elapsed),
                })
            });
        // A server that refused this client after the handshake: ask it why, in what is
        // left of the connect timeout, keeping the first error if it does not say.
        let remaining = settings.connect_timeout.saturating_sub(started.elapsed());
        let result = match (result, &tls) {
            (Err(unreachable @ ClientError::Unreachable { .. }), Some(tls))
                if !remaining.is_zero() =>
            {
                match super::tls::diagnose(&url_text, tls, remaining).await {
                    Some(reason) => Err(ClientError::Tls {
                        address: address.to_owned(),
                        reason,
                    }),
                    None => Err(unreachable),
                }
            }
            (result, _) => result,
        };
        let connection = result?;
        let time_lock =
            time_skipping.map(|server| TimeLock::new(connection.test_service(), server));
        Ok(Self {
            connection,
            settings,
            time_lock,
        })
    }

    /// Replaces the API key every call of this client, its clones and the workers built
    /// on it sends from now on (`None` stops sending one): how a key is rotated without
    /// reconnecting.
    pub fn set_api_key(&self, api_key: Option<String>) -> Result<(), ClientError> {
        if let Some(key) = &api_key {
            crate::settings::validate_api_key(key)?;
        }
        self.connection.set_api_key(api_key);
        Ok(())
    }

    /// Replaces the gRPC headers every call of this client, its clones and the workers
    /// built on it sends from now on.
    pub fn set_headers(&self, headers: BTreeMap<String, String>) -> Result<(), ClientError> {
        for (name, value) in &headers {
            crate::settings::validate_header(name, value)?;
        }
        self.connection
            .set_headers(headers.into_iter().collect())
            .map_err(|error| {
                ClientError::Settings(SettingsError::Invalid(format!("gRPC headers: {error}")))
            })
    }

    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether this client belongs to a time-skipping test server (it was made by
    /// [`TimeSkippingServer::client`](crate::testing::TimeSkippingServer::client)).
    pub fn is_time_skipping(&self) -> bool {
        self.time_lock.is_some()
    }

    /// Lets `duration` of server time pass: the Python SDK's `env.sleep()`.
    ///
    /// On a time-skipping test server this skips ahead (timers that fall due fire,
    /// and their workflow tasks run) and returns once the server's clock has moved
    /// by `duration`, usually within milliseconds. Any other client sleeps for
    /// `duration` of real time, so a test can run against either server.
    ///
    /// # Cancel safety
    /// Safe to drop. On a test server the skip runs to its end on a task of its
    /// own, and the server takes back its lock on time by itself once `duration`
    /// has passed; other time-skipping calls wait until it has.
    pub async fn sleep(&self, duration: Duration) -> Result<(), ClientError> {
        match &self.time_lock {
            Some(lock) => lock.sleep(duration).await,
            None => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
        }
    }

    /// The server's clock: the Python SDK's `env.get_current_time()`. On a time-skipping
    /// test server it runs ahead of the wall clock by all the time skipped so far;
    /// any other client returns the local wall clock.
    ///
    /// # Cancel safety
    /// Safe to drop: it only reads.
    pub async fn current_time(&self) -> Result<SystemTime, ClientError> {
        match &self.time_lock {
            Some(lock) => lock.current_time().await,
            None => Ok(SystemTime::now()),
        }
    }

    /// Starts a workflow and returns a handle to it without waiting for its result.
    ///
    /// With [`WorkflowIdConflictPolicy::UseExisting`](crate::WorkflowIdConflictPolicy::UseExisting) and a run with the id still open, the
    /// handle is that run's.
    pub async fn start_workflow<I: Serialize, O>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
    ) -> Result<WorkflowHandle<O>, ClientError> {
        let request = Start::new(self, workflow, input, &options)?.request();
        let response = self
            .connection
            .workflow_service()
            .start_workflow_execution(tonic::Request::new(request))
            .await
            .map_err(|status| start_error("StartWorkflowExecution", &options.id, status))?
            .into_inner();
        Ok(self.workflow_handle(options.id, Some(response.run_id)))
    }

    /// Starts a workflow and waits for its result: the Python SDK's `client.execute_workflow`.
    pub async fn execute_workflow<I: Serialize, O: DeserializeOwned>(
        &self,
        workflow: WorkflowDefinition<I, O>,
        input: &I,
        options: WorkflowOptions,
    ) -> Result<O, WorkflowResultError> {
        self.start_workflow(workflow, input, options)
            .await?
            .result()
            .await
    }

    /// A handle to an existing workflow; without a run id it follows the latest run.
    pub fn workflow_handle<O>(
        &self,
        workflow_id: impl Into<String>,
        run_id: Option<String>,
    ) -> WorkflowHandle<O> {
        WorkflowHandle {
            client: self.clone(),
            workflow_id: workflow_id.into(),
            run_id,
            output: PhantomData,
        }
    }
}

/// A failed connection, named by what went wrong: a TLS handshake the settings can fix,
/// or a server that does not answer.
fn connect_error(
    address: &str,
    tls: bool,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> ClientError {
    match super::tls::explain(source.as_ref(), tls) {
        Some(reason) => ClientError::Tls {
            address: address.to_owned(),
            reason,
        },
        None => ClientError::Unreachable {
            address: address.to_owned(),
            source,
        },
    }
}
