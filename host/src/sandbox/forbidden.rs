//! The parts of WASI a workflow may not use, each replaced by a trap that says why and
//! what to do instead.
//!
//! Granting nothing is not enough: a guest whose `std::env::var` quietly reads nothing,
//! or whose `std::fs::read` returns an `io::Error` it swallows, runs on with a wrong
//! picture of the world, and its author learns nothing. So each way out of the sandbox
//! ends the activation with a [`Forbidden`] trap instead, which fails the workflow task
//! with a message naming the deterministic alternative.
//!
//! Some of these calls are also made by the guest's `std` when nothing is wrong, so they
//! are stopped one step later, where only a real attempt gets to:
//!
//! - Opening stdin is part of the first `println!` (the WASIp1 adapter opens all three
//!   standard streams at once), so stdin is granted and *reading* it traps
//!   ([`ForbiddenStdin`]).
//! - Listing preopened directories is part of the same start-up, and a guest with no
//!   preopens fails `std::fs` calls inside its own libc without asking the host. So the
//!   guest is given one pseudo-directory at `/`, which every path resolves against, and
//!   every filesystem method traps: no real file is ever reached.

use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, LinkerInstance, Resource};
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::filesystem::{Descriptor, Dir};
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{FsPerms, OpenMode, WasiView};

/// WASI versions the linker defines (wasmtime-wasi 48); guests built against any older
/// 0.2.x resolve to them.
const WASI_VERSION: &str = "0.2.12";

/// Something workflow code tried that would make it nondeterministic or stall the
/// worker. Raised as a trap from the WASI call, it ends the activation and fails the
/// workflow task with this message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Forbidden {
    #[error(
        "workflow code read environment variables (std::env::var or std::env::vars); \
         workflows must be deterministic: pass configuration in the workflow input, or read \
         it in an activity"
    )]
    Environment,
    #[error(
        "workflow code read command-line arguments (std::env::args); a workflow has none: \
         pass what it needs in the workflow input"
    )]
    Arguments,
    #[error(
        "workflow code used the file system (std::fs); workflows must be deterministic and \
         have no files: read or write files in an activity and pass the data in its input \
         and result"
    )]
    Filesystem,
    #[error(
        "workflow code used the network (std::net sockets or a host name lookup); \
         workflows must be deterministic and have no network: make the call in an activity"
    )]
    Network,
    #[error(
        "workflow code tried to sleep the thread (std::thread::sleep or a WASI clock \
         subscription); workflows must not block: use `ctx.sleep(duration).await?` for a \
         durable timer"
    )]
    Sleep,
    #[error(
        "workflow code read stdin; workflows must be deterministic and have no input \
         stream: pass data in the workflow input, or read it in an activity"
    )]
    Stdin,
    #[error(
        "workflow code tried to block the thread waiting on a WASI pollable; workflows must \
         not block: await `ctx.sleep(duration)` for a durable timer, or move the waiting \
         into an activity"
    )]
    Blocking,
    #[error(
        "workflow code called std::process::exit; a workflow ends by returning from `run` \
         (an `Err` fails the workflow)"
    )]
    Exit,
}

impl Forbidden {
    fn trap<R>(self) -> wasmtime::Result<R> {
        Err(wasmtime::Error::new(self))
    }
}

/// The functions that trap as soon as they are called: `(interface, function, why)`.
const TRAPS: &[(&str, &str, Forbidden)] = &[
    (
        "wasi:cli/environment",
        "get-environment",
        Forbidden::Environment,
    ),
    (
        "wasi:cli/environment",
        "get-arguments",
        Forbidden::Arguments,
    ),
    ("wasi:cli/exit", "exit", Forbidden::Exit),
    // `std::thread::sleep` subscribes to the clock, then blocks on the pollable.
    (
        "wasi:clocks/monotonic-clock",
        "subscribe-duration",
        Forbidden::Sleep,
    ),
    (
        "wasi:clocks/monotonic-clock",
        "subscribe-instant",
        Forbidden::Sleep,
    ),
    // Waiting in real time would stall the worker thread and could never replay.
    ("wasi:io/poll", "poll", Forbidden::Blocking),
    (
        "wasi:io/poll",
        "[method]pollable.block",
        Forbidden::Blocking,
    ),
    // Every socket starts with one of these; without them no socket exists to use.
    (
        "wasi:sockets/instance-network",
        "instance-network",
        Forbidden::Network,
    ),
    (
        "wasi:sockets/tcp-create-socket",
        "create-tcp-socket",
        Forbidden::Network,
    ),
    (
        "wasi:sockets/udp-create-socket",
        "create-udp-socket",
        Forbidden::Network,
    ),
    (
        "wasi:sockets/ip-name-lookup",
        "resolve-addresses",
        Forbidden::Network,
    ),
];

/// What `wasi:filesystem/preopens` `get-directories` returns: directories and their paths.
type Preopens = Vec<(Resource<Descriptor>, String)>;

