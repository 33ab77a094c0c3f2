//! Why an activation failed, told so that the workflow's author can act on it.
//!
//! Text that comes from the guest (its stderr, its panic message, its own failure) has
//! its control characters escaped here, so that every message built from it stays one
//! line wherever it is logged.
//!
//! A trap from wasmtime says *what* the machine did (`unreachable` executed, stack
//! exhausted); the author needs to know *why* and what to change. [`classify_trap`] reads
//! the trap together with what the host saw around it (a refused memory growth, the
//! guest's stderr, a [`Forbidden`] call) and picks the variant whose message says that.

use std::time::Duration;

use wasmtime::Trap;

use super::deadline::Overrun;
use super::forbidden::Forbidden;
use super::guest_log::escape_controls;
use super::limiter::MemoryRefusal;
use crate::wit::types;

/// Why an activation did not produce commands. Every variant fails the workflow task
/// (Temporal retries it later) and ends the instance; the worker carries on.
///
/// Messages start with the workflow type and run id, then say what happened and what to
/// do about it; they are what Temporal records in the run's history.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// The activation used its CPU budget, or ran past the wall-clock backstop.
    #[error(
        "workflow {workflow_type} (run {run_id}) {} without yielding, past its {limit:?} \
         activation deadline; workflow code must not loop or compute for long (move heavy \
         work into an activity), or raise the worker's activation deadline \
         (`SandboxLimits::activation_deadline`)",
        overrun_text(*.overrun, *.limit)
    )]
    DeadlineExceeded {
        workflow_type: String,
        run_id: String,
        limit: Duration,
        overrun: Overrun,
    },
    /// The guest tried to reach outside the sandbox (environment, files, network, stdin,
    /// a sleeping or blocking call).
    #[error("workflow {workflow_type} (run {run_id}) was stopped: {forbidden}")]
    Forbidden {
        workflow_type: String,
        run_id: String,
        forbidden: Forbidden,
    },
    #[error(
        "workflow {workflow_type} (run {run_id}) ran out of memory: it tried to grow its \
         memory to {} but the sandbox allows {} per run{}; keep workflow state small (hand \
         large data to activities and keep a reference), or raise the worker's \
         `SandboxLimits::max_memory_bytes`",
        mebibytes(.requested),
        mebibytes(.limit),
        incoming_text(*.incoming, *.limit)
    )]
    MemoryLimit {
        workflow_type: String,
        run_id: String,
        requested: usize,
        limit: usize,
        /// Payload bytes the activation brought in (signals, updates, results): when they
        /// are a good part of the cap, they are why it ran out, and the message says so.
        incoming: usize,
    },
    #[error(
        "workflow {workflow_type} (run {run_id}) overflowed its stack: recursion deeper \
         than the sandbox's {} KiB wasm stack; make the recursion iterative, or raise the \
         worker's `SandboxLimits::max_wasm_stack`",
        .limit / 1024
    )]
    StackOverflow {
        workflow_type: String,
        run_id: String,
        limit: usize,
    },
    /// The worker's runs together hold its whole memory budget, and evicting the idle
    /// ones did not make room.
    #[error(
        "workflow {workflow_type} (run {run_id}) could not get {} more memory: the worker's \
         runs hold {} of the {} its memory budget allows, and no idle run was left to \
         evict; Temporal retries the task (on this or another worker); run more workers, \
         cache fewer runs, or raise `SandboxLimits::max_total_memory_bytes`",
        mebibytes(.requested),
        mebibytes(.in_use),
        mebibytes(.limit)
    )]
    WorkerMemoryBudget {
        workflow_type: String,
        run_id: String,
        requested: usize,
        in_use: usize,
        limit: usize,
    },
    /// A command carried more than [`SandboxLimits::max_payload_bytes`](super::SandboxLimits).
    #[error(
        "workflow {workflow_type} (run {run_id}) produced {what} of {}, more than the {} \
         Temporal accepts in one payload; keep large data out of workflow results and \
         activity inputs (store it from an activity and pass a reference), or raise the \
         server's blob size limit and the worker's `SandboxLimits::max_payload_bytes`",
        mebibytes(.size),
        mebibytes(.limit)
    )]
    PayloadTooLarge {
        workflow_type: String,
        run_id: String,
        what: String,
        size: usize,
        limit: usize,
    },
    /// An activation returned more commands than [`SandboxLimits::max_commands`](super::SandboxLimits).
    #[error(
        "workflow {workflow_type} (run {run_id}) produced {count} commands in one activation, \
         more than the {limit} the sandbox allows; start fewer activities, timers or children \
         at once (await some before starting more), or raise `SandboxLimits::max_commands`"
    )]
    TooManyCommands {
        workflow_type: String,
        run_id: String,
        count: usize,
        limit: usize,
    },
    /// An activation's commands carried more than
    /// [`SandboxLimits::max_commands_bytes`](super::SandboxLimits) together.
    #[error(
        "workflow {workflow_type} (run {run_id}) produced {} of commands in one activation, \
         more than the {} the sandbox allows (Temporal refuses a task completion over 4 MiB); \
         pass references to large data instead of the data, start fewer commands at once, \
         or raise `SandboxLimits::max_commands_bytes`",
        mebibytes(.size),
        mebibytes(.limit)
    )]
    CommandsTooLarge {
        workflow_type: String,
        run_id: String,
        size: usize,
        limit: usize,
    },
    /// The guest tried to copy more into the host in one call (its commands, a log
    /// message) than the sandbox lets one call copy.
    #[error(
        "workflow {workflow_type} (run {run_id}) tried to copy more than {} out of the \
         sandbox in one call (its commands or a log message); keep workflow output small, \
         or raise `SandboxLimits::max_commands_bytes`",
        mebibytes(.limit)
    )]
    CopyLimit {
        workflow_type: String,
        run_id: String,
        limit: usize,
    },
    /// The guest panicked; `message` is Rust's panic message from its stderr.
    #[error(
        "workflow {workflow_type} (run {run_id}) {message}; a panic fails the workflow task \
         and Temporal retries it until fixed code is deployed (return an error from `run` \
         to fail the workflow instead)"
    )]
    Panicked {
        workflow_type: String,
        run_id: String,
        message: String,
    },
    #[error("workflow {workflow_type} (run {run_id}) trapped: {message}{}", stderr_suffix(.stderr))]
    Trap {
        workflow_type: String,
        run_id: String,
        message: String,
        /// What the guest wrote to stderr in the failing activation.
        stderr: String,
    },
    #[error("workflow {workflow_type} (run {run_id}) could not start: {source:#}")]
    Instantiate {
        workflow_type: String,
        run_id: String,
        #[source]
        source: anyhow::Error,
    },
    /// The guest SDK refused the activation (an input that does not decode, an unknown
    /// workflow type) and explained why.
    #[error("workflow {workflow_type} (run {run_id}) failed its task: {}", guest_message(.failure))]
    Guest {
        workflow_type: String,
        run_id: String,
        failure: types::Failure,
    },
}

