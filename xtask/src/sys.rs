//! The few POSIX calls std does not wrap: signal handling, signalling a process
//! group, and the effective user id.
//!
//! They are declared by hand instead of taken from the `libc` crate because xtask
//! must stay dependency-free (see `Cargo.toml`); std links the C library anyway.
//! The signal numbers below are the same on Linux and macOS.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

const SIGINT: c_int = 2;
const SIGKILL: c_int = 9;
const SIGTERM: c_int = 15;

/// A signal to send to a process group.
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    /// What Ctrl-C sends: both the Temporal CLI and a worker waiting on
    /// `tokio::signal::ctrl_c` shut down gracefully on it.
    Interrupt,
    /// Cannot be caught; the last resort after a grace period.
    Kill,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn kill(pid: i32, sig: c_int) -> c_int;
    fn geteuid() -> u32;
    fn _exit(status: c_int) -> !;
}

extern "C" fn on_signal(_signum: c_int) {
    // Only async-signal-safe work here: an atomic swap and `_exit`.
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Second Ctrl-C while cleaning up: the user wants out now.
        unsafe { _exit(130) }
    }
}

/// Turns SIGINT and SIGTERM into a flag that the wait loops poll.
///
/// Background processes (dev server, worker) run in their own process groups so
/// that we can kill them as a whole, which also means a Ctrl-C in the terminal does
/// not reach them. Instead of dying on the spot and orphaning them, xtask notices
/// the flag, stops what it started, and exits with status 130. Foreground commands
/// (`cargo`, the starter) share our process group and get the Ctrl-C directly.
pub fn install_interrupt_handler() {
    // SAFETY: `on_signal` is an `extern "C"` fn that only touches an atomic and
    // calls `_exit`, both async-signal-safe. The previous handler is not needed.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

/// Whether Ctrl-C (SIGINT) or SIGTERM has arrived since startup.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sends `signal` to every process in the group led by `pgid`.
pub fn signal_group(pgid: u32, signal: Signal) -> std::io::Result<()> {
    let signum = match signal {
        Signal::Interrupt => SIGINT,
        Signal::Kill => SIGKILL,
    };
    let pgid = i32::try_from(pgid).map_err(std::io::Error::other)?;
    // SAFETY: plain syscall wrapper; a negative pid addresses the process group.
    if unsafe { kill(-pgid, signum) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether xtask runs as root, in which case package managers need no `sudo`.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}
