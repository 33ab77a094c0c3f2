//! The activity functions a worker serves, by Temporal activity type name.

use sandglass_declare::failure_types::{
    PANIC, PAYLOAD_DECODE_ERROR, PAYLOAD_ENCODE_ERROR, WORKER_SHUTDOWN,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use sandglass_declare::ActivityDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use tokio::sync::oneshot;

use super::{ActivityContext, ActivityFailure, ActivityThreadPool};
use crate::payload::{from_arguments, to_payload};

type SyncActivity =
    Arc<dyn Fn(&ActivityContext, &[Payload]) -> Result<Payload, ActivityFailure> + Send + Sync>;
type AsyncActivity = Arc<
    dyn Fn(ActivityContext, Vec<Payload>) -> BoxFuture<'static, Result<Payload, ActivityFailure>>
        + Send
        + Sync,
>;

#[derive(Clone)]
enum Registered {
    Sync(SyncActivity),
    Async(AsyncActivity),
}

/// How one activity invocation ended.
#[derive(Debug)]
pub enum ActivityOutcome {
    Completed(Payload),
    Failed(Failure),
    Cancelled(Failure),
    /// The activity returned [`ActivityFailure::will_complete_async`]; a client finishes it.
    WillCompleteAsync,
}

/// Activity implementations keyed by activity type name.
#[derive(Clone, Default)]
pub struct ActivityRegistry {
    activities: BTreeMap<String, Registered>,
}

impl ActivityRegistry {
    /// Registers a blocking function; it runs on the worker's activity thread pool.
    ///
    /// Registering a name twice replaces the earlier function.
    pub fn register_sync<I, O, F>(&mut self, definition: ActivityDefinition<I, O>, function: F)
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Fn(&ActivityContext, I) -> Result<O, ActivityFailure> + Send + Sync + 'static,
    {
        let activity: SyncActivity = Arc::new(move |ctx, arguments| {
            let input = decode_input::<I>(definition.name(), arguments)?;
            encode_output(function(ctx, input)?)
        });
        self.insert(definition.name(), Registered::Sync(activity));
    }

    /// Registers an async function; it runs on tokio and must not block.
    ///
    /// Registering a name twice replaces the earlier function.
    pub fn register_async<I, O, F, Fut>(
        &mut self,
        definition: ActivityDefinition<I, O>,
        function: F,
    ) where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + 'static,
        F: Fn(ActivityContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ActivityFailure>> + Send + 'static,
    {
        let function = Arc::new(function);
        let activity: AsyncActivity = Arc::new(move |ctx, arguments| {
            let function = function.clone();
            async move {
                let input = decode_input::<I>(definition.name(), &arguments)?;
                encode_output(function(ctx, input).await?)
            }
            .boxed()
        });
        self.insert(definition.name(), Registered::Async(activity));
    }

    fn insert(&mut self, name: &str, activity: Registered) {
        if self.activities.insert(name.to_owned(), activity).is_some() {
            tracing::warn!(
                activity_type = name,
                "activity registered twice; the last registration wins"
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.activities.is_empty()
    }

    /// Registered activity type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.activities.keys().map(String::as_str)
    }

    /// Runs activity `name`, catching panics; `None` when no such activity is registered.
    pub async fn execute(
        &self,
        pool: &ActivityThreadPool,
        name: &str,
        ctx: ActivityContext,
        arguments: Vec<Payload>,
    ) -> Option<ActivityOutcome> {
        let result = match self.activities.get(name)?.clone() {
            Registered::Sync(activity) => {
                let (done_tx, done_rx) = oneshot::channel();
                let job_ctx = ctx.clone();
                let queued = pool.execute(move || {
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        activity(&job_ctx, &arguments)
                    }))
                    .unwrap_or_else(|panic| Err(panicked(panic)));
                    // The receiver is gone only if the worker stopped waiting; nothing to do.
                    let _ = done_tx.send(result);
                });
                match queued {
                    Ok(()) => done_rx.await.unwrap_or_else(|_| {
                        Err(ActivityFailure::application(
                            WORKER_SHUTDOWN,
                            "the activity thread pool shut down before the activity finished",
                        ))
                    }),
                    Err(closed) => Err(ActivityFailure::application(
                        WORKER_SHUTDOWN,
                        closed.to_string(),
                    )),
                }
            }
            Registered::Async(activity) => AssertUnwindSafe(activity(ctx.clone(), arguments))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(panicked(panic))),
        };
        Some(match result {
            Ok(payload) => ActivityOutcome::Completed(payload),
            // Checked before cancellation: the token is already handed out, and whoever
            // holds it reports the cancellation (a heartbeat through the handle says so).
            Err(error) if error.is_will_complete_async() => ActivityOutcome::WillCompleteAsync,
            Err(error) if error.is_cancelled() || ctx.is_cancelled() => {
                ActivityOutcome::Cancelled(ActivityFailure::cancelled().into_failure())
            }
            Err(error) => ActivityOutcome::Failed(error.into_failure()),
        })
    }
}

