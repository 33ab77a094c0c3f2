//! A worker under measurement: its own process, started with the peers' command line
//! and stopped with SIGTERM, so `/proc` sees only its work.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::proc_stats::{self, ProcSample};

/// How long a worker may take to print `ready`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a worker may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running worker process.
pub struct WorkerProcess {
    name: String,
    child: Child,
    pid: u32,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl WorkerProcess {
    /// Starts `command` (program first) with `--address` and `--task-queue` appended,
    /// and waits for its `ready` line.
    pub async fn start(
        name: &str,
        command: &[String],
        address: &str,
        task_queue: &str,
        max_cached: usize,
    ) -> anyhow::Result<Self> {
        let (program, rest) = command
            .split_first()
            .with_context(|| format!("{name}: empty worker command"))?;
        let mut child = Command::new(program)
            .args(rest)
            .args(["--address", address, "--task-queue", task_queue])
            .args(["--max-cached", &max_cached.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("{name}: start {program}"))?;
        let pid = child.id().context("the worker exited at once")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut stdout = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Some(line) = stdout.next_line().await? {
                if line.trim() == "ready" {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => Ok(Self {
                name: name.to_owned(),
                child,
                pid,
                stdout,
            }),
            Ok(Ok(false)) => {
                bail!("{name}: the worker exited before printing `ready` (its stderr is above)")
            }
            Ok(Err(error)) => Err(error).context(format!("{name}: read the worker's stdout")),
            Err(_) => bail!("{name}: no `ready` from the worker within {STARTUP_TIMEOUT:?}"),
        }
    }

    pub fn sample(&self) -> anyhow::Result<ProcSample> {
        proc_stats::sample(self.pid)
    }

    /// SIGTERM, then waits for the exit; returns the lines the worker printed after
    /// `ready` (the Sandglass worker prints its time split there).
    pub async fn stop(mut self) -> anyhow::Result<Vec<String>> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .context("run kill")?;
        if !status.success() {
            bail!("{}: could not signal the worker", self.name);
        }
        let mut lines = Vec::new();
        let drained = tokio::time::timeout(STOP_TIMEOUT, async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                lines.push(line);
            }
            self.child.wait().await
        })
        .await;
        match drained {
            Ok(Ok(status)) if status.success() => Ok(lines),
            Ok(Ok(status)) => bail!("{}: the worker exited with {status}", self.name),
            Ok(Err(error)) => Err(error).context("wait for the worker"),
            Err(_) => {
                let _ = self.child.kill().await;
                bail!(
                    "{}: the worker did not stop within {STOP_TIMEOUT:?} of SIGTERM",
                    self.name
                )
            }
        }
    }
}

/// Runs a replayer command to completion and parses its JSON line.
pub async fn replay(
    name: &str,
    command: &[String],
    history: &std::path::Path,
    workflow_id: &str,
    repeat: u32,
) -> anyhow::Result<serde_json::Value> {
    let (program, rest) = command
        .split_first()
        .with_context(|| format!("{name}: empty replay command"))?;
    let output = Command::new(program)
        .args(rest)
        .arg("--history")
        .arg(history)
        .args([
            "--workflow-id",
            workflow_id,
            "--repeat",
            &repeat.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("{name}: run {program}"))?;
    if !output.status.success() {
        bail!("{name}: the replayer failed ({})", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .with_context(|| format!("{name}: the replayer printed no JSON line: {stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("{name}: not JSON: {line}"))
}

impl WorkerProcess {
    /// Asks a Sandglass bench worker for its time split (SIGUSR1) and reads the JSON
    /// line it prints.
    pub async fn stats(&mut self) -> anyhow::Result<serde_json::Value> {
        let status = std::process::Command::new("kill")
            .args(["-USR1", &self.pid.to_string()])
            .status()
            .context("run kill")?;
        anyhow::ensure!(
            status.success(),
            "{}: could not signal the worker",
            self.name
        );
        let line = tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line())
            .await
            .context("no stats line within 10 s")??
            .context("the worker closed its stdout")?;
        serde_json::from_str(&line).with_context(|| format!("not a stats line: {line}"))
    }
}
