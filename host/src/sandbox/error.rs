//! Why an activation failed, told so that the workflow's author can act on it.
//!
//! A trap from wasmtime says *what* the machine did (`unreachable` executed, stack
//! exhausted); the author needs to know *why* and what to change. [`classify_trap`] reads
//! the trap together with what the host saw around it (a refused memory growth, the
//! guest's stderr, a [`Forbidden`] call) and picks the variant whose message says that.

use std::time::Duration;

use wasmtime::Trap;

use super::bindings::types;
use super::forbidden::Forbidden;
use super::limiter::MemoryRefusal;

/// Why an activation did not produce commands. Every variant fails the workflow task
/// (Temporal retries it later) and ends the instance; the worker carries on.
///
/// Messages start with the workflow type and run id, then say what happened and what to
/// do about it; they are what Temporal records in the run's history.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    #[error(
        "workflow {workflow_type} (run {run_id}) ran longer than the {limit:?} activation \
         deadline without yielding; workflow code must not loop or compute for long (move \
         heavy work into an activity), or raise the worker's activation deadline"
    )]
    DeadlineExceeded {
        workflow_type: String,
        run_id: String,
        limit: Duration,
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
         memory to {} but the sandbox allows {} per run; keep workflow state small (hand \
         large data to activities and keep a reference), or raise the worker's \
         `SandboxLimits::max_memory_bytes`",
        mebibytes(.requested),
        mebibytes(.limit)
    )]
    MemoryLimit {
        workflow_type: String,
        run_id: String,
        requested: usize,
        limit: usize,
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
        };
    }
    // A refused growth explains whatever the guest did next: usually an abort, whose
    // message Rust's std prints after reading `RUST_BACKTRACE` (a forbidden call).
    if let Some(MemoryRefusal { requested, limit }) = context.refused {
        return ActivationError::MemoryLimit {
            workflow_type,
            run_id,
            requested,
            limit,
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
        message,
        stderr: stderr.into_owned(),
    }
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
        .map(|frame| frame.message.as_str())
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
    fn an_abort_after_a_refused_growth_is_the_memory_cap() {
        let refused = MemoryRefusal {
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
        let refused = MemoryRefusal {
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
