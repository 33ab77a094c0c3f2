//! Signal, query and update handlers: how a workflow declares them, and the type-erased
//! table the runtime calls.
//!
//! A workflow registers its handlers in [`Workflow::handlers`](crate::Workflow::handlers),
//! which runs once per run, right after the state is made ([`Default`] or
//! [`WorkflowInit::init`](crate::WorkflowInit::init)) and before any message is
//! delivered, so every handler sees that state.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use sandglass_declare::failure_types::{PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR};

use crate::bindings::exports::sandglass::workflow::guest::WorkflowDescription;
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::failure::application_frame;
use crate::{QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowContext, WorkflowError};
use crate::{WorkflowResult, payload};

pub(crate) type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The arguments of a message for a dynamic handler, still encoded.
#[derive(Clone, Debug)]
pub struct RawArguments {
    payloads: Vec<Payload>,
}

impl RawArguments {
    /// How many arguments the caller sent.
    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    /// Whether the caller sent no arguments.
    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    /// Decodes the arguments as one value, the way typed handlers do: none reads as
    /// `null`, one as itself, several as a JSON array.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, WorkflowError> {
        payload::decode_arguments(&self.payloads).map_err(|error| {
            WorkflowError::application(
                PAYLOAD_DECODE_ERROR,
                format!("arguments do not decode: {error}"),
            )
            .non_retryable()
        })
    }
}

type SignalFn<W> =
    Rc<dyn Fn(&Rc<W>, &WorkflowContext, &[Payload]) -> Result<LocalFuture<()>, String>>;
type QueryFn<W> = Rc<dyn Fn(&W, &[Payload]) -> Result<Option<Payload>, Failure>>;
type ValidatorFn<W> = Rc<dyn Fn(&W, &[Payload]) -> Result<(), Failure>>;
type UpdateFn<W> =
    Rc<dyn Fn(&Rc<W>, &WorkflowContext, &[Payload]) -> Result<LocalFuture<UpdateResult>, Failure>>;
type DynamicSignalFn<W> =
    Rc<dyn Fn(&Rc<W>, &WorkflowContext, &str, RawArguments) -> LocalFuture<()>>;
type DynamicQueryFn<W> = Rc<dyn Fn(&W, &str, RawArguments) -> Result<Option<Payload>, Failure>>;
type DynamicUpdateFn<W> =
    Rc<dyn Fn(&Rc<W>, &WorkflowContext, &str, RawArguments) -> LocalFuture<UpdateResult>>;

/// What an update handler ends with: its encoded result, or the failure to report.
pub(crate) type UpdateResult = Result<Option<Payload>, Failure>;

/// The handlers of one workflow type, registered in
/// [`Workflow::handlers`](crate::Workflow::handlers).
///
/// Handlers take the workflow by reference (`&W`) or, for async ones, by `Rc<W>`: state
/// they change lives in `Cell`s or `RefCell`s, as the `run` future's does.
///
/// ```
/// use std::cell::RefCell;
/// use sandglass::{Handlers, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowError};
///
/// const ADD: SignalDefinition<String> = SignalDefinition::new("add");
/// const ITEMS: QueryDefinition<(), Vec<String>> = QueryDefinition::new("items");
/// const CLEAR: UpdateDefinition<(), usize> = UpdateDefinition::new("clear");
///
/// struct Cart { items: RefCell<Vec<String>> }
///
/// fn register(handlers: &mut Handlers<Cart>) {
///     handlers
///         .signal(ADD, |cart, _ctx, item| cart.items.borrow_mut().push(item))
///         .query(ITEMS, |cart, ()| cart.items.borrow().clone())
///         .update(CLEAR, |cart, _ctx, ()| Ok(cart.items.take().len()))
///         .validator(CLEAR, |cart, _| {
///             if cart.items.borrow().is_empty() {
///                 Err(WorkflowError::application("EmptyCart", "nothing to clear"))
///             } else {
///                 Ok(())
///             }
///         });
/// }
/// ```
pub struct Handlers<W> {
    signals: BTreeMap<&'static str, SignalFn<W>>,
    queries: BTreeMap<&'static str, QueryFn<W>>,
    updates: BTreeMap<&'static str, UpdateFn<W>>,
    validators: BTreeMap<&'static str, ValidatorFn<W>>,
    dynamic_signal: Option<DynamicSignalFn<W>>,
    dynamic_query: Option<DynamicQueryFn<W>>,
    dynamic_update: Option<DynamicUpdateFn<W>>,
}