fn decode_input<I: DeserializeOwned>(
    activity_type: &str,
    arguments: &[Payload],
) -> Result<I, ActivityFailure> {
    from_arguments(arguments).map_err(|error| {
        ActivityFailure::application(
            PAYLOAD_DECODE_ERROR,
            format!(
                "input of activity `{activity_type}` does not decode as {}: {error}",
                std::any::type_name::<I>()
            ),
        )
    })
}

fn encode_output<O: Serialize>(output: O) -> Result<Payload, ActivityFailure> {
    to_payload(&output).map_err(|error| {
        ActivityFailure::application(
            PAYLOAD_ENCODE_ERROR,
            format!("activity result does not encode as JSON: {error}"),
        )
        .non_retryable()
    })
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> ActivityFailure {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    ActivityFailure::application(PANIC, format!("activity panicked: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ActivityInfo;
    use crate::payload::from_payload;

    const GREET: ActivityDefinition<String, String> = ActivityDefinition::new("greet");
    const BOOM: ActivityDefinition<(), ()> = ActivityDefinition::new("boom");

    fn ctx() -> ActivityContext {
        ActivityContext::new(ActivityInfo::default(), Arc::new(|_| {}))
    }

    #[tokio::test]
    async fn sync_and_async_activities_run_and_panics_become_failures() {
        let mut registry = ActivityRegistry::default();
        registry.register_sync(GREET, |_, name: String| Ok(format!("Hello, {name}!")));
        registry.register_async(BOOM, |_, ()| async { panic!("kaboom") });
        let pool = ActivityThreadPool::new(2);

        let outcome = registry
            .execute(&pool, "greet", ctx(), vec![to_payload("Ada").unwrap()])
            .await;
        match outcome {
            Some(ActivityOutcome::Completed(p)) => {
                assert_eq!(from_payload::<String>(&p).unwrap(), "Hello, Ada!")
            }
            other => panic!("unexpected {other:?}"),
        }
        match registry.execute(&pool, "boom", ctx(), vec![]).await {
            Some(ActivityOutcome::Failed(f)) => assert!(f.message.contains("kaboom")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            registry
                .execute(&pool, "nope", ctx(), vec![])
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn will_complete_async_wins_over_cancellation() {
        let mut registry = ActivityRegistry::default();
        registry.register_sync(GREET, |_, _: String| {
            Err::<String, _>(ActivityFailure::will_complete_async())
        });
        let pool = ActivityThreadPool::new(1);
        let cancelled = ctx();
        cancelled.request_cancel(crate::activity::CancellationReason::Requested);
        let outcome = registry
            .execute(&pool, "greet", cancelled, vec![to_payload("Ada").unwrap()])
            .await;
        assert!(
            matches!(outcome, Some(ActivityOutcome::WillCompleteAsync)),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn bad_input_is_a_decode_failure() {
        let mut registry = ActivityRegistry::default();
        registry.register_sync(GREET, |_, name: String| Ok(name));
        let pool = ActivityThreadPool::new(1);
        match registry
            .execute(&pool, "greet", ctx(), vec![to_payload(&5).unwrap()])
            .await
        {
            Some(ActivityOutcome::Failed(f)) => {
                assert!(f.message.contains("does not decode"), "{}", f.message)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
