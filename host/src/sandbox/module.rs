//! Loading and validating workflow components.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::Component;

use super::Sandbox;
use super::bindings::guest::WorkflowDescription;
use super::bindings::{WIT_PACKAGE, WorkflowsPre};
use super::instance::RunState;
use super::wasi::DeterministicParts;

/// Why a workflow module could not be loaded. Each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    #[error("cannot read workflow module {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{origin} is a core WebAssembly module, not a component; build the workflow crate \
         with `cargo build --target wasm32-wasip2` so it links as a component"
    )]
    CoreModule { origin: String },
    #[error(
        "{origin} is not a valid WebAssembly component ({source:#}); point the worker at the \
         `.wasm` file cargo writes under target/wasm32-wasip2/"
    )]
    Invalid {
        origin: String,
        #[source]
        source: anyhow::Error,
    },
    #[error(
        "{origin} does not implement the `{WIT_PACKAGE}` workflows world ({source:#}); build \
         it with the `sandglass` guest SDK of this version and export its workflows with \
         `sandglass::export_workflows!`"
    )]
    WrongWorld {
        origin: String,
        #[source]
        source: anyhow::Error,
    },
    #[error(
        "{origin} was built for WIT package {found}, but this worker supports {WIT_PACKAGE}; \
         rebuild it with the `sandglass` guest SDK that matches this worker, or run a \
         worker that supports {found}"
    )]
    WitVersion { origin: String, found: String },
    #[error("{origin} failed while listing its workflow types: {source:#}")]
    Introspection {
        origin: String,
        #[source]
        source: anyhow::Error,
    },
    #[error("{origin} defines no workflow types; list them in `sandglass::export_workflows!`")]
    NoWorkflows { origin: String },
}

/// A compiled workflow component, ready to instantiate once per run.
#[derive(Clone)]
pub struct WorkflowModule {
    origin: String,
    digest: String,
    pre: WorkflowsPre<RunState>,
    workflow_types: Vec<String>,
    descriptions: Vec<WorkflowDescription>,
    imports: Vec<String>,
}

impl fmt::Debug for WorkflowModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowModule")
            .field("origin", &self.origin)
            .field("digest", &self.digest)
            .field("workflow_types", &self.workflow_types)
            .finish()
    }
}

impl WorkflowModule {
    /// Reads, compiles and validates the component at `path`.
    pub fn from_file(sandbox: &Sandbox, path: impl AsRef<Path>) -> Result<Self, ModuleError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ModuleError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(sandbox, path.display().to_string(), &bytes)
    }

    /// Compiles and validates a component; `origin` names it in errors and logs.
    pub fn from_bytes(
        sandbox: &Sandbox,
        origin: impl Into<String>,
        bytes: &[u8],
    ) -> Result<Self, ModuleError> {
        let origin = origin.into();
        if wasmparser_is_core_module(bytes) {
            return Err(ModuleError::CoreModule { origin });
        }
        let digest = hex_digest(bytes);
        let cached = sandbox
            .code_cache()
            .and_then(|cache| cache.load(sandbox.engine(), &digest));
        let component = match cached {
            Some(component) => component,
            None => {
                let component =
                    Component::from_binary(sandbox.engine(), bytes).map_err(|source| {
                        ModuleError::Invalid {
                            origin: origin.clone(),
                            source: source.into(),
                        }
                    })?;
                if let Some(cache) = sandbox.code_cache() {
                    cache.store(sandbox.engine(), &digest, &component);
                }
                component
            }
        };
        let imports = component
            .component_type()
            .imports(sandbox.engine())
            .map(|(name, _)| name.to_owned())
            .collect::<Vec<_>>();
        let wit_package = sandglass_package(&component, sandbox.engine());
        if let Some(found) = &wit_package
            && found != WIT_PACKAGE
        {
            return Err(ModuleError::WitVersion {
                origin,
                found: found.clone(),
            });
        }
        let pre = sandbox
            .linker()
            .instantiate_pre(&component)
            .and_then(WorkflowsPre::new)
            .map_err(|source| ModuleError::WrongWorld {
                origin: origin.clone(),
                source: source.into(),
            })?;
        let descriptions =
            describe_workflows(sandbox, &pre).map_err(|source| ModuleError::Introspection {
                origin: origin.clone(),
                source,
            })?;
        let workflow_types: Vec<String> = descriptions.iter().map(|d| d.name.clone()).collect();
        if workflow_types.is_empty() {
            return Err(ModuleError::NoWorkflows { origin });
        }
        Ok(Self {
            origin,
            digest,
            pre,
            workflow_types,
            descriptions,
            imports,
        })
    }

    /// Each workflow type with the signals, queries and updates it handles.
    pub fn descriptions(&self) -> &[WorkflowDescription] {
        &self.descriptions
    }

    /// The `sandglass:workflow` package version the component was built against.
    pub fn wit_package(&self) -> &str {
        WIT_PACKAGE
    }

    /// The interfaces the component imports (WASI and the Sandglass host's), by name.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Where the module came from (a file path, usually).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `sha256:<hex>` of the component's bytes: the module's identity.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The workflow types the component defines.
    pub fn workflow_types(&self) -> &[String] {
        &self.workflow_types
    }

    pub(crate) fn pre(&self) -> &WorkflowsPre<RunState> {
        &self.pre
    }
}

