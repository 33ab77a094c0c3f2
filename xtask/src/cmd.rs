//! Running commands with errors that say which command failed and how.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys;

/// How often wait loops look at the child and at the interrupt flag. Short enough
/// that Ctrl-C feels immediate, long enough to cost nothing.
const POLL: Duration = Duration::from_millis(50);

/// A [`Command`] that remembers how to print itself (`$ cargo build -p greeting`).
#[derive(Debug)]
pub struct Cmd {
    command: Command,
    shown: String,
}

impl Cmd {
    /// `shown` is the program name used in messages (e.g. `cargo` for `$CARGO`).
    pub fn new(program: &OsStr, shown: &str) -> Self {
        Self {
            command: Command::new(program),
            shown: quote(shown),
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        let arg = arg.as_ref();
        self.shown.push(' ');
        self.shown.push_str(&quote(&arg.to_string_lossy()));
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.command.current_dir(dir);
        self
    }

    /// The command line as shown to the user.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// For callers that need to set up stdio or process groups themselves.
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Runs in the foreground with inherited stdio, after echoing the command line.
    /// A non-zero exit is an error naming the command.
    pub fn run(&mut self) -> Result<()> {
        println!("$ {}", self.shown);
        let status = self.run_status()?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::msg(format!("`{}` failed ({status})", self.shown)))
        }
    }

    /// Like [`Cmd::run`] but returns the exit status instead of judging it.
    pub fn run_status(&mut self) -> Result<ExitStatus> {
        self.command.stdin(Stdio::null());
        let mut child = self.spawn()?;
        wait_for_exit(&mut child)
    }

    /// Runs quietly and reports whether the command started and exited 0. For
    /// "is this installed and working?" checks, where any failure means "no".
    pub fn probe(&mut self) -> bool {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Runs quietly and returns stdout. On failure the error includes stderr.
    pub fn read(&mut self) -> Result<String> {
        self.command.stdin(Stdio::null());
        let output = self.command.output().map_err(|err| self.spawn_error(err))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(Error::msg(format!(
                "`{}` failed ({}): {}",
                self.shown,
                output.status,
                stderr.trim()
            )))
        }
    }

    /// Spawns with whatever stdio was configured.
    pub fn spawn(&mut self) -> Result<Child> {
        self.command.spawn().map_err(|err| self.spawn_error(err))
    }

    fn spawn_error(&self, err: io::Error) -> Error {
        let program = self.command.get_program().to_string_lossy();
        if err.kind() == io::ErrorKind::NotFound {
            Error::caused_by(format!("`{program}` was not found on PATH"), err)
        } else {
            Error::caused_by(format!("could not start `{}`", self.shown), err)
        }
    }
}

/// How a [`wait`] ended.
#[derive(Debug)]
pub enum Waited {
    Exited(ExitStatus),
    TimedOut,
}

/// Waits for `child` until it exits or `deadline` passes, whichever is first.
///
/// Polls instead of blocking in `Child::wait` so that a Ctrl-C or SIGTERM sent to
/// xtask alone (not its process group) still ends the wait: the child is then
/// killed and reaped, and the result is [`Error::interrupted`].
pub fn wait(child: &mut Child, deadline: Option<Instant>) -> Result<Waited> {
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|err| Error::caused_by("could not wait for a child process", err))?
        {
            return Ok(Waited::Exited(status));
        }
        if sys::interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::interrupted());
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(Waited::TimedOut);
        }
        thread::sleep(POLL);
    }
}

/// [`wait`] without a deadline.
pub fn wait_for_exit(child: &mut Child) -> Result<ExitStatus> {
    loop {
        if let Waited::Exited(status) = wait(child, None)? {
            return Ok(status);
        }
    }
}

/// Sleeps for `duration`, but returns [`Error::interrupted`] as soon as Ctrl-C
/// arrives.
pub fn sleep(duration: Duration) -> Result<()> {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if sys::interrupted() {
            return Err(Error::interrupted());
        }
        thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
    }
    Ok(())
}

/// Shell-style quoting, only where needed, so printed commands can be pasted.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_command_line_is_pasteable() {
        let mut cmd = Cmd::new(OsStr::new("python3"), "python3");
        cmd.args(["-c", "import sysconfig; print(1)", "--x=y"]);
        assert_eq!(cmd.shown(), "python3 -c 'import sysconfig; print(1)' --x=y");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn failure_names_the_command_and_status() {
        let mut cmd = Cmd::new(OsStr::new("sh"), "sh");
        cmd.args(["-c", "exit 3"]);
        let err = cmd.run().unwrap_err();
        assert_eq!(err.to_string(), "`sh -c 'exit 3'` failed (exit status: 3)");
    }

    #[test]
    fn missing_program_says_so() {
        let mut cmd = Cmd::new(OsStr::new("sandglass-no-such-program"), "x");
        let err = cmd.read().unwrap_err();
        assert!(err.to_string().contains("was not found on PATH"), "{err}");
        assert!(!Cmd::new(OsStr::new("sandglass-no-such-program"), "x").probe());
    }
}
