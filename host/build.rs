//! Copies the Temporal API descriptor set that `temporalio-protos` compiled, so the
//! library can read histories in the proto3 JSON form the `temporal` CLI writes.

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
}
