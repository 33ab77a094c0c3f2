//! Declarations that a Sandglass workflow (built for wasm) and its worker (native) share.
//!
//! An app keeps its activity and workflow signatures in one small crate that both sides
//! depend on, so the name a workflow schedules and the function a worker registers cannot
//! drift apart, and their input and output types are checked by the compiler on both
//! sides. This is the Rust form of the Python SDK's `imports_passed_through()`.
//!
//! ```
//! use sandglass_declare::{ActivityDefinition, WorkflowDefinition};
//!
//! pub const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
//! pub const GREETING_WORKFLOW: WorkflowDefinition<String, String> =
//!     WorkflowDefinition::new("GreetingWorkflow");
//! assert_eq!(GREET.name(), "greet");
//! ```
//!
//! The crate also holds the JSON payload encoding every Temporal SDK understands, so
//! guest and host encode values identically.

use std::fmt;
use std::marker::PhantomData;

pub mod json;

/// An activity type: its Temporal name, its input type `I` and its output type `O`.
pub struct ActivityDefinition<I, O> {
    name: &'static str,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O> ActivityDefinition<I, O> {
    /// Declares an activity by its Temporal activity type name.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The Temporal activity type name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// A workflow type: its Temporal name, its input type `I` and its result type `O`.
///
/// Clients use it to start the workflow with a typed input and read a typed result.
pub struct WorkflowDefinition<I, O> {
    name: &'static str,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O> WorkflowDefinition<I, O> {
    /// Declares a workflow by its Temporal workflow type name.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The Temporal workflow type name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

// Manual impls: derives would needlessly require `I: Clone` and `O: Clone`.
macro_rules! impl_definition_traits {
    ($ty:ident) => {
        impl<I, O> Clone for $ty<I, O> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<I, O> Copy for $ty<I, O> {}
        impl<I, O> fmt::Debug for $ty<I, O> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.name).finish()
            }
        }
    };
}
impl_definition_traits!(ActivityDefinition);
impl_definition_traits!(WorkflowDefinition);
