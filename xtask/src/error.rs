//! The one error type of xtask.
//!
//! xtask has no dependencies (see `Cargo.toml`), so this is a small stand-in for
//! `anyhow`: a message saying what failed, the underlying cause, and — the part a
//! developer on a fresh machine needs most — the manual fix to try.

use std::error::Error as StdError;
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What failed, why, and what the developer can do about it.
#[derive(Debug)]
pub struct Error {
    what: String,
    fix: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    interrupted: bool,
}

impl Error {
    /// An error with no underlying cause, e.g. "the starter exited with status 1".
    pub fn msg(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            fix: None,
            source: None,
            interrupted: false,
        }
    }

    /// An error caused by `source`, e.g. an `io::Error` from spawning a process.
    pub fn caused_by(
        what: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::msg(what)
        }
    }

    /// The run was cut short by Ctrl-C (SIGINT) or SIGTERM.
    pub fn interrupted() -> Self {
        Self {
            interrupted: true,
            ..Self::msg("interrupted")
        }
    }

    /// Attaches the manual fix shown under the error.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Wraps `self` in a higher-level description, keeping it as the cause. The fix
    /// moves up with it so that it is printed once, at the end.
    pub fn context(mut self, what: impl Into<String>) -> Self {
        let fix = self.fix.take();
        let interrupted = self.interrupted;
        Self {
            what: what.into(),
            fix,
            source: Some(Box::new(self)),
            interrupted,
        }
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted
    }

    /// The full report for the terminal: the error, its causes, and the fix.
    pub fn report(&self) -> String {
        let mut out = format!("error: {}", self.what);
        let mut cause = self.source();
        while let Some(err) = cause {
            out.push_str(&format!("\n  caused by: {err}"));
            cause = err.source();
        }
        if let Some(fix) = &self.fix {
            out.push_str(&format!("\n  fix: {fix}"));
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|err| err as &(dyn StdError + 'static))
    }
}

/// `.context(...)` for results whose error is not (yet) an [`Error`].
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E> Context<T> for Result<T, E>
where
    E: StdError + Send + Sync + 'static,
{
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| Error::caused_by(what(), err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_causes_and_keeps_the_fix_at_the_end() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::caused_by("could not run `protoc`", io)
            .fix("install protobuf-compiler")
            .context("setup step `protoc` failed");
        assert_eq!(
            err.report(),
            "error: setup step `protoc` failed\n  \
             caused by: could not run `protoc`\n  \
             caused by: no such file\n  \
             fix: install protobuf-compiler"
        );
    }

    #[test]
    fn interruption_survives_context() {
        assert!(Error::interrupted().context("cargo test").is_interrupted());
    }
}
