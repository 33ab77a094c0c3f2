//! The crates that build for `wasm32-wasip2`, in one place.
//!
//! Add a new workflow crate (an example's, or a test fixture) to [`COMPONENTS`]:
//! `cargo xtask test` then builds it before the tests that load its `.wasm`,
//! native `--workspace` builds leave it out, and `cargo xtask lint` runs clippy on
//! it for wasm.

use crate::ctx::Ctx;
use crate::error::Result;

pub const TARGET: &str = "wasm32-wasip2";

/// A workspace crate, by package name and directory (relative to the root).
#[derive(Clone, Copy, Debug)]
pub struct Crate {
    pub package: &'static str,
    pub dir: &'static str,
}

/// Workflow components: wasm-only crates (`cdylib`s built against the guest SDK).
/// They are excluded from native `--workspace` builds, which would otherwise try
/// to link them for the host.
pub const COMPONENTS: &[Crate] = &[
    GREETING,
    Crate {
        package: "activities-example-workflows",
        dir: "examples/activities/workflows",
    },
    Crate {
        package: "message-passing-workflows",
        dir: "examples/message_passing/workflows",
    },
    Crate {
        package: "saga-workflows",
        dir: "examples/saga/workflows",
    },
    Crate {
        package: "patching-workflows",
        dir: "examples/patching/workflows",
    },
    Crate {
        package: "child-workflows-workflows",
        dir: "examples/child_workflows/workflows",
    },
    Crate {
        package: "continue-as-new-workflows",
        dir: "examples/continue_as_new/workflows",
    },
    Crate {
        package: "timers-workflows",
        dir: "examples/timers_and_cancellation/workflows",
    },
    Crate {
        package: "hot-reload-workflows",
        dir: "examples/hot_reload/workflows",
    },
    Crate {
        package: "sandglass-test-workflows",
        dir: "tests/workflows",
    },
    Crate {
        package: "sandglass-hostile-workflows",
        dir: "tests/hostile-workflows",
    },
    Crate {
        package: "sandglass-wit-hostile-workflows",
        dir: "tests/wit-hostile-workflows",
    },
    Crate {
        package: "sandglass-reload-workflows",
        dir: "tests/reload-workflows",
    },
    BENCH,
];

/// The benchmark's own workflows (`ParkedWorkflow`, `ChainWorkflow`).
pub const BENCH: Crate = Crate {
    package: "sandglass-bench-workflows",
    dir: "bench/workflows",
};

/// The greeting example's workflow, which `cargo xtask demo` runs.
pub const GREETING: Crate = Crate {
    package: "greeting-workflows",
    dir: "examples/greeting/workflows",
};

/// Crates that build natively *and* for wasm: clippy checks them for wasm too,
/// because their `cfg(target_arch = "wasm32")` code is invisible to a native run.
pub const ALSO_WASM: &[Crate] = &[Crate {
    package: "sandglass",
    dir: "guest-sdk",
}];

/// The crates of `list` that exist in this checkout. Lint uses this so that it
/// works while an example is still being written; test and demo do not, because
/// they need every component.
pub fn present(ctx: &Ctx, list: &[Crate]) -> Vec<Crate> {
    list.iter()
        .copied()
        .filter(|krate| {
            let exists = ctx.root().join(krate.dir).join("Cargo.toml").is_file();
            if !exists {
                println!(
                    "note: skipping `{}`: {}/Cargo.toml does not exist",
                    krate.package, krate.dir
                );
            }
            exists
        })
        .collect()
}

/// `cargo build --release --target wasm32-wasip2 --package <component>`, once per
/// component, with exactly the arguments `sandglass_host::guest_build` uses when
/// tests and the demo worker build a component on demand. Same arguments, same
/// feature resolution, so those later builds find everything fresh. (One cargo
/// call for all components would unify their dependencies' features and produce
/// artifacts the per-crate builds cannot reuse.)
pub fn build_components(ctx: &Ctx, components: &[Crate]) -> Result<()> {
    for component in components {
        ctx.cargo()
            .args(["build", "--release", "--target", TARGET])
            .args(["--package", component.package])
            .run()?;
    }
    Ok(())
}

/// `--exclude <component>` for each component, for `cargo ... --workspace`.
pub fn exclude_args(components: &[Crate]) -> Vec<&'static str> {
    components
        .iter()
        .flat_map(|component| ["--exclude", component.package])
        .collect()
}
