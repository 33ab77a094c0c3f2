//! Compiled workflow code on disk, so that a restart, a second worker or a reload of a
//! module already seen skips Cranelift (hundreds of milliseconds per module) and only
//! maps the machine code back in.
//!
//! Entries live in `<dir>/<engine key>/<module digest>.cwasm`. The engine key combines
//! the wasmtime version and the engine's compatibility hash (target, tunables, the
//! features this host turns on), so code compiled under other settings is never
//! loaded. Each file starts with the SHA-256 of the rest: a truncated or corrupted
//! entry is detected, deleted and recompiled instead of being mapped.
//!
//! Loading an entry trusts the directory: wasmtime maps the bytes as executable code.
//! Keep it writable by the worker's user only (the default, under `~/.cache`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled modules are kept; see the module docs.
#[derive(Clone, Debug)]
pub struct CodeCache {
    dir: PathBuf,
}

/// The environment variable that moves the default cache directory (`off` disables it).
pub const CODE_CACHE_ENV: &str = "SANDGLASS_CODE_CACHE";

impl CodeCache {
    /// A cache in `dir`, created on first store.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$SANDGLASS_CODE_CACHE`, else `$XDG_CACHE_HOME/sandglass/code`, else
    /// `~/.cache/sandglass/code`; `None` if `$SANDGLASS_CODE_CACHE` is `off` or no home
    /// directory is known.
    pub fn default_location() -> Option<Self> {
        crate::user_dirs::user_dir(CODE_CACHE_ENV, "XDG_CACHE_HOME", ".cache", "code")
            .map(Self::new)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled component for `digest`, if a valid entry exists for this engine.
    pub fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.entry(engine, digest);
        let bytes = std::fs::read(&path).ok()?;
        let code = verified(&bytes);
        // SAFETY: the bytes were written by `store` for an engine with the same
        // compatibility key and are unchanged since (their checksum matches);
        // wasmtime checks the header and version again before mapping them.
        let loaded = code.map(|code| unsafe { Component::deserialize(engine, code) });
        match loaded {
            Some(Ok(component)) => Some(component),
            Some(Err(error)) => {
                tracing::warn!(path = %path.display(), %error, "unusable code cache entry; recompiling");
                let _ = std::fs::remove_file(&path);
                None
            }
            None => {
                tracing::warn!(path = %path.display(), "corrupt code cache entry; recompiling");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes `component`'s code for `digest`. Failures are logged, never fatal: the
    /// cache only saves time.
    pub fn store(&self, engine: &Engine, digest: &str, component: &Component) {
        let path = self.entry(engine, digest);
        if let Err(error) = write_entry(&path, component) {
            tracing::warn!(path = %path.display(), %error, "could not write the code cache entry");
        }
    }

    fn entry(&self, engine: &Engine, digest: &str) -> PathBuf {
        let file = digest.replace(':', "-");
        self.dir
            .join(engine_key(engine))
            .join(format!("{file}.cwasm"))
    }
}

/// `wasmtime-<exact version>-sandglass-<version>-<hash of the engine's settings>`:
/// wasmtime itself only checks the major version when loading code, and a patch
/// release (a Cranelift fix, say) must recompile.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "wasmtime-{}-sandglass-{}-{:016x}",
        env!("SANDGLASS_WASMTIME_VERSION"),
        env!("CARGO_PKG_VERSION"),
        hasher.finish()
    )
}

fn write_entry(path: &Path, component: &Component) -> anyhow::Result<()> {
    let code = component.serialize()?;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("entry path without a directory"))?;
    // Only this user may write code the worker will map as executable.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // Write aside and rename, so a reader never sees half a file.
    let (temp, mut file) = tempfile_in(dir)?;
    let written = file
        .write_all(&Sha256::digest(&code))
        .and_then(|()| file.write_all(&code))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    Ok(written?)
}

/// A new file in `dir`, named by process id, time and a counter (processes in
/// containers sharing a cache may all be pid 1); `create_new` refuses any clash.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
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

/// The code after the checksum, if the checksum matches.
fn verified(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < 32 {
        return None;
    }
    let (checksum, code) = bytes.split_at(32);
    (Sha256::digest(code).as_slice() == checksum).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_intact_entries_verify() {
        let code = b"machine code".to_vec();
        let mut entry = Sha256::digest(&code).to_vec();
        entry.extend_from_slice(&code);
        assert_eq!(verified(&entry), Some(&code[..]));
        let last = entry.len() - 1;
        entry[last] ^= 1;
        assert_eq!(verified(&entry), None);
        assert_eq!(verified(b"short"), None);
    }
}
