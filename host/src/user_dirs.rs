//! Where Sandglass keeps files for the user running it: compiled code (a cache) and
//! activated modules (data), under the XDG base directories, each movable by a variable;
//! and how it writes them.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// `$<variable>` if set (`None` if it is `off`), else `$<xdg_variable>/sandglass/<leaf>`,
/// else `~/<home_fallback>/sandglass/<leaf>`; `None` if no home directory is known.
pub(crate) fn user_dir(
    variable: &str,
    xdg_variable: &str,
    home_fallback: &str,
    leaf: &str,
) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(variable) {
        return (dir != "off").then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os(xdg_variable)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(home_fallback)))?;
    Some(base.join("sandglass").join(leaf))
}

/// Who may enter the directories [`write_atomically`] creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirAccess {
    /// The user's default (`umask`).
    Default,
    /// This user only: for code the worker maps as executable.
    Private,
}

/// Writes `parts` one after another to `path`, through a new file beside it and a
/// rename, so that a reader never sees half a file and a crash never leaves one under
/// its real name. Creates the directory if it is missing.
pub(crate) fn write_atomically(
    path: &Path,
    parts: &[&[u8]],
    access: DirAccess,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the path has no directory"))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    if access == DirAccess::Private {
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let (temporary, mut file) = new_file_in(dir)?;
    let written = parts
        .iter()
        .try_for_each(|part| file.write_all(part))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// A new file in `dir`, named by process id, time and a counter (processes in
/// containers sharing a directory may all be pid 1); `create_new` refuses any clash.
fn new_file_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        ".tmp-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}
