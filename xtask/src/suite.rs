//! `cargo xtask test`: everything CI checks, from a fresh clone.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::setup::{self, Need};
use crate::wasm;

/// Installs what is missing, builds the workflow components the tests load, and
/// runs `cargo test` on the native workspace. `extra` goes to `cargo test`
/// verbatim, so `cargo xtask test -p sandglass-host -- --nocapture` works like
/// `cargo test` would. Prints a summary whether or not a step failed.
pub fn run(ctx: &mut Ctx, extra: &[String]) -> Result<()> {
    let mut summary = Summary::default();
    let result = steps(ctx, extra, &mut summary);
    summary.print(&result);
    result
}

fn steps(ctx: &mut Ctx, extra: &[String], summary: &mut Summary) -> Result<()> {
    summary.step("setup", || {
        setup::run(ctx, Need::ALL).map(|()| String::new())
    })?;
    summary.step("build wasm components", || {
        wasm::build_components(ctx, wasm::COMPONENTS).map(|()| String::new())
    })?;
    summary.step("cargo test", || cargo_test(ctx, extra))
}

fn cargo_test(ctx: &Ctx, extra: &[String]) -> Result<String> {
    let mut cargo = ctx.cargo();
    cargo.arg("test");
    if !selects_packages(extra) {
        // `--workspace` ignores `default-members`, so the wasm-only crates are
        // excluded by name; they were built for wasm in the previous step.
        cargo.arg("--workspace");
        cargo.args(wasm::exclude_args(&wasm::present(ctx, wasm::COMPONENTS)));
    }
    if !cargo_flags(extra).any(|arg| arg == "--no-fail-fast") {
        // Keep going after a failing test binary: one CI run (15 minutes of
        // compiling before the first test) should report every failure.
        cargo.arg("--no-fail-fast");
    }
    cargo.args(extra);
    println!("$ {}", cargo.shown());

    // Tee stdout: the developer sees libtest's output as usual and we count the
    // "test result:" lines for the summary. Cargo's own messages use stderr.
    cargo
        .command_mut()
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = cargo.spawn()?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let tee = thread::spawn(move || {
        let mut counts = Counts::default();
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            counts.add_line(&line);
            let _ = writeln!(out, "{line}");
        }
        counts
    });
    let status = cmd::wait_for_exit(&mut child)?;
    let counts = tee.join().unwrap_or_default();
    if status.success() {
        Ok(counts.to_string())
    } else {
        Err(Error::msg(format!(
            "`cargo test` failed ({status}); {counts}"
        )))
    }
}

/// Whether the user picked packages (`-p`), in which case adding `--workspace`
/// would override their choice.
fn selects_packages(args: &[String]) -> bool {
    cargo_flags(args).any(|arg| arg.starts_with("-p") || arg.starts_with("--package"))
}

/// The arguments meant for cargo itself: those before `--` (the rest go to libtest).
fn cargo_flags(args: &[String]) -> impl Iterator<Item = &str> {
    args.iter()
        .map(String::as_str)
        .take_while(|arg| *arg != "--")
}

/// libtest's "test result:" lines, summed over all test binaries.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    binaries: u32,
    passed: u32,
    failed: u32,
    ignored: u32,
}

impl Counts {
    /// Reads `test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; ...`.
    fn add_line(&mut self, line: &str) {
        let Some((_, rest)) = line.split_once("test result: ") else {
            return;
        };
        self.binaries += 1;
        let rest = rest.split_once(". ").map_or(rest, |(_, counts)| counts);
        for part in rest.split("; ") {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let binaries = if self.binaries == 1 {
            "binary"
        } else {
            "binaries"
        };
        write!(
            f,
            "{} passed, {} failed, {} ignored in {} test {binaries}",
            self.passed, self.failed, self.ignored, self.binaries
        )
    }
}

/// One line per step: outcome, time, and a note.
#[derive(Debug, Default)]
struct Summary {
    rows: Vec<(String, bool, Duration, String)>,
}

impl Summary {
    fn step(&mut self, name: &str, f: impl FnOnce() -> Result<String>) -> Result<()> {
        let start = Instant::now();
        let result = f();
        let note = match &result {
            Ok(note) => note.clone(),
            Err(err) => err.to_string(),
        };
        self.rows
            .push((name.to_string(), result.is_ok(), start.elapsed(), note));
        result.map(|_| ())
    }

    fn print(&self, result: &Result<()>) {
        println!("\n== cargo xtask test: summary");
        for (name, ok, took, note) in &self.rows {
            let outcome = if *ok { "ok  " } else { "FAIL" };
            let secs = took.as_secs_f64();
            println!("  {outcome} {name:<24} {secs:>7.1}s  {note}");
        }
        let verdict = match result {
            Ok(()) => "all steps passed",
            Err(err) if err.is_interrupted() => "interrupted",
            Err(_) => "FAILED (the error follows)",
        };
        println!("  => {verdict}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_libtest_result_lines() {
        let mut counts = Counts::default();
        counts.add_line("test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        counts.add_line("running 3 tests");
        counts.add_line("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s");
        assert_eq!(
            counts,
            Counts {
                binaries: 2,
                passed: 7,
                failed: 1,
                ignored: 1
            }
        );
    }

    #[test]
    fn package_selection_is_detected_before_the_separator_only() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(selects_packages(&args(&["-p", "sandglass-host"])));
        assert!(selects_packages(&args(&["--package=sandglass"])));
        assert!(selects_packages(&args(&["-psandglass"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&["--release"])));
    }
}
