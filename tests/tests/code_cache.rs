//! The on-disk code cache: a module compiled once loads from disk afterwards, and a
//! damaged entry is recompiled rather than trusted.

use sandglass_host::sandbox::CodeCache;
use sandglass_host::sandbox::{Sandbox, WorkflowModule};
use sandglass_tests::greeting_component;

fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for engine_dir in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(engine_dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            files.push(entry.path());
        }
    }
    files
}

#[test]
fn a_compiled_module_is_reused_and_a_damaged_entry_is_recompiled() {
    let dir = std::env::temp_dir().join(format!("sandglass-code-cache-{}", uuid::Uuid::new_v4()));
    let cache = CodeCache::new(&dir);
    let sandbox =
        Sandbox::with_code_cache(Default::default(), Some(cache.clone())).expect("sandbox");

    let first = WorkflowModule::from_file(&sandbox, greeting_component()).expect("compile");
    let files = cache_files(&dir);
    assert_eq!(files.len(), 1, "one entry per module: {files:?}");
    let entry = &files[0];
    assert!(
        entry
            .display()
            .to_string()
            .contains(&first.digest().replace(':', "-")),
        "entries are named by the module digest: {}",
        entry.display()
    );
    assert!(cache.load(sandbox.engine(), first.digest()).is_some());

    let second = WorkflowModule::from_file(&sandbox, greeting_component()).expect("cached load");
    assert_eq!(second.digest(), first.digest());
    assert_eq!(second.workflow_types(), first.workflow_types());

    // Flip one byte of the stored code: the entry no longer verifies, is removed, and
    // the next load compiles and stores it again.
    let mut bytes = std::fs::read(entry).expect("read entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(entry, &bytes).expect("damage entry");
    assert!(cache.load(sandbox.engine(), first.digest()).is_none());
    assert!(!entry.exists(), "a damaged entry is deleted");
    let third = WorkflowModule::from_file(&sandbox, greeting_component()).expect("recompile");
    assert_eq!(third.workflow_types(), first.workflow_types());
    assert!(
        cache.load(sandbox.engine(), first.digest()).is_some(),
        "stored again"
    );

    let _ = std::fs::remove_dir_all(&dir);
}
