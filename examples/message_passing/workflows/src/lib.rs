//! The Python guide's message-passing workflow in Sandglass: a greeting that waits for
//! approval (a signal), reports its languages (queries) and changes language (updates,
//! one validated, one that calls an activity).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use message_passing_declarations::{
    APPROVE, CALL_GREETING_SERVICE, GET_LANGUAGE, GET_LANGUAGES, GREETING_WORKFLOW, Language,
    SET_LANGUAGE, SET_LANGUAGE_USING_ACTIVITY,
};
use sandglass::prelude::*;

pub struct GreetingWorkflow {
    approved_for_release: Cell<bool>,
    approver_name: RefCell<Option<String>>,
    language: Cell<Language>,
    greetings: RefCell<BTreeMap<Language, String>>,
}

impl GreetingWorkflow {
    fn greeting(&self) -> String {
        let greetings = self.greetings.borrow();
        greetings
            .get(&self.language.get())
            .cloned()
            .unwrap_or_default()
    }
}

impl Default for GreetingWorkflow {
    fn default() -> Self {
        GreetingWorkflow {
            approved_for_release: Cell::new(false),
            approver_name: RefCell::new(None),
            language: Cell::new(Language::English),
            greetings: RefCell::new(BTreeMap::from([
                (Language::Chinese, "你好，世界".to_owned()),
                (Language::English, "Hello, world".to_owned()),
            ])),
        }
    }
}

impl Workflow for GreetingWorkflow {
    type Input = ();
    type Output = String;
    const DEFINITION: WorkflowDefinition<(), String> = GREETING_WORKFLOW;

    fn handlers(handlers: &mut Handlers<Self>) {
        handlers
            .signal(APPROVE, |workflow, _ctx, input| {
                workflow.approved_for_release.set(true);
                *workflow.approver_name.borrow_mut() = Some(input.name);
            })
            .query(GET_LANGUAGES, |workflow, input| {
                if input.include_unsupported {
                    Language::ALL.to_vec()
                } else {
                    workflow.greetings.borrow().keys().copied().collect()
                }
            })
            .query(GET_LANGUAGE, |workflow, ()| workflow.language.get())
            .update(SET_LANGUAGE, |workflow, _ctx, language| {
                Ok(workflow.language.replace(language))
            })
            .validator(SET_LANGUAGE, |workflow, language| {
                if workflow.greetings.borrow().contains_key(language) {
                    Ok(())
                } else {
                    Err(WorkflowError::application(
                        "UnsupportedLanguage",
                        format!("{language:?} is not supported"),
                    ))
                }
            })
            .update_async(
                SET_LANGUAGE_USING_ACTIVITY,
                |workflow, ctx, language| async move {
                    let known = workflow.greetings.borrow().contains_key(&language);
                    if !known {
                        let options = ActivityOptions::start_to_close(Duration::from_secs(10));
                        let greeting = ctx
                            .execute_activity(CALL_GREETING_SERVICE, language, options)
                            .await?;
                        let Some(greeting) = greeting else {
                            return Err(WorkflowError::application(
                                "UnsupportedLanguage",
                                format!("the greeting service does not support {language:?}"),
                            ));
                        };
                        workflow.greetings.borrow_mut().insert(language, greeting);
                    }
                    Ok(workflow.language.replace(language))
                },
            );
    }

    async fn run(self: Rc<Self>, ctx: WorkflowContext, _input: ()) -> WorkflowResult<String> {
        let this = self.clone();
        let handlers = ctx.clone();
        // Waits for the approval and for running updates, so none is cut off.
        ctx.wait_condition(move || {
            this.approved_for_release.get() && handlers.all_handlers_finished()
        })
        .await?;
        let approver = self.approver_name.borrow().clone().unwrap_or_default();
        sandglass::info!("approved by {approver}");
        Ok(self.greeting())
    }
}

sandglass::export_workflows!(GreetingWorkflow);
