//! What the hot-reload example's workflow, worker and starter agree on.

use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
use serde::{Deserialize, Serialize};

/// Whom to greet, and how long to wait first (so that a new version can arrive while
/// the greeting waits).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GreetingRequest {
    pub name: String,
    pub wait_seconds: u64,
}

/// What the activity puts together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Composition {
    pub salutation: String,
    pub name: String,
}

/// Waits, then greets with the salutation of the version it runs on. Pinned: each
/// greeting finishes on the version it started on.
pub const PINNED_GREETING: WorkflowDefinition<GreetingRequest, String> =
    WorkflowDefinition::new("PinnedGreeting");

/// The same workflow under the auto-upgrade policy: a waiting greeting moves to the new
/// version when its timer fires.
pub const UPGRADING_GREETING: WorkflowDefinition<GreetingRequest, String> =
    WorkflowDefinition::new("UpgradingGreeting");

/// A native activity: `"<salutation>, <name>!"`.
pub const COMPOSE: ActivityDefinition<Composition, String> =
    ActivityDefinition::new("compose_greeting");
