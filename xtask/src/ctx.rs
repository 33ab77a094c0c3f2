//! What every task needs: where the workspace is, and the `PATH` its children see.

use std::env;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::cmd::Cmd;
use crate::error::{Context, Result};

/// The workspace root and the `PATH` handed to every child process.
///
/// `PATH` is kept here rather than changed in our own environment because setup
/// may have to add a directory to it (pip puts the `temporal` binary in Python's
/// scripts directory, which need not be on `PATH`), and `std::env::set_var` is
/// `unsafe` in edition 2024. Every command is built through [`Ctx::cmd`], so
/// `cargo test` — and the dev servers its tests start — find what setup installed.
#[derive(Debug)]
pub struct Ctx {
    root: PathBuf,
    path: OsString,
}

impl Ctx {
    pub fn new() -> Self {
        // xtask lives one level below the workspace root, and is always built from
        // this checkout, so the compile-time manifest dir is the right anchor.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask's manifest dir has a parent")
            .to_path_buf();
        let path = env::var_os("PATH").unwrap_or_default();
        Self { root, path }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<root>/target`.
    pub fn target_dir(&self) -> PathBuf {
        match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    /// `target/xtask/`, where background processes write their logs.
    pub fn log_dir(&self) -> Result<PathBuf> {
        let dir = self.target_dir().join("xtask");
        std::fs::create_dir_all(&dir).context(|| format!("could not create {}", dir.display()))?;
        Ok(dir)
    }

    /// The first executable file called `name` on our `PATH`.
    pub fn find_program(&self, name: &str) -> Option<PathBuf> {
        env::split_paths(&self.path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    }

    /// Puts `dir` first on the `PATH` of every command started from now on.
    pub fn prepend_path(&mut self, dir: &Path) -> Result<()> {
        let dirs = std::iter::once(dir.to_path_buf()).chain(env::split_paths(&self.path));
        self.path =
            env::join_paths(dirs).context(|| format!("cannot put {} on PATH", dir.display()))?;
        Ok(())
    }

    /// A command run from the workspace root with our `PATH`.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Cmd {
        let program = program.as_ref();
        let mut cmd = Cmd::new(program, &program.to_string_lossy());
        cmd.env("PATH", &self.path).current_dir(&self.root);
        cmd
    }

    /// `cargo`, preferring the exact binary that runs xtask (`$CARGO`) so that every
    /// step uses the same toolchain.
    pub fn cargo(&self) -> Cmd {
        let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Cmd::new(&program, "cargo");
        cmd.env("PATH", &self.path).current_dir(&self.root);
        cmd
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