impl<W: 'static> Handlers<W> {
    pub(crate) fn new() -> Self {
        Self {
            signals: BTreeMap::new(),
            queries: BTreeMap::new(),
            updates: BTreeMap::new(),
            validators: BTreeMap::new(),
            dynamic_signal: None,
            dynamic_query: None,
            dynamic_update: None,
        }
    }

    /// A signal handler that runs to completion when the signal arrives. Registering a
    /// name twice keeps the last handler.
    ///
    /// A signal whose arguments do not decode as `I` is dropped with a warning in the
    /// worker's log (signals have no caller to answer), as other Temporal SDKs do.
    pub fn signal<I: DeserializeOwned + 'static>(
        &mut self,
        signal: SignalDefinition<I>,
        handler: impl Fn(&W, &WorkflowContext, I) + 'static,
    ) -> &mut Self {
        let handler = Rc::new(handler);
        let name = signal.name();
        self.signals.insert(
            name,
            Rc::new(move |workflow, ctx, arguments| {
                let input = decode_input::<I>("signal", name, arguments)?;
                let (handler, workflow, ctx) = (handler.clone(), workflow.clone(), ctx.clone());
                Ok(Box::pin(async move { handler(&workflow, &ctx, input) }) as LocalFuture<()>)
            }),
        );
        self
    }

    /// A signal handler that may await (activities, timers, conditions). It runs as its
    /// own task beside `run`; [`WorkflowContext::all_handlers_finished`] tells when all
    /// such tasks are done.
    pub fn signal_async<I, F>(
        &mut self,
        signal: SignalDefinition<I>,
        handler: impl Fn(Rc<W>, WorkflowContext, I) -> F + 'static,
    ) -> &mut Self
    where
        I: DeserializeOwned + 'static,
        F: Future<Output = ()> + 'static,
    {
        let name = signal.name();
        self.signals.insert(
            name,
            Rc::new(move |workflow, ctx, arguments| {
                let input = decode_input::<I>("signal", name, arguments)?;
                Ok(Box::pin(handler(workflow.clone(), ctx.clone(), input)) as LocalFuture<()>)
            }),
        );
        self
    }

    /// A query handler: reads the workflow's state and returns a value. It cannot issue
    /// commands (it has no context), so a query never changes history.
    pub fn query<I, O>(
        &mut self,
        query: QueryDefinition<I, O>,
        handler: impl Fn(&W, I) -> O + 'static,
    ) -> &mut Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        let name = query.name();
        self.queries.insert(
            name,
            Rc::new(move |workflow, arguments| {
                let input = decode_input::<I>("query", name, arguments)
                    .map_err(|message| failure(PAYLOAD_DECODE_ERROR, message))?;
                encode_result("query", name, &handler(workflow, input))
            }),
        );
        self
    }

    /// An update handler that runs to completion when the update is accepted. Its `Err`
    /// fails the update (the caller gets the error), not the workflow.
    pub fn update<I, O>(
        &mut self,
        update: UpdateDefinition<I, O>,
        handler: impl Fn(&W, &WorkflowContext, I) -> WorkflowResult<O> + 'static,
    ) -> &mut Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        let handler = Rc::new(handler);
        let name = update.name();
        self.updates.insert(
            name,
            Rc::new(move |workflow, ctx, arguments| {
                let input = decode_input::<I>("update", name, arguments)
                    .map_err(|message| failure(PAYLOAD_DECODE_ERROR, message))?;
                let (handler, workflow, ctx) = (handler.clone(), workflow.clone(), ctx.clone());
                Ok(
                    Box::pin(async move { update_outcome(name, handler(&workflow, &ctx, input)) })
                        as LocalFuture<UpdateResult>,
                )
            }),
        );
        self
    }

    /// An update handler that may await. It runs as its own task beside `run`; the caller
    /// waits until it returns.
    pub fn update_async<I, O, F>(
        &mut self,
        update: UpdateDefinition<I, O>,
        handler: impl Fn(Rc<W>, WorkflowContext, I) -> F + 'static,
    ) -> &mut Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Future<Output = WorkflowResult<O>> + 'static,
    {
        let name = update.name();
        self.updates.insert(
            name,
            Rc::new(move |workflow, ctx, arguments| {
                let input = decode_input::<I>("update", name, arguments)
                    .map_err(|message| failure(PAYLOAD_DECODE_ERROR, message))?;
                let future = handler(workflow.clone(), ctx.clone(), input);
                Ok(Box::pin(async move { update_outcome(name, future.await) })
                    as LocalFuture<UpdateResult>)
            }),
        );
        self
    }

    /// A validator for an update: it runs before the update is accepted, reads the state
    /// and the input, and its `Err` rejects the update, which then leaves no trace in
    /// history. It must not change the state.
    pub fn validator<I, O>(
        &mut self,
        update: UpdateDefinition<I, O>,
        validator: impl Fn(&W, &I) -> Result<(), WorkflowError> + 'static,
    ) -> &mut Self
    where
        I: DeserializeOwned + 'static,
    {
        let name = update.name();
        self.validators.insert(
            name,
            Rc::new(move |workflow, arguments| {
                let input = decode_input::<I>("update", name, arguments)
                    .map_err(|message| failure(PAYLOAD_DECODE_ERROR, message))?;
                validator(workflow, &input).map_err(|error| error_failure(name, error))
            }),
        );
        self
    }

    /// Handles signals no typed handler names (the Python SDK's `dynamic=True`): gets
    /// the signal's name and its undecoded arguments.
    pub fn dynamic_signal<F>(
        &mut self,
        handler: impl Fn(Rc<W>, WorkflowContext, String, RawArguments) -> F + 'static,
    ) -> &mut Self
    where
        F: Future<Output = ()> + 'static,
    {
        self.dynamic_signal = Some(Rc::new(move |workflow, ctx, name, arguments| {
            Box::pin(handler(
                workflow.clone(),
                ctx.clone(),
                name.to_owned(),
                arguments,
            ))
        }));
        self
    }

    /// Answers queries no typed handler names.
    pub fn dynamic_query<O: Serialize + 'static>(
        &mut self,
        handler: impl Fn(&W, &str, RawArguments) -> Result<O, WorkflowError> + 'static,
    ) -> &mut Self {
        self.dynamic_query = Some(Rc::new(move |workflow, name, arguments| {
            match handler(workflow, name, arguments) {
                Ok(value) => encode_result("query", name, &value),
                Err(error) => Err(error_failure(name, error)),
            }
        }));
        self
    }

    /// Handles updates no typed handler names (no validator runs for them).
    pub fn dynamic_update<O, F>(
        &mut self,
        handler: impl Fn(Rc<W>, WorkflowContext, String, RawArguments) -> F + 'static,
    ) -> &mut Self
    where
        O: Serialize + 'static,
        F: Future<Output = WorkflowResult<O>> + 'static,
    {
        self.dynamic_update = Some(Rc::new(move |workflow, ctx, name, arguments| {
            let name = name.to_owned();
            let future = handler(workflow.clone(), ctx.clone(), name.clone(), arguments);
            Box::pin(async move {
                let result = future.await;
                update_outcome(&name, result)
            })
        }));
        self
    }

    /// The names this table handles, as `workflow-types` reports them for workflow
    /// type `name`.
    pub(crate) fn describe(&self, name: &str) -> WorkflowDescription {
        WorkflowDescription {
            name: name.to_owned(),
            signals: owned_names(self.signals.keys()),
            queries: owned_names(self.queries.keys()),
            updates: owned_names(self.updates.keys()),
            dynamic_signals: self.dynamic_signal.is_some(),
            dynamic_queries: self.dynamic_query.is_some(),
            dynamic_updates: self.dynamic_update.is_some(),
        }
    }

    /// Binds the handlers to the run's workflow value, erasing its type.
    pub(crate) fn bind(self, workflow: Rc<W>, ctx: WorkflowContext) -> HandlerTable {
        Box::new(Bound {
            handlers: self,
            workflow,
            ctx,
        })
    }
}

