//! `cargo xtask demo`: the greeting example end to end, as a new user would run it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::background::Background;
use crate::cmd::{self, Waited};
use crate::ctx::Ctx;
use crate::dev_server;
use crate::error::{Error, Result};
use crate::setup::{self, Need};
use crate::wasm;

/// The starter normally finishes in a second or two; this bounds a stuck run
/// (say, a worker that polls but never completes the workflow).
const STARTER_TIMEOUT: Duration = Duration::from_secs(120);

/// Builds the example, makes sure a dev server runs, starts the worker, runs the
/// starter (its stdout is the demo's output), then stops what it started.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    setup::run(ctx, &[Need::WasmTarget, Need::Protoc, Need::TemporalCli])?;
    // The same package selection as `cargo xtask test`, so both share one set of
    // unified dependency features and neither rebuilds what the other built.
    ctx.cargo()
        .args(["build", "--workspace"])
        .args(wasm::exclude_args(&wasm::present(ctx, wasm::COMPONENTS)))
        .run()?;
    wasm::build_components(ctx, &[wasm::GREETING])?;

    // Declared before the worker so that it is dropped (stopped) after it.
    let _server = dev_server::ensure_running(ctx)?;

    let mut worker_cmd = ctx.cmd(ctx.target_dir().join("debug").join("worker"));
    worker_cmd.env("TEMPORAL_ADDRESS", dev_server::ADDRESS);
    let worker_log = ctx.log_dir()?.join("worker.log");
    let mut worker = Background::spawn("worker", worker_cmd, &worker_log)?;

    run_starter(ctx, &mut worker)?;
    worker.stop();
    Ok(())
}

/// Runs `target/debug/starter` in the foreground (its stdout is the demo's
/// output). Fails early, with the worker's log, if the worker dies first: the
/// starter would otherwise wait for a result that never comes.
fn run_starter(ctx: &Ctx, worker: &mut Background) -> Result<()> {
    let mut starter = ctx.cmd(ctx.target_dir().join("debug").join("starter"));
    starter.env("TEMPORAL_ADDRESS", dev_server::ADDRESS);
    starter.command_mut().stdin(Stdio::null());
    println!("$ {}", starter.shown());
    let mut child = starter.spawn()?;
    let deadline = Instant::now() + STARTER_TIMEOUT;
    loop {
        if let Some(status) = worker.exit_status()? {
            let _ = child.kill();
            let _ = child.wait();
            return Err(worker.died(status).context("the demo failed"));
        }
        let check_worker_again = Instant::now() + Duration::from_millis(200);
        match cmd::wait(&mut child, Some(check_worker_again))? {
            Waited::Exited(status) if status.success() => return Ok(()),
            Waited::Exited(status) => {
                return Err(Error::msg(format!(
                    "the starter failed ({status}); the worker's side: {}",
                    worker.log_tail()
                )));
            }
            Waited::TimedOut if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::msg(format!(
                    "the starter did not finish within {}s; the worker's side: {}",
                    STARTER_TIMEOUT.as_secs(),
                    worker.log_tail()
                )));
            }
            Waited::TimedOut => {}
        }
    }
}
