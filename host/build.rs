//! Copies the Temporal API descriptor set that `temporalio-protos` compiled, so the
//! library can read histories in the proto3 JSON form the `temporal` CLI writes, and
//! records the exact wasmtime version for the code cache's key.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
    let Some(source) = std::env::var_os("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH") else {
        panic!(
            "temporalio-protos did not report its descriptor set (DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH)"
        );
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(&source, out.join("temporal_descriptors.bin"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", PathBuf::from(&source).display()));
    println!(
        "cargo:rustc-env=SANDGLASS_WASMTIME_VERSION={}",
        wasmtime_version()
    );
}

/// wasmtime's version from the workspace's `Cargo.lock`; patch releases can change the
/// machine code, so compiled code must not outlive one. "unknown" outside a workspace
/// with a lock file, which still separates this build from versioned ones.
fn wasmtime_version() -> String {
    let lock = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("..")
        .join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return "unknown".to_owned();
    };
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\""
            && let Some(version) = lines
                .next()
                .and_then(|next| next.strip_prefix("version = \""))
                .and_then(|rest| rest.strip_suffix('"'))
        {
            return version.to_owned();
        }
    }
    "unknown".to_owned()
}
