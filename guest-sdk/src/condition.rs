//! Waiting on the workflow's own state: `wait_condition` and the cancellation request.
//!
//! Nothing wakes a condition when the state it reads changes (the state is plain memory),
//! so a pending condition leaves its waker with the run, and the runtime re-polls those
//! tasks each time the run stalls, until a round in which no condition came true.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::Cancelled;
use crate::scope::ROOT;
use crate::state::Shared;
use crate::timer::Sleep;

/// Ready once `condition` returns true; checked when polled and whenever the run stalls.
/// A cancelled scope ends the wait with [`Cancelled`].
pub(crate) struct WaitCondition {
    shared: Rc<Shared>,
    condition: Box<dyn FnMut() -> bool>,
    scope: usize,
    operation: u64,
}

impl WaitCondition {
    pub(crate) fn new(shared: Rc<Shared>, condition: impl FnMut() -> bool + 'static) -> Self {
        let (scope, operation) = shared.state.borrow_mut().scopes.enlist();
        Self {
            shared,
            condition: Box::new(condition),
            scope,
            operation,
        }
    }
}

impl Future for WaitCondition {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cancelled = {
            let state = this.shared.state.borrow();
            state.scopes.cancelled(this.scope).map(Cancelled::new)
        };
        if let Some(cancelled) = cancelled {
            this.shared
                .state
                .borrow_mut()
                .scopes
                .unwatch(this.scope, this.operation);
            return Poll::Ready(Err(cancelled));
        }
        // No borrow of the state is held here: the condition may read it.
        if (this.condition)() {
            let mut state = this.shared.state.borrow_mut();
            state.conditions_met += 1;
            state.scopes.unwatch(this.scope, this.operation);
            return Poll::Ready(Ok(()));
        }
        let mut state = this.shared.state.borrow_mut();
        state.condition_waiters.push(cx.waker().clone());
        state.scopes.watch(this.scope, this.operation, cx.waker());
        Poll::Pending
    }
}

impl Drop for WaitCondition {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.try_borrow_mut() {
            state.scopes.unwatch(self.scope, self.operation);
        }
    }
}

/// `true` once the condition holds, `false` when the timer fires first; a condition that
/// wins cancels the timer. A cancelled scope cancels the timer and ends the wait.
pub(crate) struct WaitConditionTimeout {
    condition: WaitCondition,
    timer: Sleep,
}

impl WaitConditionTimeout {
    pub(crate) fn new(condition: WaitCondition, timer: Sleep) -> Self {
        Self { condition, timer }
    }
}

impl Future for WaitConditionTimeout {
    type Output = Result<bool, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(outcome) = Pin::new(&mut this.condition).poll(cx) {
            this.timer.cancel();
            return Poll::Ready(outcome.map(|()| true));
        }
        Pin::new(&mut this.timer)
            .poll(cx)
            .map(|fired| fired.map(|()| false))
    }
}

/// Ready with the reason once a client has asked to cancel the run: once the root scope
/// is cancelled.
pub(crate) struct CancelRequested {
    shared: Rc<Shared>,
    operation: u64,
}

impl CancelRequested {
    pub(crate) fn new(shared: Rc<Shared>) -> Self {
        let (_, operation) = shared.state.borrow_mut().scopes.enlist();
        Self { shared, operation }
    }
}

impl Future for CancelRequested {
    type Output = String;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        let mut state = self.shared.state.borrow_mut();
        match state.scopes.cancelled(ROOT).map(str::to_owned) {
            Some(reason) => {
                state.scopes.unwatch(ROOT, self.operation);
                Poll::Ready(reason)
            }
            None => {
                state.scopes.watch(ROOT, self.operation, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for CancelRequested {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.try_borrow_mut() {
            state.scopes.unwatch(ROOT, self.operation);
        }
    }
}
