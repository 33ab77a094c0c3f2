//! The one activity of the contract.

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Holder of the `greet` activity; stateless.
pub struct Greeter;

#[activities]
impl Greeter {
    /// Activity type `greet`: `"Hello, {name}!"`.
    ///
    /// Named explicitly: the macro's default name is `Greeter::greet`, which the Python
    /// peer and Sandglass would not recognise.
    #[activity(name = "greet")]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}
