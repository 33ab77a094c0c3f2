//! What the message-passing example's workflow, worker and starter agree on: the
//! workflow, its signal, queries and updates, and the activity, with their types.

use sandglass_declare::{
    ActivityDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};
use serde::{Deserialize, Serialize};

/// A language the workflow can greet in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Language {
    Arabic,
    Chinese,
    English,
    French,
    Hindi,
    Portuguese,
    Spanish,
}

impl Language {
    pub const ALL: [Language; 7] = [
        Language::Arabic,
        Language::Chinese,
        Language::English,
        Language::French,
        Language::Hindi,
        Language::Portuguese,
        Language::Spanish,
    ];
}

/// Who approved the greeting.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApproveInput {
    pub name: String,
}

/// Which languages `get_languages` lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GetLanguagesInput {
    pub include_unsupported: bool,
}

/// Greets in the current language once approved; returns the greeting.
pub const GREETING_WORKFLOW: WorkflowDefinition<(), String> =
    WorkflowDefinition::new("MessagePassingGreetingWorkflow");

pub const APPROVE: SignalDefinition<ApproveInput> = SignalDefinition::new("approve");

pub const GET_LANGUAGES: QueryDefinition<GetLanguagesInput, Vec<Language>> =
    QueryDefinition::new("get_languages");

pub const GET_LANGUAGE: QueryDefinition<(), Language> = QueryDefinition::new("get_language");

/// Sets the language from the workflow's own table; returns the previous one. Its
/// validator rejects languages the table lacks.
pub const SET_LANGUAGE: UpdateDefinition<Language, Language> =
    UpdateDefinition::new("set_language");

/// Sets the language after asking the greeting service (an activity) for its greeting;
/// returns the previous one. Fails the update if the service has no greeting for it.
pub const SET_LANGUAGE_USING_ACTIVITY: UpdateDefinition<Language, Language> =
    UpdateDefinition::new("set_language_using_activity");

/// The greeting service: the greeting in a language, if it knows one.
pub const CALL_GREETING_SERVICE: ActivityDefinition<Language, Option<String>> =
    ActivityDefinition::new("call_greeting_service");
