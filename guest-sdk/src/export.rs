//! Exporting workflow types as the component's `guest` interface.
//!
//! A component holds one run (the host instantiates it per run), so the runtime lives in
//! a thread-local of the instance: created on the first activation, kept between calls.

use std::cell::RefCell;

use sandglass_declare::failure_types::PROTOCOL_ERROR;

use crate::bindings::exports::sandglass::workflow::guest::{
    Activation, Command, WorkflowDescription,
};
use crate::bindings::sandglass::workflow::types::Failure;
use crate::failure::application_frame;
use crate::runtime::{Runtime, WorkflowEntry};

/// Exports workflow types from a component: the one line a workflow crate needs.
///
/// ```
/// # use std::rc::Rc;
/// # use sandglass::{Workflow, WorkflowContext, WorkflowDefinition, WorkflowResult};
/// # macro_rules! trivial {
/// #     ($ty:ident, $name:literal) => {
/// #         #[derive(Default)]
/// #         struct $ty;
/// #         impl Workflow for $ty {
/// #             type Input = ();
/// #             type Output = ();
/// #             const DEFINITION: WorkflowDefinition<(), ()> = WorkflowDefinition::new($name);
/// #             async fn run(self: Rc<Self>, _: WorkflowContext, _: ()) -> WorkflowResult<()> { Ok(()) }
/// #         }
/// #     };
/// # }
/// # trivial!(GreetingWorkflow, "GreetingWorkflow");
/// # trivial!(OrderWorkflow, "OrderWorkflow");
/// sandglass::export_workflows!(GreetingWorkflow, OrderWorkflow);
/// # fn main() {}
/// ```
///
/// Invoke it once, at the root of a `cdylib` crate built for `wasm32-wasip2`. It
/// implements the WIT `guest` interface: `workflow-types` lists the types'
/// [`DEFINITION`](crate::Workflow::DEFINITION) names with the messages their
/// [handlers](crate::Workflow::handlers) take, `activate` runs the run. Two types
/// with the same name are a compile-time error.
#[macro_export]
macro_rules! export_workflows {
    ($($workflow:ty),+ $(,)?) => {
        const _: () = {
            const WORKFLOWS: &[$crate::__private::WorkflowEntry] =
                &[$($crate::__private::WorkflowEntry::of::<$workflow>()),+];
            const _: () = $crate::__private::assert_unique_names(WORKFLOWS);

            struct SandglassWorkflows;

            impl $crate::__private::Guest for SandglassWorkflows {
                fn workflow_types() -> ::std::vec::Vec<$crate::__private::WorkflowDescription> {
                    $crate::__private::workflow_types(WORKFLOWS)
                }

                fn activate(
                    activation: $crate::__private::Activation,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::__private::Command>,
                    $crate::__private::Failure,
                > {
                    $crate::__private::activate(WORKFLOWS, activation)
                }
            }

            // Only a wasm build exports: the export names are not valid native symbols,
            // and a native build of a workflow crate (`cargo build --workspace`) must link.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::export_guest!(SandglassWorkflows with_types_in $crate::bindings);
        };
    };
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// `workflow-types`: the exported workflow types and their handlers.
pub fn workflow_types(workflows: &[WorkflowEntry]) -> Vec<WorkflowDescription> {
    workflows.iter().map(WorkflowEntry::describe).collect()
}

/// `activate`: applies one activation to this instance's run.
pub fn activate(
    workflows: &'static [WorkflowEntry],
    activation: Activation,
) -> Result<Vec<Command>, Failure> {
    RUNTIME.with(|runtime| match runtime.try_borrow_mut() {
        Ok(mut runtime) => runtime
            .get_or_insert_with(|| {
                crate::panic::install_hook();
                Runtime::new(workflows)
            })
            .activate(activation),
        // Only a host calling `activate` from inside `activate` gets here.
        Err(_) => Err(vec![application_frame(
            "activate was called while an activation was running".to_owned(),
            PROTOCOL_ERROR.to_owned(),
            false,
            Vec::new(),
        )]),
    })
}

/// Fails compilation when two exported workflow types share a name.
pub const fn assert_unique_names(workflows: &[WorkflowEntry]) {
    let mut i = 0;
    while i < workflows.len() {
        let mut j = i + 1;
        while j < workflows.len() {
            if str_eq(workflows[i].name(), workflows[j].name()) {
                panic!("export_workflows!: two workflow types have the same DEFINITION name");
            }
            j += 1;
        }
        i += 1;
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