/// Instantiates the component once, under the usual limits, to ask what it defines.
fn describe_workflows(
    sandbox: &Sandbox,
    pre: &WorkflowsPre<RunState>,
) -> anyhow::Result<Vec<WorkflowDescription>> {
    let parts = DeterministicParts::new(0, sandbox.limits().max_output_bytes);
    let mut store = Store::new(
        sandbox.engine(),
        RunState::new(&parts, 0, sandbox.limits(), "<introspection>", ""),
    );
    store.limiter(|state| &mut state.limits);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(super::engine::ticks_for(
        sandbox.limits().activation_deadline,
    ));
    let workflows = pre.instantiate(&mut store)?;
    Ok(workflows
        .sandglass_workflow_guest()
        .call_workflow_types(&mut store)?)
}

/// The `sandglass:workflow` package version the component exports its workflows from,
/// e.g. `sandglass:workflow@0.4.0`.
fn sandglass_package(component: &Component, engine: &wasmtime::Engine) -> Option<String> {
    let package = WIT_PACKAGE.split('@').next().unwrap_or(WIT_PACKAGE);
    let ty = component.component_type();
    ty.exports(engine).find_map(|(name, _)| {
        let (interface, version) = name.split_once('@')?;
        let (found, _) = interface.split_once('/')?;
        (found == package).then(|| format!("{found}@{version}"))
    })
}

/// A core module starts with the same magic as a component but a different layer byte.
fn wasmparser_is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [0, 0]
}

/// `sha256:<hex>` of `bytes`, the identity [`WorkflowModule::digest`] reports.
pub fn digest_of(bytes: &[u8]) -> String {
    hex_digest(bytes)
}

fn hex_digest(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256:");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_core_modules_from_components() {
        assert!(wasmparser_is_core_module(b"\0asm\x01\0\0\0"));
        assert!(!wasmparser_is_core_module(b"\0asm\x0d\0\x01\0"));
        assert!(!wasmparser_is_core_module(b"not wasm"));
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            hex_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn garbage_and_core_modules_get_clear_errors() {
        let sandbox = Sandbox::new(Default::default()).unwrap();
        let err = WorkflowModule::from_bytes(&sandbox, "junk.wasm", b"hello").unwrap_err();
        assert!(matches!(err, ModuleError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("junk.wasm"));
        let err =
            WorkflowModule::from_bytes(&sandbox, "core.wasm", b"\0asm\x01\0\0\0").unwrap_err();
        assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
    }
}
