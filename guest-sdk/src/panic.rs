//! The panic hook every workflow component runs with.
//!
//! Rust's default hook reads `RUST_BACKTRACE` from the environment before it prints, and
//! the Sandglass host traps environment reads (workflow code must not depend on the
//! worker's environment), so a default panic would be reported as an environment read
//! and its message lost. This hook prints the panic without asking the environment; the
//! host finds the message on stderr and puts it in the workflow task failure.

/// Installs the hook, once per instance. Only in wasm: native unit tests keep theirs.
pub(crate) fn install_hook() {
    #[cfg(target_arch = "wasm32")]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            // `info` displays as "panicked at FILE:LINE:COL:\nMESSAGE".
            std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
        });
    }
}
