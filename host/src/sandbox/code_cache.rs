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
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::user_dirs::{DirAccess, write_atomically};

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
    let checksum = Sha256::digest(&code);
    // Only this user may write code the worker will map as executable.
    write_atomically(path, &[checksum.as_slice(), &code], DirAccess::Private)?;
    Ok(())
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
