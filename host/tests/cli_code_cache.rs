//! `sandglass inspect` and `sandglass replay` compile a module once and map it back in
//! afterwards, through the same code cache a worker uses, instead of running Cranelift
//! on every call.
//!
//! Lives in the host package so the test can run the `sandglass` binary cargo built.

use std::path::{Path, PathBuf};
use std::process::Command;

fn greeting_component() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    sandglass_host::guest_build::build_workflow_crate(&workspace, "greeting-workflows")
        .unwrap_or_else(|e| panic!("building the greeting workflows: {e}"))
}

/// The compiled modules in the cache (one directory per engine, one file per module),
/// with when each was written.
fn entries(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|engine| {
            std::fs::read_dir(engine.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|file| {
            let written = file.metadata().and_then(|m| m.modified()).expect("mtime");
            (file.path(), written)
        })
        .collect()
}

#[test]
fn inspect_fills_the_code_cache_and_reuses_it() {
    let module = greeting_component();
    let cache = std::env::temp_dir().join(format!("sandglass-cli-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let inspect = || {
        let output = Command::new(env!("CARGO_BIN_EXE_sandglass"))
            .arg("inspect")
            .arg(&module)
            .env("SANDGLASS_CODE_CACHE", &cache)
            .output()
            .expect("run sandglass inspect");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let first = inspect();
    assert!(first.contains("GreetingWorkflow"), "{first}");
    let cached = entries(&cache);
    assert_eq!(cached.len(), 1, "the compiled module is cached");
    assert_eq!(inspect(), first, "the cached module describes the same");
    assert_eq!(
        entries(&cache),
        cached,
        "and is read, not compiled and written again"
    );
    let _ = std::fs::remove_dir_all(&cache);
}
