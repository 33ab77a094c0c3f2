//! `cargo xtask bench`: the benchmark of `BENCHMARKS.md`. Builds the Sandglass bench
//! binaries and the peers' separate workspace (`bench/peers`, which holds the official
//! Rust SDK) in release mode, then runs `sandglass-bench`, which starts its own dev
//! server and measures the Python SDK, the Rust SDK and Sandglass on the same loads.

use crate::ctx::Ctx;
use crate::error::Result;
use crate::setup::{self, Need};
use crate::wasm;

pub fn run(ctx: &mut Ctx, rest: &[String]) -> Result<()> {
    setup::run(
        ctx,
        &[
            Need::WasmTarget,
            Need::Protoc,
            Need::TemporalCli,
            Need::PythonSdk,
        ],
    )?;
    wasm::build_components(ctx, &[wasm::GREETING, wasm::BENCH])?;
    ctx.cargo()
        .args(["build", "--release", "--package", "sandglass-bench"])
        .run()?;
    let peers = ctx.root().join("bench").join("peers");
    ctx.cargo()
        .args(["build", "--release", "--manifest-path"])
        .arg(peers.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(peers.join("target"))
        .run()?;

    let components = ctx.target_dir().join(wasm::TARGET).join("release");
    let mut bench = ctx.cmd(ctx.target_dir().join("release").join("sandglass-bench"));
    bench
        .arg("--greeting-component")
        .arg(components.join("greeting_workflows.wasm"))
        .arg("--bench-component")
        .arg(components.join("sandglass_bench_workflows.wasm"))
        .arg("--python-dir")
        .arg(peers.join("python"))
        .arg("--rust-sdk-dir")
        .arg(peers.join("target").join("release"))
        .arg("--out")
        .arg(ctx.target_dir().join("bench").join("results.json"))
        .args(rest);
    bench.run()
}

/// `cargo xtask bench-reload`: builds the example components and the reload fixture
/// (in two versions), then runs `sandglass-bench-reload` on them.
pub fn run_reload(ctx: &mut Ctx, rest: &[String]) -> Result<()> {
    setup::run(ctx, &[Need::WasmTarget, Need::Protoc, Need::TemporalCli])?;
    let examples: Vec<wasm::Crate> = wasm::COMPONENTS
        .iter()
        .copied()
        .filter(|component| component.dir.starts_with("examples/"))
        .collect();
    wasm::build_components(ctx, &examples)?;
    ctx.cargo()
        .args(["build", "--release", "--package", "sandglass-bench"])
        .run()?;
    let components = ctx.target_dir().join(wasm::TARGET).join("release");
    let variants = ctx.target_dir().join("bench").join("reload-fixture");
    std::fs::create_dir_all(&variants).map_err(|error| {
        crate::error::Error::msg(format!("creating {}: {error}", variants.display()))
    })?;
    for (features, name) in [(None, "v1.wasm"), (Some("v2"), "v2.wasm")] {
        let mut build = ctx.cargo();
        build.args([
            "build",
            "--release",
            "--target",
            wasm::TARGET,
            "--package",
            "sandglass-reload-workflows",
        ]);
        if let Some(features) = features {
            build.args(["--features", features]);
        }
        build.run()?;
        std::fs::copy(
            components.join("sandglass_reload_workflows.wasm"),
            variants.join(name),
        )
        .map_err(|error| {
            crate::error::Error::msg(format!("copying the reload fixture: {error}"))
        })?;
    }

    let mut bench = ctx.cmd(
        ctx.target_dir()
            .join("release")
            .join("sandglass-bench-reload"),
    );
    for component in &examples {
        bench
            .arg("--component")
            .arg(components.join(format!("{}.wasm", component.package.replace('-', "_"))));
    }
    bench
        .arg("--fixture-v1")
        .arg(variants.join("v1.wasm"))
        .arg("--fixture-v2")
        .arg(variants.join("v2.wasm"))
        .args(rest);
    bench.run()
}
