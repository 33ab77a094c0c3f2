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
//! Signals, queries and updates are declared the same way, so a workflow's handler and a
//! client's call agree on the name and the types:
//!
//! ```
//! use sandglass_declare::{QueryDefinition, SignalDefinition, UpdateDefinition};
//!
//! pub const APPROVE: SignalDefinition<String> = SignalDefinition::new("approve");
//! pub const GET_LANGUAGES: QueryDefinition<(), Vec<String>> = QueryDefinition::new("get_languages");
//! pub const SET_LANGUAGE: UpdateDefinition<String, String> = UpdateDefinition::new("set_language");
//! ```
//!
//! The crate also holds the JSON payload encoding every Temporal SDK understands, so
//! guest and host encode values identically, and the [error types](failure_types)
//! both sides write into failures.

use std::fmt;
use std::marker::PhantomData;

pub mod failure_types;
pub mod json;

/// Declares a definition type: a Temporal name typed by its input `I` and output `O`.
/// Manual trait impls, because derives would needlessly require `I: Clone` and so on.
macro_rules! definition {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        pub struct $ty<I, O> {
            name: &'static str,
            types: PhantomData<fn(I) -> O>,
        }

        impl<I, O> $ty<I, O> {
            #[doc = concat!("Declares ", $what, " by its Temporal name.")]
            pub const fn new(name: &'static str) -> Self {
                Self {
                    name,
                    types: PhantomData,
                }
            }

            #[doc = concat!("The Temporal name of ", $what, ".")]
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }

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

definition!(
    /// An activity type: its Temporal name, its input type `I` and its output type `O`.
    ActivityDefinition,
    "an activity type"
);

definition!(
    /// A workflow type: its Temporal name, its input type `I` and its result type `O`.
    ///
    /// Clients use it to start the workflow with a typed input and read a typed result.
    WorkflowDefinition,
    "a workflow type"
);

definition!(
    /// A query: its Temporal name, its input type `I` and its result type `O`.
    QueryDefinition,
    "a query"
);

definition!(
    /// An update: its Temporal name, its input type `I` and its result type `O`.
    UpdateDefinition,
    "an update"
);

/// A signal: its Temporal name and its input type `I`. Signals return nothing.
pub struct SignalDefinition<I> {
    name: &'static str,
    types: PhantomData<fn(I)>,
}

impl<I> SignalDefinition<I> {
    /// Declares a signal by its Temporal name.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The Temporal name of the signal.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<I> Clone for SignalDefinition<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for SignalDefinition<I> {}

impl<I> fmt::Debug for SignalDefinition<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SignalDefinition").field(&self.name).finish()
    }
}
