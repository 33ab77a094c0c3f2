//! Each hostile workflow against the sandbox alone, no server: the exact
//! [`ActivationError`] every attack ends in, each limit enforced at a value of the test's
//! choosing, and healthy runs unaffected in the same sandbox.
//!
//! `adversarial.rs` shows the same attacks through a real worker and server; this file
//! pins down the classification and the settings quickly.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandglass_host::MAX_FAILURE_CHAIN;
use sandglass_host::sandbox::SandboxLimits;
use sandglass_host::sandbox::{ActivationError, Forbidden};
use sandglass_host::wit::guest;
use sandglass_tests::sandbox::{activation, json_argument, load, start_instance, start_run};
use sandglass_tests::{component, test_component};

fn hostile() -> std::path::PathBuf {
    component("sandglass-hostile-workflows")
}

/// Attacks written against the WIT directly, with values no SDK would send.
fn wit_hostile() -> std::path::PathBuf {
    component("sandglass-wit-hostile-workflows")
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
    let healthy = sandglass_host::sandbox::WorkflowModule::from_file(&sandbox, test_component())
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

#[test]
fn failure_chains_are_cut_on_every_way_out_of_the_guest() {
    let (sandbox, module) = load(&wit_hostile(), SandboxLimits::default());
    match start_run(&sandbox, &module, "DeepFailureChainWorkflow", Vec::new(), 1) {
        Ok(commands) => match &commands[..] {
            [guest::Command::FailWorkflow(failure)] => {
                assert_eq!(failure.len(), MAX_FAILURE_CHAIN);
                assert!(
                    failure[MAX_FAILURE_CHAIN - 2]
                        .message
                        .starts_with("4969 more causes omitted: the failure chain was 5000 deep"),
                    "{:?}",
                    failure[MAX_FAILURE_CHAIN - 2]
                );
            }
            other => panic!("expected the workflow to fail, got {other:?}"),
        },
        Err(error) => panic!("a deep workflow failure must be cut, not refused: {error}"),
    }
    match start_run(&sandbox, &module, "DeepTaskFailureWorkflow", Vec::new(), 1) {
        Err(ActivationError::Guest { failure, .. }) => assert_eq!(failure.len(), MAX_FAILURE_CHAIN),
        other => panic!("expected the task to fail with a cut chain, got {other:?}"),
    }
}

#[test]
fn a_task_failure_is_bounded_whatever_the_guest_returns() {
    let (sandbox, module) = load(&wit_hostile(), SandboxLimits::default());
    let error = start_run(&sandbox, &module, "HugeTaskFailureWorkflow", Vec::new(), 1)
        .expect_err("the guest returns an error");
    let message = error.to_string();
    assert!(message.len() < 8 << 10, "{} bytes", message.len());
    assert!(
        message.contains("more bytes)"),
        "says what it cut: {}",
        &message[message.len() - 80..]
    );
}

#[test]
fn too_many_commands_are_refused_with_the_limit() {
    let (sandbox, module) = load(&hostile(), SandboxLimits::default());
    let (wit_sandbox, wit_module) = load(&wit_hostile(), SandboxLimits::default());
    for (sandbox, module, workflow_type) in [
        (&sandbox, &module, "ManyTimersWorkflow"),
        (&wit_sandbox, &wit_module, "TooManyCommandsWorkflow"),
    ] {
        let error = start_run(sandbox, module, workflow_type, Vec::new(), 1).unwrap_err();
        assert!(
            matches!(
                error,
                ActivationError::TooManyCommands {
                    count: 20_000,
                    limit: 10_000,
                    ..
                }
            ),
            "{workflow_type}: {error:?}"
        );
        assert!(error.to_string().contains("max_commands"), "{error}");
    }
}

#[test]
fn what_one_call_may_copy_out_of_the_guest_is_bounded() {
    let (sandbox, module) = load(&wit_hostile(), SandboxLimits::default());
    // 75,000 commands, and a 32 MiB log message: each more than one call may copy.
    for workflow_type in ["CommandFloodWorkflow", "HugeLogMessageWorkflow"] {
        let error = start_run(&sandbox, &module, workflow_type, Vec::new(), 1).unwrap_err();
        assert!(
            matches!(error, ActivationError::CopyLimit { .. }),
            "{workflow_type}: {error:?}"
        );
        assert!(
            error.to_string().contains("14.0 MiB out of the sandbox"),
            "{error}"
        );
    }
}

#[test]
fn commands_too_large_together_are_refused_before_temporal_would() {
    let (sandbox, module) = load(&wit_hostile(), SandboxLimits::default());
    let error = start_run(
        &sandbox,
        &module,
        "OversizedCommandsWorkflow",
        Vec::new(),
        1,
    )
    .unwrap_err();
    assert!(
        matches!(error, ActivationError::CommandsTooLarge { size, .. } if size > 4 << 20),
        "{error:?}"
    );
    assert!(error.to_string().contains("max_commands_bytes"), "{error}");
}

#[test]
fn an_oversized_query_answer_fails_the_query_not_the_run() {
    let (sandbox, module) = load(&wit_hostile(), SandboxLimits::default());
    let (mut instance, _) =
        start_instance(&sandbox, &module, "QueryAttackWorkflow", Vec::new(), 1).unwrap();
    let commands = instance
        .activate(activation(vec![guest::Job::Query(guest::Query {
            id: "q1".to_owned(),
            name: "huge".to_owned(),
            arguments: Vec::new(),
        })]))
        .expect("the run goes on");
    match &commands[..] {
        [
            guest::Command::RespondToQuery(guest::QueryResponse {
                id,
                outcome: Err(failure),
            }),
        ] => {
            assert_eq!(id, "q1");
            assert!(
                failure[0].message.contains("max_payload_bytes"),
                "{failure:?}"
            );
        }
        other => panic!("expected a failed query, got {other:?}"),
    }
}

/// Collects what the tracing events of one thread write.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_guest_log_is_capped_and_cannot_forge_worker_lines() {
    for (component, workflow_type) in [
        (hostile(), "LogFloodWorkflow"),
        (wit_hostile(), "WitLogFloodWorkflow"),
    ] {
        let (sandbox, module) = load(&component, SandboxLimits::default());
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let commands = tracing::subscriber::with_default(subscriber, || {
            start_run(&sandbox, &module, workflow_type, Vec::new(), 1)
        })
        .expect("logging a lot is allowed, only cut");
        assert!(
            matches!(commands[..], [guest::Command::CompleteWorkflow(_)]),
            "{commands:?}"
        );
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.len() < 80 << 10,
            "{} bytes of log from 64 MiB",
            log.len()
        );
        for line in log.lines() {
            let worker = line.find("sandglass_host::worker");
            let guest = line.find("INFO sandglass_host::workflow:");
            assert!(
                worker.is_none_or(|worker| guest.is_some_and(|guest| guest < worker)),
                "a line that passes for the worker's: {line}"
            );
        }
        assert!(
            log.contains("all is well\\n2026-12-06T12:00:00.000000Z ERROR sandglass_host::worker"),
            "the forgery stays, escaped, on the guest's own line: {}",
            &log[..log.len().min(600)]
        );
        assert!(
            log.contains("sandglass_host::workflow"),
            "tagged as the guest's"
        );
        assert!(log.contains("were cut or dropped"), "says what it dropped");
    }
}

