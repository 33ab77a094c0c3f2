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
