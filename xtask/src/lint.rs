//! `cargo xtask lint`: formatting, clippy (native and wasm) and the public crates' docs.

use crate::cmd::Cmd;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::setup::{self, Need};
use crate::wasm;

/// Runs every check even after one fails, so one run shows all problems.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    // Clippy compiles the host's dependencies (protoc) and the guest for wasm.
    setup::run(ctx, &[Need::WasmTarget, Need::Protoc])?;

    let mut checks: Vec<Cmd> = Vec::new();

    let mut fmt = ctx.cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    checks.push(fmt);

    let components = wasm::present(ctx, wasm::COMPONENTS);
    let mut native = ctx.cargo();
    native.args(["clippy", "--workspace", "--all-targets"]);
    native.args(wasm::exclude_args(&components));
    native.args(["--", "-D", "warnings"]);
    checks.push(native);

    let for_wasm: Vec<_> = components
        .iter()
        .chain(&wasm::present(ctx, wasm::ALSO_WASM))
        .map(|krate| krate.package)
        .collect();
    if !for_wasm.is_empty() {
        let mut guest = ctx.cargo();
        guest.args(["clippy", "--target", wasm::TARGET]);
        for package in for_wasm {
            guest.args(["-p", package]);
        }
        guest.args(["--", "-D", "warnings"]);
        checks.push(guest);
    }

    // The libraries' docs are their users' manual: a broken intra-doc link is a bug.
    let mut docs = ctx.cargo();
    docs.args(["doc", "--no-deps", "--lib"]);
    docs.args([
        "-p",
        "sandglass-host",
        "-p",
        "sandglass-declare",
        "-p",
        "sandglass",
    ]);
    docs.env("RUSTDOCFLAGS", "-D warnings");
    checks.push(docs);

    let mut failed = Vec::new();
    for mut check in checks {
        if let Err(err) = check.run() {
            if err.is_interrupted() {
                return Err(err);
            }
            eprintln!("{}", err.report());
            failed.push(check.shown().to_string());
        }
    }
    if failed.is_empty() {
        println!("[lint] all checks passed");
        Ok(())
    } else {
        Err(
            Error::msg(format!("lint failed: {}", failed.join(", "))).fix(
                "`cargo fmt --all` fixes formatting; if cargo says `no such command`, \
             run `rustup component add rustfmt clippy`",
            ),
        )
    }
}
