//! A Temporal dev server on the well-known local port, for `cargo xtask demo`.
//!
//! Tests do not use this: they start their own servers on free ports through
//! `sandglass_host::testing::DevServer`. The demo uses the default port so that
//! the `temporal` CLI and the Web UI of a server the developer already runs see
//! the demo's workflows.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::background::Background;
use crate::cmd;
use crate::ctx::Ctx;
use crate::error::{Error, Result};

/// Where the demo's server listens, as `host:port` for `TEMPORAL_ADDRESS`.
pub const ADDRESS: &str = "127.0.0.1:7233";
const IP: &str = "127.0.0.1";
const PORT: &str = "7233";

/// A cold dev server is ready in about a second; a loaded 2-core machine that is
/// also compiling can take much longer.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes sure a dev server answers on [`ADDRESS`]. Returns the server if we
/// started it (dropping it stops it), `None` if one was already running.
pub fn ensure_running(ctx: &Ctx) -> Result<Option<Background>> {
    if accepts_connections() {
        println!("[demo] a server is already listening on {ADDRESS}; using it");
        wait_until_ready(ctx, None)?;
        return Ok(None);
    }
    let log = ctx.log_dir()?.join("dev-server.log");
    let mut cmd = ctx.cmd("temporal");
    // In-memory database (no --db-filename): nothing survives the demo.
    cmd.args([
        "server",
        "start-dev",
        "--headless",
        "--ip",
        IP,
        "--port",
        PORT,
    ]);
    let mut server = Background::spawn("dev server", cmd, &log)?;
    wait_until_ready(ctx, Some(&mut server))?;
    println!("[demo] dev server ready on {ADDRESS}");
    Ok(Some(server))
}

fn accepts_connections() -> bool {
    let addr: SocketAddr = ADDRESS.parse().expect("ADDRESS is a valid socket address");
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Polls until the frontend answers a namespace describe: an open port alone
/// does not mean the `default` namespace exists yet.
fn wait_until_ready(ctx: &Ctx, mut server: Option<&mut Background>) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(server) = server.as_deref_mut()
            && let Some(status) = server.exit_status()?
        {
            return Err(server.died(status).fix(
                "if the port is taken, stop whatever listens on 7233 (or let the demo use it)",
            ));
        }
        if describe_default_namespace(ctx) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let log = server
                .map(|s| format!("; {}", s.log_tail()))
                .unwrap_or_default();
            return Err(Error::msg(format!(
                "the dev server on {ADDRESS} did not answer within {}s{log}",
                READY_TIMEOUT.as_secs()
            ))
            .fix(format!(
                "check it with `temporal operator namespace describe --namespace default --address {ADDRESS}`"
            )));
        }
        cmd::sleep(Duration::from_millis(250))?;
    }
}

fn describe_default_namespace(ctx: &Ctx) -> bool {
    ctx.cmd("temporal")
        .args([
            "operator",
            "namespace",
            "describe",
            "--namespace",
            "default",
        ])
        .args(["--address", ADDRESS, "--command-timeout", "5s"])
        // A profile in the user's config must not redirect us or turn on TLS.
        .args(["--disable-config-file", "--disable-config-env"])
        .probe()
}
