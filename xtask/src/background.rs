//! Long-running helper processes (the dev server, the demo worker) that must not
//! outlive xtask.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, Cmd, Waited};
use crate::error::{Context, Error, Result};
use crate::sys::{self, Signal};

/// How long a process gets to shut down after SIGINT before it is killed. The
/// dev server needs about three seconds on 2 cores.
const GRACE: Duration = Duration::from_secs(10);

/// How much of a log to quote in an error.
const TAIL_BYTES: u64 = 4 * 1024;

/// A child process in its own process group, with output going to a log file.
/// Dropping it stops the whole group: SIGINT, then SIGKILL after [`GRACE`].
///
/// Its own group means that killing it also kills anything it spawned, and that
/// the terminal's Ctrl-C does not reach it: xtask's interrupt handler
/// (`sys::install_interrupt_handler`) makes the wait loops return early, and the
/// drops on the way out stop the group.
#[derive(Debug)]
pub struct Background {
    name: &'static str,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Background {
    /// Starts `cmd` with stdin closed and stdout + stderr appended to `log`.
    pub fn spawn(name: &'static str, mut cmd: Cmd, log: &Path) -> Result<Self> {
        let out = File::create(log).context(|| format!("could not create {}", log.display()))?;
        let err = out
            .try_clone()
            .context(|| format!("could not open {} twice", log.display()))?;
        cmd.command_mut()
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        println!("$ {} > {} 2>&1 &", cmd.shown(), log.display());
        let child = cmd.spawn()?;
        Ok(Self {
            name,
            child,
            log: log.to_path_buf(),
            exited: None,
        })
    }

    /// `Some(status)` once the process has exited on its own.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self
                .child
                .try_wait()
                .context(|| format!("could not check on the {}", self.name))?;
        }
        Ok(self.exited)
    }

    /// An error for "the process exited when it should not have", with its log.
    pub fn died(&self, status: ExitStatus) -> Error {
        Error::msg(format!(
            "the {} exited unexpectedly ({status}); {}",
            self.name,
            self.log_tail()
        ))
    }

    /// The end of the log, ready to append to an error message.
    pub fn log_tail(&self) -> String {
        match read_tail(&self.log) {
            Ok(tail) if tail.trim().is_empty() => {
                format!("its log {} is empty", self.log.display())
            }
            Ok(tail) => format!(
                "the end of its log {}:\n{}",
                self.log.display(),
                tail.trim_end()
            ),
            Err(err) => format!("its log {} is unreadable: {err}", self.log.display()),
        }
    }

    /// Whether the log so far has a line containing `needle` (for processes that
    /// announce readiness on stdout).
    pub fn logged(&self, needle: &str) -> bool {
        read_tail(&self.log).is_ok_and(|tail| tail.lines().any(|line| line.contains(needle)))
    }

    /// Stops the process group; see the type docs. Idempotent.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.exit_status() {
            // Exited on its own (and reaped): its pid may already belong to an
            // unrelated process, so signalling the group could hit a stranger.
            return;
        }
        let pgid = self.child.id();
        println!("stopping the {} (pid {pgid})", self.name);
        if sys::signal_group(pgid, Signal::Interrupt).is_ok() {
            let deadline = Some(Instant::now() + GRACE);
            // An interrupt during the grace period ends it early; we kill anyway.
            if let Ok(Waited::Exited(status)) = cmd::wait(&mut self.child, deadline) {
                self.exited = Some(status);
            }
        }
        // SIGKILL the group even if the leader just exited: it may have left
        // children behind, and the group id cannot be reused while they live.
        let _ = sys::signal_group(pgid, Signal::Kill);
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Start at a line boundary unless we have the whole file.
    Ok(match (len > TAIL_BYTES, text.find('\n')) {
        (true, Some(newline)) => text[newline + 1..].to_string(),
        _ => text.into_owned(),
    })
}