/// What the host knew when a guest call failed with `error`.
pub struct TrapContext<'a> {
    pub workflow_type: &'a str,
    pub run_id: &'a str,
    pub deadline: Duration,
    pub max_wasm_stack: usize,
    /// What one call may copy out of the guest (hostcall fuel).
    pub max_copy_bytes: usize,
    /// Payload bytes the activation brought into the guest.
    pub incoming: usize,
    /// Which clock stopped the activation, if the deadline did.
    pub overrun: Option<Overrun>,
    /// A memory growth refused during the activation.
    pub refused: Option<MemoryRefusal>,
    /// The guest's stderr from the activation.
    pub stderr: &'a [u8],
}

/// Picks the [`ActivationError`] that explains `error`, most specific cause first.
pub fn classify_trap(error: &wasmtime::Error, context: TrapContext<'_>) -> ActivationError {
    let workflow_type = context.workflow_type.to_owned();
    let run_id = context.run_id.to_owned();
    let trap = error.downcast_ref::<Trap>();
    if let Some(Trap::Interrupt) = trap {
        return ActivationError::DeadlineExceeded {
            workflow_type,
            run_id,
            limit: context.deadline,
            overrun: context.overrun.unwrap_or(Overrun::Cpu),
        };
    }
    // A refused growth explains whatever the guest did next: usually an abort, whose
    // message Rust's std prints after reading `RUST_BACKTRACE` (a forbidden call).
    match context.refused {
        Some(MemoryRefusal::RunCap { requested, limit }) => {
            return ActivationError::MemoryLimit {
                workflow_type,
                run_id,
                requested,
                limit,
                incoming: context.incoming,
            };
        }
        Some(MemoryRefusal::WorkerBudget {
            requested,
            in_use,
            limit,
        }) => {
            return ActivationError::WorkerMemoryBudget {
                workflow_type,
                run_id,
                requested,
                in_use,
                limit,
            };
        }
        None => {}
    }
    if is_copy_limit(error) {
        return ActivationError::CopyLimit {
            workflow_type,
            run_id,
            limit: context.max_copy_bytes,
        };
    }
    if let Some(forbidden) = error.downcast_ref::<Forbidden>() {
        return ActivationError::Forbidden {
            workflow_type,
            run_id,
            forbidden: *forbidden,
        };
    }
    if let Some(Trap::StackOverflow) = trap {
        return ActivationError::StackOverflow {
            workflow_type,
            run_id,
            limit: context.max_wasm_stack,
        };
    }
    let stderr = String::from_utf8_lossy(context.stderr);
    if let Some(message) = panic_message(&stderr) {
        let message = escape_controls(&message).into_owned();
        return ActivationError::Panicked {
            workflow_type,
            run_id,
            message,
        };
    }
    let message = match trap {
        Some(Trap::MemoryOutOfBounds) => format!(
            "{}: a wild pointer, or recursion deeper than the guest's own stack in linear \
             memory (1 MiB for Rust guests, set with `-C link-arg=-zstack-size=...`)",
            Trap::MemoryOutOfBounds
        ),
        Some(trap) => trap.to_string(),
        // A host function failed; the wasm backtrace wasmtime attaches is for the log.
        None => error.root_cause().to_string(),
    };
    ActivationError::Trap {
        workflow_type,
        run_id,
        message: escape_controls(&message).into_owned(),
        stderr: escape_controls(stderr.trim()).into_owned(),
    }
}

