//! A Temporal dev server on the well-known local port, for `cargo xtask demo`.
//!
//! The demo runs `sandglass dev-server`, the same code that `sandglass dev` and the
//! test servers use, so there is one way to start a server. It listens on the
//! default port so that the `temporal` CLI and the Web UI of a server the developer
//! already runs see the demo's workflows. Tests start their own servers on free
//! ports through `sandglass_host::testing::DevServer`.

use std::time::{Duration, Instant};

use crate::background::Background;
use crate::cmd;
use crate::ctx::Ctx;
use crate::error::{Error, Result};

/// Where the demo's server listens, as `host:port` for `TEMPORAL_ADDRESS`.
pub const ADDRESS: &str = "127.0.0.1:7233";
const PORT: &str = "7233";

/// What `sandglass dev-server` prints once the server serves `default`, and when
/// one already served the port.
const READY: &str = "dev server ready on";
const ALREADY: &str = "already serves";

/// A cold dev server is ready in about a second; a loaded 2-core machine that is
/// also compiling can take much longer. `sandglass dev-server` gives up after 60 s
/// per attempt, and tries up to three times.
const READY_TIMEOUT: Duration = Duration::from_secs(200);

/// Makes sure a dev server answers on [`ADDRESS`]. Returns the server if we
/// started it (dropping it stops it), `None` if one was already running. Needs
/// `target/debug/sandglass`, which the demo's workspace build makes.
pub fn ensure_running(ctx: &Ctx) -> Result<Option<Background>> {
    let log = ctx.log_dir()?.join("dev-server.log");
    let mut cmd = ctx.cmd(ctx.target_dir().join("debug").join("sandglass"));
    cmd.args(["dev-server", "--port", PORT]);
    let mut server = Background::spawn("dev server", cmd, &log)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = server.exit_status()? {
            if status.success() && server.logged(ALREADY) {
                println!("[demo] a server already serves {ADDRESS}; using it");
                return Ok(None);
            }
            return Err(server.died(status).fix(
                "if something else listens on 7233, stop it (or start a Temporal server there)",
            ));
        }
        if server.logged(READY) {
            println!("[demo] dev server ready on {ADDRESS}");
            return Ok(Some(server));
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "the dev server on {ADDRESS} did not answer within {}s; {}",
                READY_TIMEOUT.as_secs(),
                server.log_tail()
            )));
        }
        cmd::sleep(Duration::from_millis(250))?;
    }
}
