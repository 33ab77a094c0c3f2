//! `sandglass new` makes an app outside the workspace that builds against this checkout
//! and greets through a real dev server, the way a newcomer would run it.
//!
//! The app builds into the workspace's target directory, so that it reuses the
//! dependencies `cargo xtask test` built instead of compiling wasmtime again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sandglass_host::testing::DevServer;

/// How long the starter may take: the worker builds the workflow component first.
const STARTER_TIMEOUT: Duration = Duration::from_secs(600);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace")
}

fn sandglass(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandglass"))
        .args(args)
        .output()
        .expect("run sandglass")
}

/// A process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_new_app_builds_and_greets() {
    let root = std::env::temp_dir().join(format!("sandglass-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let app = root.join("hello-app");
    let workspace = workspace();
    let target = workspace.join("target");

    let created = sandglass(&[
        "new".as_ref(),
        app.as_ref(),
        "--path".as_ref(),
        workspace.as_ref(),
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "workflows/src/lib.rs",
    ] {
        assert!(app.join(file).is_file(), "the app has no {file}");
    }
    let manifest = std::fs::read(app.join("Cargo.toml")).expect("Cargo.toml");
    std::fs::write(app.join("Cargo.toml"), b"# mine\n").expect("edit Cargo.toml");
    let again = sandglass(&["new".as_ref(), app.as_ref()]);
    assert!(!again.status.success(), "an existing app was written again");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read(app.join("Cargo.toml")).expect("Cargo.toml"),
        b"# mine\n",
        "the user's file was overwritten"
    );
    std::fs::write(app.join("Cargo.toml"), manifest).expect("restore Cargo.toml");
    let beside: Vec<_> = std::fs::read_dir(&root)
        .expect("read the temp dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(beside, ["hello-app"], "`new` left something beside the app");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(&cargo)
        .current_dir(&app)
        .args(["build", "--bins"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build");
    assert!(built.success(), "the new app does not build");

    let server = DevServer::start().expect("dev server");
    let worker_log = root.join("worker.log");
    let log = std::fs::File::create(&worker_log).expect("worker log");
    let _worker = Killed(
        Command::new(target.join("debug").join("worker"))
            .current_dir(&app)
            .env("TEMPORAL_ADDRESS", server.address())
            .env("CARGO_TARGET_DIR", &target)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the worker"),
    );
    let mut starter = Killed(
        Command::new(target.join("debug").join("starter"))
            .current_dir(&app)
            .env("TEMPORAL_ADDRESS", server.address())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the starter"),
    );
    let deadline = Instant::now() + STARTER_TIMEOUT;
    while starter.0.try_wait().expect("starter").is_none() {
        assert!(
            Instant::now() < deadline,
            "no result in {STARTER_TIMEOUT:?}; worker log:\n{}",
            std::fs::read_to_string(&worker_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut starter.0.stdout.take().expect("stdout"), &mut stdout)
        .expect("starter output");
    assert_eq!(stdout.trim(), "Result: Hello, my name!");
    let _ = std::fs::remove_dir_all(&root);
}