/// Whether wasmtime refused to copy more out of the guest than its hostcall fuel allows.
/// Its error type is private, so its message is what identifies it.
fn is_copy_limit(error: &wasmtime::Error) -> bool {
    // The root cause only: the context above it (a backtrace) holds names the guest chose.
    error
        .root_cause()
        .to_string()
        .contains("fuel allocated for hostcalls has been exhausted")
}

/// Rust's panic message from a guest's stderr: the `panicked at FILE:LINE:COL:` line
/// and the message after it, on one line, without the hint about `RUST_BACKTRACE`.
fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let message = stderr[start..]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(message)
}

fn incoming_text(incoming: usize, limit: usize) -> String {
    if incoming < limit / 4 {
        return String::new();
    }
    format!(
        ", and this activation alone brought in {} of signals, updates and results (sent by \
         others, and redelivered on every retry until the cap is raised)",
        mebibytes(&incoming)
    )
}

fn overrun_text(overrun: Overrun, limit: Duration) -> String {
    match overrun {
        Overrun::Cpu => format!("computed for {limit:?} of CPU time"),
        Overrun::WallClock { limit: wall } => format!(
            "ran for {wall:?} on the wall clock (short of CPU while the worker was busy; the \
             workflow task would soon time out)"
        ),
    }
}

fn mebibytes(bytes: &usize) -> String {
    // Precision is irrelevant here; the cast only loses bits past 2^53 bytes.
    format!("{:.1} MiB", *bytes as f64 / f64::from(1 << 20))
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; guest stderr: {stderr}")
    }
}

