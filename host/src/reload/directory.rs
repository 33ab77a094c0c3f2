//! Watching a directory of workflow modules by polling: portable, needs no inotify
//! limits, and a scan of unchanged files costs one `stat` each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
