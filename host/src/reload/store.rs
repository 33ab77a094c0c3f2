//! The bytes of every activated module, by digest, and which modules make each
//! version, so that a worker can serve a version after its files are gone.
//!
//! Layout: `<dir>/modules/<hex digest>.wasm` and
//! `<dir>/versions/<deployment>/<build id>.json`. Files are written to a temporary name
//! and renamed, so a crash never leaves a half-written entry under its real name.

use std::path::{Path, PathBuf};

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::version::Version;

use crate::user_dirs::{DirAccess, write_atomically};

/// Where activated modules are kept; see the module docs.
#[derive(Clone, Debug)]
pub struct ModuleStore {
    dir: PathBuf,
}

/// The environment variable that moves the default store (`off` disables it).
pub const MODULE_STORE_ENV: &str = "SANDGLASS_MODULE_STORE";

/// The modules of one version, as recorded when it was activated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionManifest {
    pub build_id: String,
    /// `(origin, digest)` of each module.
    pub modules: Vec<(String, String)>,
}

impl ModuleStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$SANDGLASS_MODULE_STORE`, else `$XDG_DATA_HOME/sandglass/modules`, else
    /// `~/.local/share/sandglass/modules`; `None` if the variable is `off` or no home
    /// directory is known. Unlike the code cache this is not a cache: deleting it loses
    /// the code of versions whose files are gone.
    pub fn default_location() -> Option<Self> {
        crate::user_dirs::user_dir(MODULE_STORE_ENV, "XDG_DATA_HOME", ".local/share", "modules")
            .map(Self::new)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps `bytes` under `digest` (`sha256:<hex>`); a digest already stored is left.
    pub(crate) fn put_module(&self, digest: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.module_path(digest);
        if path.exists() {
            return Ok(());
        }
        write_atomically(&path, &[bytes], DirAccess::Default)
    }

    pub(crate) fn module(&self, digest: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.module_path(digest))
    }

    pub(crate) fn put_version(
        &self,
        deployment: &str,
        manifest: &VersionManifest,
    ) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
        write_atomically(
            &self.version_path(deployment, &manifest.build_id),
            &[&json],
            DirAccess::Default,
        )
    }

    /// Keeps `version`'s modules (those whose bytes are in `bytes_by_digest`) and its
    /// manifest, on a blocking thread.
    pub(crate) async fn keep(
        &self,
        deployment: &str,
        version: &Version,
        bytes_by_digest: &HashMap<String, Arc<Vec<u8>>>,
    ) -> std::io::Result<()> {
        let modules: Vec<(String, Arc<Vec<u8>>)> = version
            .modules()
            .iter()
            .filter_map(|m| {
                let bytes = bytes_by_digest.get(m.digest())?;
                Some((m.digest().to_owned(), bytes.clone()))
            })
            .collect();
        let manifest = VersionManifest {
            build_id: version.build_id().to_owned(),
            modules: version
                .modules()
                .iter()
                .map(|m| (m.origin().to_owned(), m.digest().to_owned()))
                .collect(),
        };
        let (store, deployment) = (self.clone(), deployment.to_owned());
        tokio::task::spawn_blocking(move || {
            for (digest, bytes) in &modules {
                store.put_module(digest, bytes)?;
            }
            store.put_version(&deployment, &manifest)
        })
        .await
        .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())))
    }

    /// The manifest of `build_id`, if this store activated it.
    pub(crate) fn version(&self, deployment: &str, build_id: &str) -> Option<VersionManifest> {
        let json = std::fs::read(self.version_path(deployment, build_id)).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Forgets a version no execution needs any more. Its modules stay: another
    /// version may share them, and they are small.
    pub(crate) fn remove_version(&self, deployment: &str, build_id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.version_path(deployment, build_id)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn module_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .join("modules")
            .join(format!("{}.wasm", file_safe(hex)))
    }

    fn version_path(&self, deployment: &str, build_id: &str) -> PathBuf {
        self.dir
            .join("versions")
            .join(file_safe(deployment))
            .join(format!("{}.json", file_safe(build_id)))
    }
}

/// `name` with anything but ASCII letters, digits, `-` and `_` escaped, so any
/// deployment name is one file name.
fn file_safe(name: &str) -> String {
    let mut safe = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            safe.push(char::from(byte));
        } else {
            safe.push_str(&format!("%{byte:02x}"));
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_modules_and_versions() {
        let dir = std::env::temp_dir().join(format!("sandglass-store-{}", uuid::Uuid::new_v4()));
        let store = ModuleStore::new(&dir);
        store.put_module("sha256:abc", b"bytes").unwrap();
        assert_eq!(store.module("sha256:abc").unwrap(), b"bytes");
        let manifest = VersionManifest {
            build_id: "v1".into(),
            modules: vec![("a.wasm".into(), "sha256:abc".into())],
        };
        store.put_version("my/deployment", &manifest).unwrap();
        let read = store.version("my/deployment", "v1").unwrap();
        assert_eq!(read.modules, manifest.modules);
        assert!(store.version("other", "v1").is_none());
        store.remove_version("my/deployment", "v1").unwrap();
        assert!(store.version("my/deployment", "v1").is_none());
        store.remove_version("my/deployment", "v1").unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn escapes_names() {
        assert_eq!(file_safe("tq-1_a"), "tq-1_a");
        assert_eq!(file_safe("a/../b"), "a%2f%2e%2e%2fb");
    }
}