/// What the runtime does with one message.
pub(crate) enum Dispatch<T> {
    Handled(T),
    /// No handler has this name; the list says which names there are.
    Unknown(Vec<&'static str>),
}

/// One run's handlers, bound to its workflow value.
pub(crate) type HandlerTable = Box<dyn ErasedHandlers>;

/// What the runtime asks of a run's handlers, whatever the workflow type.
pub(crate) trait ErasedHandlers {
    /// The signal's handler future, or why it was dropped.
    fn signal(
        &self,
        name: &str,
        arguments: Vec<Payload>,
    ) -> Dispatch<Result<LocalFuture<()>, String>>;
    fn query(&self, name: &str, arguments: Vec<Payload>) -> Dispatch<UpdateResult>;
    /// Runs the validator (when asked) and returns the handler's future, or the
    /// rejection.
    fn update(
        &self,
        name: &str,
        arguments: Vec<Payload>,
        run_validator: bool,
    ) -> Dispatch<Result<LocalFuture<UpdateResult>, Failure>>;
}

struct Bound<W> {
    handlers: Handlers<W>,
    workflow: Rc<W>,
    ctx: WorkflowContext,
}

impl<W: 'static> ErasedHandlers for Bound<W> {
    fn signal(
        &self,
        name: &str,
        arguments: Vec<Payload>,
    ) -> Dispatch<Result<LocalFuture<()>, String>> {
        if let Some(handler) = self.handlers.signals.get(name) {
            return Dispatch::Handled(handler(&self.workflow, &self.ctx, &arguments));
        }
        match &self.handlers.dynamic_signal {
            Some(handler) => Dispatch::Handled(Ok(handler(
                &self.workflow,
                &self.ctx,
                name,
                RawArguments {
                    payloads: arguments,
                },
            ))),
            None => Dispatch::Unknown(self.handlers.signals.keys().copied().collect()),
        }
    }

