//! What every server a test starts has in common: free ports, captured output,
//! readiness polling, retries when a port is taken, and death on drop.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::{IP, ServerError};

/// How many times to pick new ports when the server loses a race for one.
const START_ATTEMPTS: usize = 3;

/// How many lines of the server's output errors quote.
const TAIL_LINES: usize = 40;

/// Pause between readiness checks.
const POLL: Duration = Duration::from_millis(100);

/// How a kind of server is named in errors.
#[derive(Debug)]
pub(super) struct Kind {
    /// What it is, e.g. "dev server".
    pub name: &'static str,
    /// The command line users would run by hand, e.g. "temporal server start-dev".
    pub command: &'static str,
    /// The PyPI package that installs the program.
    pub package: &'static str,
    /// The option to raise when startup times out.
    pub timeout_option: &'static str,
}

/// A server process private to its owner: its output is kept for error messages
/// and it is killed when dropped.
///
/// The process runs in the caller's process group, not a group of its own, so that
/// a Ctrl-C that interrupts `cargo test` also reaches the server instead of
/// orphaning it. Stopping kills the process itself (SIGKILL: both servers keep
/// their state in memory, so there is nothing to flush); each serves everything
/// from that one process.
#[derive(Debug)]
pub(super) struct ServerProcess {
    kind: &'static Kind,
    child: Option<Child>,
    port: u16,
    output: Arc<Mutex<Tail>>,
}

impl ServerProcess {
    /// Starts `command` (running `program`), which should serve gRPC on `port`,
    /// with stdin closed and stdout and stderr captured.
    pub(super) fn spawn(
        kind: &'static Kind,
        program: &Path,
        mut command: Command,
        port: u16,
    ) -> Result<Self, ServerError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => ServerError::NotInstalled {
                    program: program.to_path_buf(),
                    package: kind.package,
                },
                _ => ServerError::Spawn {
                    program: program.to_path_buf(),
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
        Ok(Self {
            kind,
            child: Some(child),
            port,
            output,
        })
    }

    /// `127.0.0.1:PORT`.
    pub(super) fn address(&self) -> String {
        format!("{IP}:{}", self.port)
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    pub(super) fn output_tail(&self) -> String {
        lock(&self.output).render()
    }

    /// Kills the process and waits until it is gone, so its ports are closed when
    /// this returns. A no-op the second time.
    pub(super) fn kill(&mut self) -> Result<(), ServerError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // `kill` is a no-op if the process already exited; `wait` reaps it, and
        // only then are its ports closed.
        let killed = child.kill();
        child.wait().map_err(ServerError::Process)?;
        killed.map_err(ServerError::Process)
    }

