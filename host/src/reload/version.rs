//! A version: the set of modules a worker serves together, named by their digests.

use std::collections::BTreeMap;

use super::ReloadProblem;
use crate::sandbox::{WorkflowModule, digest_of};

/// Modules that serve new executions together, under one build id.
#[derive(Clone, Debug)]
pub(crate) struct Version {
    build_id: String,
    by_type: BTreeMap<String, WorkflowModule>,
    modules: Vec<WorkflowModule>,
}

impl Version {
    /// The version of `modules`, or why they cannot form one.
    pub fn new(mut modules: Vec<WorkflowModule>) -> Result<Self, ReloadProblem> {
        modules.sort_by(|a, b| a.digest().cmp(b.digest()));
        modules.dedup_by(|a, b| a.digest() == b.digest());
        let mut by_type: BTreeMap<String, WorkflowModule> = BTreeMap::new();
        for module in &modules {
            for workflow_type in module.workflow_types() {
                if let Some(first) = by_type.get(workflow_type) {
                    return Err(ReloadProblem::DuplicateType {
                        workflow_type: workflow_type.clone(),
                        first: first.origin().to_owned(),
                        second: module.origin().to_owned(),
                    });
                }
                by_type.insert(workflow_type.clone(), module.clone());
            }
        }
        Ok(Self {
            build_id: build_id(modules.iter().map(WorkflowModule::digest)),
            by_type,
            modules,
        })
    }

    /// Derived from the module digests alone (not their file names), so the same code
    /// is the same version on every worker.
    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    pub fn by_type(&self) -> &BTreeMap<String, WorkflowModule> {
        &self.by_type
    }

    pub fn modules(&self) -> &[WorkflowModule] {
        &self.modules
    }

    pub fn workflow_types(&self) -> Vec<String> {
        self.by_type.keys().cloned().collect()
    }

    /// The digest of `workflow_type`'s module, if this version defines it.
    pub fn digest_of(&self, workflow_type: &str) -> Option<&str> {
        self.by_type.get(workflow_type).map(WorkflowModule::digest)
    }
}

/// `sg-` and the first 24 hex digits of the SHA-256 of the sorted digests, one a line.
fn build_id<'a>(digests: impl Iterator<Item = &'a str>) -> String {
    let lines: String = digests.map(|digest| format!("{digest}\n")).collect();
    let digest = digest_of(lines.as_bytes());
    let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
    format!("sg-{}", &hex[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_depends_on_digests_only() {
        let one = build_id(["sha256:aa", "sha256:bb"].into_iter());
        assert_eq!(one, build_id(["sha256:aa", "sha256:bb"].into_iter()));
        assert_ne!(one, build_id(["sha256:aa", "sha256:bc"].into_iter()));
        assert!(one.starts_with("sg-") && one.len() == 3 + 24, "{one}");
    }
}