#[test]
fn the_deadline_counts_a_runs_own_cpu_time_not_its_neighbours_load() {
    // The default deadline: its wall-clock backstop (10 s) leaves room for the load of
    // the rest of the suite.
    let deadline = Duration::from_secs(2);
    let (sandbox, healthy) = load(
        &test_component(),
        limits(|l| l.activation_deadline = deadline),
    );
    let hostile = sandglass_host::sandbox::WorkflowModule::from_file(&sandbox, hostile()).unwrap();
    // Enough work for about half the deadline when the run has a core to itself.
    let probe = 50_000_000u64;
    let started = Instant::now();
    start_run(
        &sandbox,
        &healthy,
        "BusyWorkflow",
        vec![json_argument(&probe)],
        1,
    )
    .unwrap();
    let alone = started.elapsed();
    let rounds = (probe as f64 * deadline.as_secs_f64() * 0.5 / alone.as_secs_f64()) as u64;

    // Three spinning runs per core share the CPU with the healthy one, which then needs
    // several times its CPU time on the wall clock.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners: Vec<_> = (0..3 * cores)
        .map(|i| {
            let (sandbox, hostile) = (sandbox.clone(), hostile.clone());
            std::thread::spawn(move || {
                start_run(
                    &sandbox,
                    &hostile,
                    "InfiniteLoopWorkflow",
                    Vec::new(),
                    i as u64,
                )
            })
        })
        .collect();
    let started = Instant::now();
    let outcome = start_run(
        &sandbox,
        &healthy,
        "BusyWorkflow",
        vec![json_argument(&rounds)],
        1,
    );
    let took = started.elapsed();
    assert!(
        outcome.is_ok(),
        "a run that needs {:?} of CPU failed beside {} spinning runs after {took:?}: {:?}",
        alone.mul_f64(rounds as f64 / probe as f64),
        3 * cores,
        outcome.unwrap_err().to_string()
    );
    println!("the healthy run took {took:?} on the wall clock for a {deadline:?} deadline");
    for spinner in spinners {
        match spinner.join().unwrap() {
            Err(ActivationError::DeadlineExceeded { .. }) => {}
            other => panic!("a spinning run must be stopped, got {other:?}"),
        }
    }
}

#[test]
fn the_worker_memory_budget_refuses_what_does_not_fit_and_names_it() {
    let (sandbox, module) = load(&hostile(), limits(|l| l.max_total_memory_bytes = 64 << 20));
    let hoard = || vec![json_argument(&40u32)];
    let (first, _) = start_instance(&sandbox, &module, "MemoryHoarderWorkflow", hoard(), 1)
        .expect("one hoard fits");
    match start_run(&sandbox, &module, "MemoryHoarderWorkflow", hoard(), 2) {
        Err(error @ ActivationError::WorkerMemoryBudget { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains("64.0 MiB its memory budget allows"),
                "{error}"
            );
        }
        other => panic!("expected the worker budget to refuse, got {other:?}"),
    }
    drop(first);
    assert!(sandbox.memory_budget().used() < 64 << 20);
    start_run(&sandbox, &module, "MemoryHoarderWorkflow", hoard(), 3)
        .expect("a dropped run gives its memory back");
}

#[test]
fn a_flood_of_signals_too_large_for_the_run_is_named_as_the_cause() {
    let (sandbox, module) = load(&hostile(), limits(|l| l.max_memory_bytes = 8 << 20));
    let (mut instance, _) =
        start_instance(&sandbox, &module, "PanicInQueryWorkflow", Vec::new(), 1).unwrap();
    let signal = |i: usize| {
        guest::Job::Signal(guest::Signal {
            name: format!("unhandled-{i}"),
            arguments: vec![json_argument(&"s".repeat(1 << 20))],
        })
    };
    let error = instance
        .activate(activation((0..10).map(signal).collect()))
        .expect_err("10 MiB of signals do not fit in 8 MiB");
    let message = error.to_string();
    assert!(
        matches!(error, ActivationError::MemoryLimit { .. }),
        "{message}"
    );
    assert!(
        message.contains("this activation alone brought in 10.0 MiB"),
        "{message}"
    );
}
