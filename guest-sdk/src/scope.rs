//! Cancellation scopes: which timers, activities and child workflows a cancellation
//! reaches.
//!
//! Every operation belongs to the scope that was current when it started: the run's root
//! scope, or one entered with [`CancellationScope::run`] or
//! [`WorkflowContext::non_cancellable`](crate::WorkflowContext::non_cancellable). A client's
//! cancellation request cancels the root scope; cancelling a scope cancels the scopes
//! started inside it too, except non-cancellable ones. An operation learns of it when it
//! is next polled (its task is woken), then cancels itself as its cancellation type says
//! and resolves with a cancellation error.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::state::Shared;

/// The root scope's id.
pub(crate) const ROOT: usize = 0;

struct Scope {
    parent: Option<usize>,
    /// Cancellation of the parent does not reach this scope.
    shielded: bool,
    cancelled: Option<String>,
    /// Operations waiting in this scope, by operation id.
    waiters: BTreeMap<u64, Waker>,
}

/// The run's scopes; `current` is the scope whose future is being polled.
pub(crate) struct Scopes {
    scopes: Vec<Scope>,
    pub(crate) current: usize,
    last_operation: u64,
}

impl Default for Scopes {
    fn default() -> Self {
        Self {
            scopes: vec![Scope {
                parent: None,
                shielded: false,
                cancelled: None,
                waiters: BTreeMap::new(),
            }],
            current: ROOT,
            last_operation: 0,
        }
    }
}

impl Scopes {
    /// A new scope inside the current one.
    pub(crate) fn open(&mut self, shielded: bool) -> usize {
        let parent = self.current;
        // A scope opened inside a cancelled one starts cancelled, unless shielded.
        let cancelled = if shielded {
            None
        } else {
            self.scopes[parent].cancelled.clone()
        };
        self.scopes.push(Scope {
            parent: Some(parent),
            shielded,
            cancelled,
            waiters: BTreeMap::new(),
        });
        self.scopes.len() - 1
    }

    /// An id for a new operation, and the scope it belongs to.
    pub(crate) fn enlist(&mut self) -> (usize, u64) {
        self.last_operation += 1;
        (self.current, self.last_operation)
    }

    /// Why `scope` was cancelled, if it was.
    pub(crate) fn cancelled(&self, scope: usize) -> Option<&str> {
        self.scopes.get(scope)?.cancelled.as_deref()
    }

    /// Remembers who to wake if `scope` is cancelled while `operation` waits.
    pub(crate) fn watch(&mut self, scope: usize, operation: u64, waker: &Waker) {
        if let Some(scope) = self.scopes.get_mut(scope) {
            match scope.waiters.get(&operation) {
                Some(known) if known.will_wake(waker) => {}
                _ => {
                    scope.waiters.insert(operation, waker.clone());
                }
            }
        }
    }

    pub(crate) fn unwatch(&mut self, scope: usize, operation: u64) {
        if let Some(scope) = self.scopes.get_mut(scope) {
            scope.waiters.remove(&operation);
        }
    }

    /// Cancels `scope` and the unshielded scopes inside it; returns the wakers of their
    /// waiting operations, to call once no borrow is held.
    pub(crate) fn cancel(&mut self, scope: usize, reason: &str) -> Vec<Waker> {
        let mut wakers = Vec::new();
        let mut pending = vec![scope];
        while let Some(id) = pending.pop() {
            let Some(node) = self.scopes.get_mut(id) else {
                continue;
            };
            if node.cancelled.is_some() {
                continue;
            }
            node.cancelled = Some(reason.to_owned());
            wakers.extend(std::mem::take(&mut node.waiters).into_values());
            pending.extend(
                self.scopes
                    .iter()
                    .enumerate()
                    .filter(|(_, child)| child.parent == Some(id) && !child.shielded)
                    .map(|(child, _)| child),
            );
        }
        wakers
    }
}

/// A group of operations that can be cancelled together.
///
/// ```
/// # use std::time::Duration;
/// # use sandglass::WorkflowContext;
/// # async fn example(ctx: WorkflowContext) {
/// let scope = ctx.cancellation_scope();
/// let work = scope.run(|| ctx.sleep(Duration::from_secs(3600)));
/// scope.cancel("changed my mind");
/// assert!(work.await.is_err()); // the timer was cancelled
/// # }
/// ```
#[derive(Clone)]
pub struct CancellationScope {
    shared: Rc<Shared>,
    id: usize,
}

impl CancellationScope {
    pub(crate) fn open(shared: &Rc<Shared>, shielded: bool) -> Self {
        let id = shared.state.borrow_mut().scopes.open(shielded);
        Self {
            shared: shared.clone(),
            id,
        }
    }

    /// Makes a future with `make` and runs it in this scope: the operations `make`
    /// starts, and those the future starts while it runs, belong to the scope. (A closure,
    /// because workflow operations start when they are called, not when first polled.)
    pub fn run<F: Future>(&self, make: impl FnOnce() -> F) -> InScope<F> {
        let outer = self.enter();
        let future = make();
        self.shared.state.borrow_mut().scopes.current = outer;
        InScope {
            shared: self.shared.clone(),
            scope: self.id,
            future: Box::pin(future),
        }
    }

    /// Makes this the current scope; returns the one to restore.
    fn enter(&self) -> usize {
        std::mem::replace(&mut self.shared.state.borrow_mut().scopes.current, self.id)
    }

    /// Cancels every operation of this scope (and of the unshielded scopes inside it)
    /// that has not finished; operations started in it later are cancelled at once.
    pub fn cancel(&self, reason: &str) {
        let wakers = self
            .shared
            .state
            .borrow_mut()
            .scopes
            .cancel(self.id, reason);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Whether the scope has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.shared
            .state
            .borrow()
            .scopes
            .cancelled(self.id)
            .is_some()
    }
}

/// A future running in a cancellation scope; see [`CancellationScope::run`].
#[must_use = "futures do nothing unless awaited"]
pub struct InScope<F: Future> {
    shared: Rc<Shared>,
    scope: usize,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let outer = std::mem::replace(
            &mut this.shared.state.borrow_mut().scopes.current,
            this.scope,
        );
        let polled = this.future.as_mut().poll(cx);
        this.shared.state.borrow_mut().scopes.current = outer;
        polled
    }
}
