//! Building a workflow crate into a component, for development tools and examples.
//!
//! Production workers load prebuilt `.wasm` files; during development it is handier
//! when `cargo run` of a worker builds its workflows first. Cargo answers quickly when
//! nothing changed, so calling this on every start is cheap.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target workflow components are built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// Why a workflow crate could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuestBuildError {
    #[error("could not run cargo ({0}); is the Rust toolchain on PATH?")]
    Spawn(#[source] std::io::Error),
    #[error(
        "building {package} for {GUEST_TARGET} failed (see cargo's output above); if the \
         target is missing, run `rustup target add {GUEST_TARGET}` or `cargo xtask setup`"
    )]
    Failed { package: String },
    #[error("cargo built {package} but reported no .wasm file; is it a `cdylib` crate?")]
    NoArtifact { package: String },
}

/// The component at the path in environment variable `prebuilt_env`, if set; otherwise
/// `package` built as [`build_workflow_crate`] does. How an example's worker finds its
/// workflows: `cargo run` builds them, a deployment points the variable at a file.
pub fn component_or_build(
    prebuilt_env: &str,
    dir: &Path,
    package: &str,
) -> Result<PathBuf, GuestBuildError> {
    match std::env::var_os(prebuilt_env) {
        Some(path) => Ok(PathBuf::from(path)),
        None => build_workflow_crate(dir, package),
    }
}

/// Builds `package` (a workflow crate of the workspace around `dir`) in release mode for
/// `wasm32-wasip2` and returns the path of the component.
///
/// Cargo's diagnostics go to this process's stderr.
pub fn build_workflow_crate(dir: &Path, package: &str) -> Result<PathBuf, GuestBuildError> {
    build_workflow_crate_with_features(dir, package, &[])
}

/// Like [`build_workflow_crate`], with cargo `features` of the package turned on. Builds
/// with different features write the same file: copy it before the next build.
pub fn build_workflow_crate_with_features(
    dir: &Path,
    package: &str,
    features: &[&str],
) -> Result<PathBuf, GuestBuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(dir).args([
        "build",
        "--release",
        "--target",
        GUEST_TARGET,
        "--package",
        package,
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(GuestBuildError::Spawn)?;
    if !output.status.success() {
        return Err(GuestBuildError::Failed {
            package: package.to_owned(),
        });
    }
    wasm_artifact(&output.stdout).ok_or_else(|| GuestBuildError::NoArtifact {
        package: package.to_owned(),
    })
}

/// Copies the component at `built` to `target` through a new file and a rename, so a
/// worker watching `target`'s directory never reads half a component.
pub fn install_component(built: &Path, target: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(built)?;
    crate::user_dirs::write_atomically(target, &[&bytes], crate::user_dirs::DirAccess::Default)
}

/// Finds the last `.wasm` file in cargo's JSON messages.
fn wasm_artifact(messages: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(PathBuf::from))
        .rfind(|path| path.extension().is_some_and(|ext| ext == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wasm_artifact_in_cargo_messages() {
        let messages = br#"{"reason":"compiler-artifact","filenames":["/t/libserde.rlib"]}
{"reason":"compiler-message","message":{}}
{"reason":"compiler-artifact","filenames":["/t/greeting_workflows.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            wasm_artifact(messages),
            Some(PathBuf::from("/t/greeting_workflows.wasm"))
        );
        assert_eq!(wasm_artifact(b"not json"), None);
    }
}
