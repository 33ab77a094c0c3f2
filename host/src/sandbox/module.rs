//! Loading and validating workflow components.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::Sandbox;
use super::guest_log::escape_controls;
use super::instance::{RunIdentity, RunState, run_store, start_call};
use super::wasi::DeterministicParts;
use crate::wit::guest::WorkflowDescription;
use crate::wit::{WIT_PACKAGE, WorkflowsPre};

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
    #[error("loading {origin} stopped unexpectedly (a bug, please report it): {message}")]
    LoaderCrashed { origin: String, message: String },
}

/// A compiled workflow component, ready to instantiate once per run. Cheap to clone (an
/// `Arc`): the worker keeps one clone per workflow type it serves.
#[derive(Clone)]
pub struct WorkflowModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    origin: String,
    digest: String,
    pre: WorkflowsPre<RunState>,
    workflow_types: Vec<String>,
    descriptions: Vec<WorkflowDescription>,
    imports: Vec<String>,
}

/// What a module may declare: far more than any workflow component has, and little
/// enough that what the guest's `workflow-types` returns stays small.
const MAX_WORKFLOW_TYPES: usize = 1000;
const MAX_HANDLERS_PER_TYPE: usize = 1000;
/// Longest name accepted (a workflow type, a handler, a patch id): Temporal's limit on
/// ids and names (`limit.maxIDLength`).
pub const MAX_NAME_BYTES: usize = 1000;
/// What the guest's answer to `workflow-types` may copy into the host.
const INTROSPECTION_FUEL: usize = 1 << 20;

impl fmt::Debug for WorkflowModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowModule")
            .field("origin", &self.inner.origin)
            .field("digest", &self.inner.digest)
            .field("workflow_types", &self.inner.workflow_types)
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

    /// Reads, compiles and validates the component at `path` on a blocking thread, off
    /// the async ones (compiling is CPU-bound; the code cache makes a module seen before
    /// quick).
    pub async fn load_file(sandbox: &Sandbox, path: PathBuf) -> Result<Self, ModuleError> {
        let origin = path.display().to_string();
        let sandbox = sandbox.clone();
        off_thread(origin, move || Self::from_file(&sandbox, path)).await
    }

    /// Like [`load_file`](Self::load_file), for bytes already read.
    pub async fn load_bytes(
        sandbox: &Sandbox,
        origin: String,
        bytes: Arc<Vec<u8>>,
    ) -> Result<Self, ModuleError> {
        let sandbox = sandbox.clone();
        let name = origin.clone();
        off_thread(name, move || Self::from_bytes(&sandbox, origin, &bytes)).await
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
                // The guest's names can be in it (a backtrace's function names).
                source: anyhow::anyhow!("{}", escape_controls(&source.root_cause().to_string())),
            })?;
        if let Some(problem) = oversized_description(&descriptions) {
            return Err(ModuleError::Introspection {
                origin,
                source: anyhow::anyhow!("{problem}"),
            });
        }
        let workflow_types: Vec<String> = descriptions.iter().map(|d| d.name.clone()).collect();
        if workflow_types.is_empty() {
            return Err(ModuleError::NoWorkflows { origin });
        }
        Ok(Self {
            inner: Arc::new(ModuleInner {
                origin,
                digest,
                pre,
                workflow_types,
                descriptions,
                imports,
            }),
        })
    }

    /// Each workflow type with the signals, queries and updates it handles.
    pub fn descriptions(&self) -> &[WorkflowDescription] {
        &self.inner.descriptions
    }

    /// The `sandglass:workflow` package version the component was built against.
    pub fn wit_package(&self) -> &str {
        WIT_PACKAGE
    }

    /// The interfaces the component imports (WASI and the Sandglass host's), by name.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// Where the module came from (a file path, usually).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// `sha256:<hex>` of the component's bytes: the module's identity.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The workflow types the component defines.
    pub fn workflow_types(&self) -> &[String] {
        &self.inner.workflow_types
    }

    pub(crate) fn pre(&self) -> &WorkflowsPre<RunState> {
        &self.inner.pre
    }
}

async fn off_thread(
    origin: String,
    load: impl FnOnce() -> Result<WorkflowModule, ModuleError> + Send + 'static,
) -> Result<WorkflowModule, ModuleError> {
    tokio::task::spawn_blocking(load)
        .await
        .unwrap_or_else(|join_error| {
            Err(ModuleError::LoaderCrashed {
                origin,
                message: join_error.to_string(),
            })
        })
}

/// What is wrong with a module's description of itself, if anything is too large.
fn oversized_description(descriptions: &[WorkflowDescription]) -> Option<String> {
    if descriptions.len() > MAX_WORKFLOW_TYPES {
        return Some(format!(
            "it declares {} workflow types; a module may declare {MAX_WORKFLOW_TYPES}",
            descriptions.len()
        ));
    }
    for description in descriptions {
        let handlers = [
            &description.signals,
            &description.queries,
            &description.updates,
        ];
        if handlers
            .iter()
            .any(|names| names.len() > MAX_HANDLERS_PER_TYPE)
        {
            return Some(format!(
                "a workflow type declares more than {MAX_HANDLERS_PER_TYPE} handlers of one kind"
            ));
        }
        let names = std::iter::once(&description.name).chain(handlers.into_iter().flatten());
        if names.into_iter().any(|name| name.len() > MAX_NAME_BYTES) {
            return Some(format!(
                "a workflow type or handler name is longer than {MAX_NAME_BYTES} bytes"
            ));
        }
    }
    None
}

/// Instantiates the component once, under the usual limits, to ask what it defines.
fn describe_workflows(
    sandbox: &Sandbox,
    pre: &WorkflowsPre<RunState>,
) -> anyhow::Result<Vec<WorkflowDescription>> {
    let parts = DeterministicParts::new(0, sandbox.limits().max_output_bytes);
    let identity = RunIdentity {
        workflow_type: "<introspection>".to_owned(),
        run_id: String::new(),
        randomness_seed: 0,
        task_timeout: None,
    };
    let mut store = run_store(sandbox, &parts, &identity);
    let workflows = pre.instantiate(&mut store)?;
    start_call(&mut store);
    store.set_hostcall_fuel(INTROSPECTION_FUEL);
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
