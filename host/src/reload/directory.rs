//! The directory of workflow modules, watched by polling (portable, needs no inotify
//! limits, and a scan of unchanged files costs one `stat` each), and the reload task's
//! view of it: each file's stamp and the module it last loaded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::ReloadProblem;
use crate::sandbox::{ModuleError, Sandbox, WorkflowModule};

/// Each module file of the directory, as last read.
#[derive(Default)]
pub(crate) struct Files {
    by_path: BTreeMap<PathBuf, FileState>,
}

struct FileState {
    /// `None` until read (a module restored from the store for this path).
    stamp: Option<Stamp>,
    /// The last module this path loaded, and its bytes for the store.
    good: Option<(WorkflowModule, Arc<Vec<u8>>)>,
}

/// What a [rescan](Files::rescan) found.
pub(crate) struct Rescan {
    /// A file appeared, changed or went away.
    pub changed: bool,
    /// The files that did not load, and why.
    pub problems: Vec<ReloadProblem>,
}

impl Files {
    /// Stands `module`, restored from the store, in for its file until the file is
    /// read; it stays if the file turns out broken.
    pub fn restore(&mut self, module: WorkflowModule, bytes: Arc<Vec<u8>>) {
        self.by_path.insert(
            PathBuf::from(module.origin()),
            FileState {
                stamp: None,
                good: Some((module, bytes)),
            },
        );
    }

    /// Scans `dir` and loads the files that are new or changed (every file, if
    /// `reread`). A file that does not load keeps the module it loaded before.
    pub async fn rescan(
        &mut self,
        dir: &Path,
        sandbox: &Sandbox,
        reread: bool,
    ) -> Result<Rescan, ReloadProblem> {
        let scan_dir = dir.to_owned();
        let scanned = tokio::task::spawn_blocking(move || scan(&scan_dir))
            .await
            .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())))
            .map_err(|source| ReloadProblem::Directory {
                dir: dir.to_owned(),
                source,
            })?;
        let removed: Vec<PathBuf> = self
            .by_path
            .keys()
            .filter(|path| !scanned.contains_key(*path))
            .cloned()
            .collect();
        let changed: Vec<(PathBuf, Stamp)> = scanned
            .iter()
            .filter(|(path, stamp)| {
                reread || self.by_path.get(*path).and_then(|f| f.stamp) != Some(**stamp)
            })
            .map(|(path, stamp)| (path.clone(), *stamp))
            .collect();
        let mut rescan = Rescan {
            changed: !removed.is_empty() || !changed.is_empty(),
            problems: Vec::new(),
        };
        for path in removed {
            // A restored module whose file never existed here is no loss; say so only
            // for files this worker loaded.
            if self.by_path.remove(&path).and_then(|f| f.stamp).is_some() {
                tracing::info!(path = %path.display(), "workflow module removed");
            }
        }
        for (path, stamp) in changed {
            let previous_digest = self
                .by_path
                .get(&path)
                .and_then(|file| file.good.as_ref())
                .map(|(module, _)| module.digest().to_owned());
            let loaded = match tokio::fs::read(&path).await {
                Ok(bytes) => {
                    let bytes = Arc::new(bytes);
                    let origin = path.display().to_string();
                    WorkflowModule::load_bytes(sandbox, origin, bytes.clone())
                        .await
                        .map(|module| (module, bytes))
                }
                Err(source) => Err(ModuleError::Read {
                    path: path.clone(),
                    source,
                }),
            };
            let entry = self.by_path.entry(path.clone()).or_insert(FileState {
                stamp: None,
                good: None,
            });
            entry.stamp = Some(stamp);
            match loaded {
                Ok((module, bytes)) => {
                    if previous_digest.as_deref() != Some(module.digest()) {
                        tracing::info!(path = %path.display(), digest = module.digest(), workflow_types = ?module.workflow_types(), "workflow module loaded");
                    }
                    entry.good = Some((module, bytes));
                }
                Err(source) => {
                    let problem = ReloadProblem::BrokenModule { path, source };
                    tracing::error!(%problem, "workflow module rejected");
                    rescan.problems.push(problem);
                }
            }
        }
        Ok(rescan)
    }

    /// The modules the files loaded.
    pub fn modules(&self) -> Vec<WorkflowModule> {
        self.loaded().map(|(module, _)| module.clone()).collect()
    }

    /// The bytes of each module the files loaded, by digest.
    pub fn bytes_by_digest(&self) -> HashMap<String, Arc<Vec<u8>>> {
        self.loaded()
            .map(|(module, bytes)| (module.digest().to_owned(), bytes.clone()))
            .collect()
    }

    fn loaded(&self) -> impl Iterator<Item = &(WorkflowModule, Arc<Vec<u8>>)> {
        self.by_path.values().filter_map(|file| file.good.as_ref())
    }
}

/// What a file looked like when last read; a change in any part means read it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

/// The `*.wasm` files in `dir` (not its subdirectories) and their stamps. Hidden files
/// are skipped, so an editor's or copier's temporary file is never loaded half-written.
pub(crate) fn scan(dir: &Path) -> std::io::Result<BTreeMap<PathBuf, Stamp>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || path.extension().is_none_or(|ext| ext != "wasm") {
            continue;
        }
        // A file removed between listing and `stat` is simply not there.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        files.insert(
            path,
            Stamp {
                modified: metadata.modified().ok(),
                len: metadata.len(),
            },
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_visible_wasm_files_only() {
        let dir = std::env::temp_dir().join(format!("sandglass-scan-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("sub.wasm")).unwrap();
        for name in ["a.wasm", "b.txt", ".partial.wasm"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let files = scan(&dir).unwrap();
        let names: Vec<_> = files.keys().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["a.wasm"]);
        std::fs::write(dir.join("a.wasm"), b"longer").unwrap();
        assert_ne!(scan(&dir).unwrap().values().next(), files.values().next());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