    fn query(&self, name: &str, arguments: Vec<Payload>) -> Dispatch<UpdateResult> {
        if let Some(handler) = self.handlers.queries.get(name) {
            return Dispatch::Handled(handler(&self.workflow, &arguments));
        }
        match &self.handlers.dynamic_query {
            Some(handler) => Dispatch::Handled(handler(
                &self.workflow,
                name,
                RawArguments {
                    payloads: arguments,
                },
            )),
            None => Dispatch::Unknown(self.handlers.queries.keys().copied().collect()),
        }
    }

    fn update(
        &self,
        name: &str,
        arguments: Vec<Payload>,
        run_validator: bool,
    ) -> Dispatch<Result<LocalFuture<UpdateResult>, Failure>> {
        if let Some(handler) = self.handlers.updates.get(name) {
            if run_validator
                && let Some(validator) = self.handlers.validators.get(name)
                && let Err(rejection) = validator(&self.workflow, &arguments)
            {
                return Dispatch::Handled(Err(rejection));
            }
            return Dispatch::Handled(handler(&self.workflow, &self.ctx, &arguments));
        }
        match &self.handlers.dynamic_update {
            Some(handler) => Dispatch::Handled(Ok(handler(
                &self.workflow,
                &self.ctx,
                name,
                RawArguments {
                    payloads: arguments,
                },
            ))),
            None => Dispatch::Unknown(self.handlers.updates.keys().copied().collect()),
        }
    }
}

fn decode_input<I: DeserializeOwned>(
    kind: &str,
    name: &str,
    arguments: &[Payload],
) -> Result<I, String> {
    payload::decode_arguments(arguments).map_err(|error| {
        format!(
            "{kind} {name:?}: its arguments ({} argument{}) do not decode as `{}`: {error}",
            arguments.len(),
            if arguments.len() == 1 { "" } else { "s" },
            std::any::type_name::<I>(),
        )
    })
}

fn encode_result<O: Serialize>(kind: &str, name: &str, value: &O) -> UpdateResult {
    payload::encode(value).map(Some).map_err(|error| {
        failure(
            PAYLOAD_ENCODE_ERROR,
            format!(
                "{kind} {name:?}: its result of type `{}` does not encode as JSON: {error}",
                std::any::type_name::<O>()
            ),
        )
    })
}

fn update_outcome<O: Serialize>(name: &str, result: WorkflowResult<O>) -> UpdateResult {
    match result {
        Ok(value) => encode_result("update", name, &value),
        Err(error) => Err(error_failure(name, error)),
    }
}

/// The failure a handler's error becomes; an error whose detail did not encode is still
/// reported, with the encoding problem as its message.
fn error_failure(name: &str, error: WorkflowError) -> Failure {
    let error_type = error.error_type().to_owned();
    error.into_failure().unwrap_or_else(|message| {
        vec![application_frame(
            format!("{name:?}: {message}"),
            error_type,
            true,
            Vec::new(),
        )]
    })
}

/// A non-retryable application failure written by the SDK.
pub(crate) fn failure(error_type: &str, message: String) -> Failure {
    vec![application_frame(
        message,
        error_type.to_owned(),
        true,
        Vec::new(),
    )]
}

fn owned_names<'a>(names: impl Iterator<Item = &'a &'static str>) -> Vec<String> {
    names.map(|name| (*name).to_owned()).collect()
}
