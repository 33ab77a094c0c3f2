//! Each hostile workflow against the sandbox alone, no server: the exact
//! [`ActivationError`] every attack ends in, each limit enforced at a value of the test's
//! choosing, and healthy runs unaffected in the same sandbox.
//!
//! `adversarial.rs` shows the same attacks through a real worker and server; this file
//! pins down the classification and the settings quickly.

use std::time::Duration;

use sandglass_host::SandboxLimits;
use sandglass_host::sandbox::bindings::guest;
use sandglass_host::sandbox::{ActivationError, Forbidden};
use sandglass_tests::sandbox::{json_argument, load, start_run};
use sandglass_tests::{component, test_component};

fn hostile() -> std::path::PathBuf {
    component("sandglass-hostile-workflows")
}

fn limits(change: impl FnOnce(&mut SandboxLimits)) -> SandboxLimits {
    let mut limits = SandboxLimits::default();
    change(&mut limits);
    limits
}

#[test]
fn each_way_out_of_the_sandbox_is_named() {
    let (sandbox, module) = load(&hostile(), SandboxLimits::default());
    let cases = [
        ("FileReadWorkflow", Forbidden::Filesystem),
        ("FileWriteWorkflow", Forbidden::Filesystem),
        ("EnvVarWorkflow", Forbidden::Environment),
        ("EnvVarsWorkflow", Forbidden::Environment),
        ("ArgsWorkflow", Forbidden::Arguments),
        ("TcpConnectWorkflow", Forbidden::Network),
        ("UdpBindWorkflow", Forbidden::Network),
        ("DnsLookupWorkflow", Forbidden::Network),
        ("ThreadSleepWorkflow", Forbidden::Sleep),
        ("StdinWorkflow", Forbidden::Stdin),
        ("ProcessExitWorkflow", Forbidden::Exit),
    ];
    for (workflow_type, expected) in cases {
        match start_run(&sandbox, &module, workflow_type, Vec::new(), 1) {
            Err(ActivationError::Forbidden { forbidden, .. }) => {
                assert_eq!(forbidden, expected, "{workflow_type}");
            }
            other => panic!("{workflow_type}: expected {expected:?}, got {other:?}"),
        }
    }
}

#[test]
fn panics_keep_their_message() {
    let (sandbox, module) = load(&hostile(), SandboxLimits::default());
    for (workflow_type, text) in [
        ("PanicInInitWorkflow", "panicked on purpose in init"),
        ("PanicInRunWorkflow", "the answer is not 42"),
    ] {
        match start_run(&sandbox, &module, workflow_type, Vec::new(), 1) {
            Err(ActivationError::Panicked { message, .. }) => {
                assert!(message.starts_with("panicked at "), "{message}");
                assert!(message.contains(text), "{message}");
            }
            other => panic!("{workflow_type}: expected a panic, got {other:?}"),
        }
    }
}

#[test]
fn the_memory_cap_is_enforced_and_named() {
    let cap = 8 << 20;
    let (sandbox, module) = load(&hostile(), limits(|l| l.max_memory_bytes = cap));
    match start_run(&sandbox, &module, "MemoryBombWorkflow", Vec::new(), 1) {
        Err(ActivationError::MemoryLimit {
            requested, limit, ..
        }) => {
            assert_eq!(limit, cap);
            assert!(requested > cap);
        }
        other => panic!("expected the memory cap, got {other:?}"),
    }
}

#[test]
fn the_wasm_stack_limit_is_enforced_and_named() {
    let stack = 64 << 10;
    let (sandbox, module) = load(&hostile(), limits(|l| l.max_wasm_stack = stack));
    let error = start_run(&sandbox, &module, "DeepRecursionWorkflow", Vec::new(), 1).unwrap_err();
    assert!(
        matches!(error, ActivationError::StackOverflow { limit, .. } if limit == stack),
        "{error:?}"
    );
    assert!(error.to_string().contains("64 KiB wasm stack"), "{error}");
}

#[test]
fn the_activation_deadline_is_enforced_and_named() {
    let deadline = Duration::from_millis(200);
    let (sandbox, module) = load(&hostile(), limits(|l| l.activation_deadline = deadline));
    let error = start_run(&sandbox, &module, "InfiniteLoopWorkflow", Vec::new(), 1).unwrap_err();
    assert!(
        matches!(error, ActivationError::DeadlineExceeded { limit, .. } if limit == deadline),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("200ms activation deadline"),
        "{error}"
    );
}

#[test]
fn oversized_payloads_are_refused_before_they_reach_temporal() {
    let (sandbox, module) = load(&hostile(), SandboxLimits::default());
    match start_run(&sandbox, &module, "HugeResultWorkflow", Vec::new(), 1) {
        Err(ActivationError::PayloadTooLarge {
            what, size, limit, ..
        }) => {
            assert_eq!(what, "the workflow result");
            assert_eq!(limit, 2 << 20);
            assert!(size > 10 << 20, "{size}");
        }
        other => panic!("expected an oversized payload, got {other:?}"),
    }
}

#[test]
fn healthy_runs_are_unaffected_by_hostile_ones_in_the_same_sandbox() {
    let (sandbox, hostile) = load(&hostile(), limits(|l| l.max_memory_bytes = 8 << 20));
    let healthy = sandglass_host::WorkflowModule::from_file(&sandbox, test_component())
        .expect("test component");
    for workflow_type in ["MemoryBombWorkflow", "EnvVarWorkflow", "PanicInRunWorkflow"] {
        start_run(&sandbox, &hostile, workflow_type, Vec::new(), 1).expect_err(workflow_type);
        // `println!`, `SystemTime`, `Instant` and `HashMap` all work in a healthy run: its
        // first activation prints and starts its timer.
        let millis = json_argument(&1000u64);
        let commands = start_run(
            &sandbox,
            &healthy,
            "StdDeterminismWorkflow",
            vec![millis],
            1,
        )
        .expect("a healthy run after a hostile one");
        assert!(
            matches!(commands.as_slice(), [guest::Command::StartTimer(_)]),
            "{commands:?}"
        );
    }
}