    /// Polls until the port accepts TCP connections and then `check` passes,
    /// for at most `timeout`. `check` gets what is left of the timeout and returns
    /// why the server is not ready yet.
    pub(super) fn wait_until_ready(
        &mut self,
        timeout: Duration,
        mut check: impl FnMut(Duration) -> Result<(), String>,
    ) -> Result<(), ServerError> {
        let deadline = Instant::now() + timeout;
        let address = SocketAddr::from((IP, self.port));
        let mut last_check = "no connection to the server's port yet".to_string();
        let mut port_open = false;
        loop {
            if let Some(status) = self.exit_status()? {
                // Let the readers catch the last words (they explain the exit).
                thread::sleep(POLL);
                return Err(ServerError::Exited {
                    command: self.kind.command,
                    status,
                    output: self.output_tail(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ServerError::NotReady {
                    server: self.kind.name,
                    address: self.address(),
                    timeout,
                    last_check,
                    timeout_option: self.kind.timeout_option,
                    output: self.output_tail(),
                });
            }
            if !port_open {
                port_open = accepts_connections(address);
            }
            if port_open {
                match check(deadline - now) {
                    Ok(()) => return Ok(()),
                    Err(reason) => last_check = reason,
                }
            }
            thread::sleep(POLL);
        }
    }

    fn exit_status(&mut self) -> Result<Option<ExitStatus>, ServerError> {
        match self.child.as_mut() {
            Some(child) => child.try_wait().map_err(ServerError::Process),
            None => Ok(None),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Whether something listens on `address`.
fn accepts_connections(address: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&address, POLL) {
        // A connection to a loopback port in the ephemeral range that nothing
        // listens on yet can be given that same port as its source and connect to
        // itself (TCP simultaneous open). That is not the server.
        Ok(stream) => stream.local_addr().is_ok_and(|local| local != address),
        Err(_) => false,
    }
}

/// Runs `start_once` again, up to [`START_ATTEMPTS`] times in all, while the
/// server exits because another process took its port first: ports are picked
/// free just before the server binds them, so a race is possible.
pub(super) fn start_with_retries<T>(
    mut start_once: impl FnMut() -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let mut attempt = 1;
    loop {
        match start_once() {
            Err(ServerError::Exited { output, .. })
                if attempt < START_ATTEMPTS && lost_a_port(&output) =>
            {
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether a server's output says it could not bind a port. Temporal 1.32's dev server
/// sometimes says so only by crashing: a service whose listener failed serves on none
/// (a nil-pointer panic in `grpc.(*Server).Serve`).
fn lost_a_port(output: &str) -> bool {
    output.to_lowercase().contains("address already in use")
        || (output.contains("nil pointer dereference") && output.contains("grpc.(*Server).Serve"))
}

/// Ports this process has handed out before. The kernel may offer a port again
/// as soon as its listener closes; remembering them keeps two servers started by
/// parallel tests of one test binary from racing for the same port (a race the
/// retry would not always see, because the loser could find the winner ready).
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How many ports [`free_ports`] may look at before giving up.
const PORT_CANDIDATES: usize = 256;

/// Distinct free ports on [`IP`] that this process has not handed out before.
/// All listeners are held until every port is picked, so the ports differ from
/// each other; they are released on return, for the server to bind.
pub(super) fn free_ports<const N: usize>() -> io::Result<[u16; N]> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    let mut found = 0;
    while found < N {
        if listeners.len() == PORT_CANDIDATES {
            return Err(io::Error::other(format!(
                "{PORT_CANDIDATES} ports offered by the kernel were all handed out before"
            )));
        }
        let listener = TcpListener::bind((IP, 0))?;
        let port = listener.local_addr()?.port();
        if handed_out.insert(port) {
            ports[found] = port;
            found += 1;
        }
        listeners.push(listener);
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

fn lock(tail: &Mutex<Tail>) -> MutexGuard<'_, Tail> {
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

    #[test]
    fn a_lost_port_is_retried_and_other_exits_are_not() {
        let crash = "panic: runtime error: invalid memory address or nil pointer dereference\n\
                     goroutine 118 [running]:\n\
                     google.golang.org/grpc.(*Server).Serve(0x15e46e5e6008, {0x0, 0x0})";
        assert!(lost_a_port(crash));
        assert!(lost_a_port(
            "listen tcp 127.0.0.1:7233: bind: Address already in use"
        ));
        assert!(!lost_a_port("unknown flag: --bogus"));
    }

    #[test]
    fn free_ports_are_distinct_and_never_handed_out_twice() {
        let [a, b, c] = free_ports().expect("free ports");
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
        for _ in 0..20 {
            let [d] = free_ports().expect("free port");
            assert!(![a, b, c].contains(&d), "{d} was handed out before");
        }
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

    #[test]
    fn retries_only_while_a_port_was_taken() {
        let exited = |output: &str| ServerError::Exited {
            command: "server",
            status: ExitStatus::default(),
            output: output.to_string(),
        };
        let mut calls = 0;
        let result: Result<(), _> = start_with_retries(|| {
            calls += 1;
            Err(exited("java.net.BindException: Address already in use"))
        });
        assert!(matches!(result, Err(ServerError::Exited { .. })));
        assert_eq!(calls, START_ATTEMPTS);

        let mut calls = 0;
        let result: Result<(), _> = start_with_retries(|| {
            calls += 1;
            Err(exited("some other failure"))
        });
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