fn guest_message(failure: &types::Failure) -> String {
    failure
        .iter()
        .map(|frame| escape_controls(&frame.message))
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(refused: Option<MemoryRefusal>, stderr: &[u8]) -> TrapContext<'_> {
        TrapContext {
            workflow_type: "W",
            run_id: "r1",
            deadline: Duration::from_secs(2),
            max_wasm_stack: 512 << 10,
            max_copy_bytes: 14 << 20,
            incoming: 0,
            overrun: None,
            refused,
            stderr,
        }
    }

    fn trap(trap: Trap) -> wasmtime::Error {
        wasmtime::Error::new(trap).context("wasm backtrace: 0: 0x1 - guest!f")
    }

    #[test]
    fn forbidden_calls_are_named_even_under_a_backtrace() {
        let error = wasmtime::Error::new(Forbidden::Environment).context("wasm backtrace: ...");
        let message = classify_trap(&error, context(None, b"")).to_string();
        assert!(
            message.starts_with("workflow W (run r1) was stopped: workflow code read environment"),
            "{message}"
        );
        assert!(!message.contains("backtrace"), "{message}");
    }

    #[test]
    fn an_interrupt_is_the_deadline() {
        let error = classify_trap(&trap(Trap::Interrupt), context(None, b""));
        assert!(
            matches!(error, ActivationError::DeadlineExceeded { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("2s activation deadline"),
            "{error}"
        );
    }

    #[test]
    fn a_starved_run_is_told_it_was_the_wall_clock() {
        let mut context = context(None, b"");
        context.overrun = Some(Overrun::WallClock {
            limit: Duration::from_secs(10),
        });
        let message = classify_trap(&trap(Trap::Interrupt), context).to_string();
        assert!(
            message.contains("ran for 10s on the wall clock"),
            "{message}"
        );
        assert!(message.contains("2s activation deadline"), "{message}");
    }

    #[test]
    fn a_refusal_of_the_worker_budget_names_it() {
        let refused = MemoryRefusal::WorkerBudget {
            requested: 1 << 20,
            in_use: 100 << 20,
            limit: 100 << 20,
        };
        let error = classify_trap(
            &trap(Trap::UnreachableCodeReached),
            context(Some(refused), b""),
        );
        let message = error.to_string();
        assert!(
            matches!(error, ActivationError::WorkerMemoryBudget { .. }),
            "{message}"
        );
        assert!(
            message.contains("hold 100.0 MiB of the 100.0 MiB"),
            "{message}"
        );
        assert!(message.contains("max_total_memory_bytes"), "{message}");
    }

    #[test]
    fn exhausted_hostcall_fuel_is_the_copy_limit() {
        let error = wasmtime::format_err!(
            "too much data is being copied between the host and the guest: fuel allocated \
             for hostcalls has been exhausted"
        )
        .context("wasm backtrace: ...");
        let message = classify_trap(&error, context(None, b"")).to_string();
        assert!(
            message.contains("copy more than 14.0 MiB out of the sandbox"),
            "{message}"
        );
    }

    #[test]
    fn an_abort_after_a_refused_growth_is_the_memory_cap() {
        let refused = MemoryRefusal::RunCap {
            requested: (64 << 20) + (1 << 20),
            limit: 64 << 20,
        };
        let error = classify_trap(
            &trap(Trap::UnreachableCodeReached),
            context(
                Some(refused),
                b"memory allocation of 1048576 bytes failed\n",
            ),
        );
        let message = error.to_string();
        assert!(
            matches!(error, ActivationError::MemoryLimit { .. }),
            "{message}"
        );
        assert!(message.contains("65.0 MiB"), "{message}");
        assert!(message.contains("allows 64.0 MiB per run"), "{message}");
        assert!(message.contains("max_memory_bytes"), "{message}");
    }

    #[test]
    fn the_memory_cap_explains_the_environment_read_of_the_abort_that_follows() {
        let refused = MemoryRefusal::RunCap {
            requested: 2 << 20,
            limit: 1 << 20,
        };
        let error = wasmtime::Error::new(Forbidden::Environment);
        let error = classify_trap(&error, context(Some(refused), b""));
        assert!(
            matches!(error, ActivationError::MemoryLimit { .. }),
            "{error}"
        );
    }

    #[test]
    fn stack_overflow_names_the_limit_and_the_setting() {
        let message = classify_trap(&trap(Trap::StackOverflow), context(None, b"")).to_string();
        assert!(message.contains("overflowed its stack"), "{message}");
        assert!(message.contains("512 KiB"), "{message}");
        assert!(message.contains("max_wasm_stack"), "{message}");
    }

    #[test]
    fn a_panic_shows_its_message_on_one_line() {
        let stderr = b"before\nthread '<unnamed>' (1) panicked at src/lib.rs:9:5:\nno 42 here\n\
            note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let error = classify_trap(&trap(Trap::UnreachableCodeReached), context(None, stderr));
        let message = error.to_string();
        assert!(
            matches!(error, ActivationError::Panicked { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(
                "workflow W (run r1) panicked at src/lib.rs:9:5: no 42 here; a panic fails"
            ),
            "{message}"
        );
        assert!(!message.contains("RUST_BACKTRACE"), "{message}");
    }

    #[test]
    fn guest_text_cannot_break_the_line() {
        let stderr = b"oops\n2026-12-06T12:00:00Z ERROR sandglass_host::worker: forged\n";
        let message =
            classify_trap(&trap(Trap::IntegerDivisionByZero), context(None, stderr)).to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("oops\\n2026"), "{message}");
    }

    #[test]
    fn other_traps_keep_the_trap_and_stderr() {
        let error = classify_trap(&trap(Trap::IntegerDivisionByZero), context(None, b"oops\n"));
        let message = error.to_string();
        assert!(matches!(error, ActivationError::Trap { .. }), "{message}");
        assert!(message.contains("integer divide by zero"), "{message}");
        assert!(message.ends_with("; guest stderr: oops"), "{message}");
        let oob = classify_trap(&trap(Trap::MemoryOutOfBounds), context(None, b"")).to_string();
        assert!(oob.contains("1 MiB for Rust guests"), "{oob}");
    }

    #[test]
    fn host_errors_lose_the_backtrace_but_keep_their_message() {
        let error = wasmtime::format_err!("resource table has no free keys")
            .context("error while executing at wasm backtrace: 0: 0x1");
        let message = classify_trap(&error, context(None, b"")).to_string();
        assert_eq!(
            message,
            "workflow W (run r1) trapped: resource table has no free keys"
        );
    }
}