/// Functions of `wasi:filesystem/types` that act on a descriptor; with no real
/// descriptors in a sandbox, every call is an attempt to use the file system.
const FILESYSTEM_METHODS: &[&str] = &[
    "read-via-stream",
    "write-via-stream",
    "append-via-stream",
    "advise",
    "sync-data",
    "get-flags",
    "get-type",
    "set-size",
    "set-times",
    "read",
    "write",
    "read-directory",
    "sync",
    "create-directory-at",
    "stat",
    "stat-at",
    "set-times-at",
    "link-at",
    "open-at",
    "readlink-at",
    "remove-directory-at",
    "rename-at",
    "symlink-at",
    "unlink-file-at",
    "is-same-object",
    "metadata-hash",
    "metadata-hash-at",
];

/// Replaces every WASI function behind a [`Forbidden`] attempt in `linker` (which must
/// already define WASI) with a trap.
pub fn shadow_forbidden<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow(linker);
    linker.allow_shadowing(false);
    result
}

fn shadow<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    for (interface, function, forbidden) in TRAPS {
        trap(&mut instance(linker, interface)?, function, *forbidden)?;
    }
    let mut filesystem = instance(linker, "wasi:filesystem/types")?;
    for method in FILESYSTEM_METHODS {
        let function = format!("[method]descriptor.{method}");
        trap(&mut filesystem, &function, Forbidden::Filesystem)?;
    }
    let root = pseudo_root()?;
    instance(linker, "wasi:filesystem/preopens")?.func_wrap(
        "get-directories",
        move |mut store: StoreContextMut<'_, T>, (): ()| -> wasmtime::Result<(Preopens,)> {
            let descriptor = store.data_mut().ctx().table.push(root.clone())?;
            Ok((vec![(descriptor, "/".to_owned())],))
        },
    )?;
    Ok(())
}

fn instance<'a, T: 'static>(
    linker: &'a mut Linker<T>,
    interface: &str,
) -> wasmtime::Result<LinkerInstance<'a, T>> {
    linker.instance(&format!("{interface}@{WASI_VERSION}"))
}

/// Defines `function` as a trap raising `forbidden`, whatever its signature.
fn trap<T: 'static>(
    instance: &mut LinkerInstance<'_, T>,
    function: &str,
    forbidden: Forbidden,
) -> wasmtime::Result<()> {
    instance.func_new(function, move |_, _, _, _| forbidden.trap())
}

/// The directory the guest sees at `/`: a descriptor over a handle to nothing (the read
/// end of a pipe whose write end is closed), read-only and opened for nothing. Every method on it
/// traps before wasmtime-wasi would use the handle, and if one were ever missed the
/// handle is neither a directory nor readable. One per sandbox, shared by every run
/// (cloning it shares the handle).
fn pseudo_root() -> wasmtime::Result<Descriptor> {
    let (reader, _writer) = std::io::pipe()?;
    #[cfg(unix)]
    let handle = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
    #[cfg(windows)]
    let handle = std::fs::File::from(std::os::windows::io::OwnedHandle::from(reader));
    Ok(Descriptor::Dir(Dir::new(
        handle,
        FsPerms::ReadOnly,
        OpenMode::empty(),
        false,
    )))
}

/// The guest's stdin: granted (the guest's `std` opens it on its first `println!`), but
/// reading it traps with [`Forbidden::Stdin`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ForbiddenStdin;

impl IsTerminal for ForbiddenStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for ForbiddenStdin {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        // Only WASIp3 guests read through this, and the sandbox links WASIp2 alone.
        Box::new(tokio::io::empty())
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(*self)
    }
}

#[async_trait::async_trait]
impl InputStream for ForbiddenStdin {
    fn read(&mut self, _size: usize) -> StreamResult<Bytes> {
        Err(StreamError::Trap(wasmtime::Error::new(Forbidden::Stdin)))
    }
}

#[async_trait::async_trait]
impl Pollable for ForbiddenStdin {
    /// Ready at once, so a blocking read gets to [`InputStream::read`] and its trap.
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_reads_trap_with_the_alternative() {
        let mut stdin = ForbiddenStdin.p2_stream();
        let Err(StreamError::Trap(error)) = stdin.read(10) else {
            panic!("reading stdin must trap");
        };
        assert_eq!(error.downcast_ref::<Forbidden>(), Some(&Forbidden::Stdin));
        assert!(error.to_string().contains("workflow input"), "{error}");
    }

    #[test]
    fn every_message_names_a_deterministic_alternative() {
        let all = [
            Forbidden::Environment,
            Forbidden::Arguments,
            Forbidden::Filesystem,
            Forbidden::Network,
            Forbidden::Sleep,
            Forbidden::Stdin,
            Forbidden::Blocking,
            Forbidden::Exit,
        ];
        for forbidden in all {
            let message = forbidden.to_string();
            assert!(message.starts_with("workflow code "), "{message}");
            assert!(
                [
                    "workflow input",
                    "activity",
                    "ctx.sleep",
                    "returning from `run`"
                ]
                .iter()
                .any(|alternative| message.contains(alternative)),
                "{message}"
            );
        }
    }

    #[test]
    fn the_pseudo_root_is_a_read_only_directory_opened_for_nothing() {
        let Descriptor::Dir(dir) = pseudo_root().expect("pseudo root") else {
            panic!("the pseudo root must be a directory descriptor");
        };
        assert_eq!(dir.perms, FsPerms::ReadOnly);
        assert_eq!(dir.open_mode, OpenMode::empty());
    }
}
