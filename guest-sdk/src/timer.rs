//! Durable timers: `start-timer` commands and the futures that wait for them to fire.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::bindings::exports::sandglass::workflow::guest::{Command, StartTimer};
use crate::error::Cancelled;
use crate::state::Shared;
use crate::time::to_wit_duration;

/// Starts a timer (none for a zero duration, or in a cancelled scope) and returns the
/// future that waits for it.
pub(crate) fn start(shared: &Rc<Shared>, duration: Duration) -> Sleep {
    let mut state = shared.state.borrow_mut();
    let (scope, operation) = state.scopes.enlist();
    let mut sleep = Sleep {
        shared: shared.clone(),
        seq: None,
        scope,
        operation,
        cancelled: None,
    };
    if duration.is_zero() {
        return sleep;
    }
    if let Some(reason) = state.scopes.cancelled(scope) {
        sleep.cancelled = Some(Cancelled::new(reason));
        return sleep;
    }
    let seq = state.timers.allocate();
    state.push_command(Command::StartTimer(StartTimer {
        seq,
        duration: to_wit_duration(duration),
    }));
    sleep.seq = Some(seq);
    sleep
}

/// Waits for a durable timer to fire; see
/// [`WorkflowContext::sleep`](crate::WorkflowContext::sleep).
#[must_use = "a timer does nothing unless awaited"]
pub struct Sleep {
    shared: Rc<Shared>,
    /// `None` once fired or cancelled, or when no timer was needed.
    seq: Option<u32>,
    scope: usize,
    operation: u64,
    /// Set when the timer was cancelled; handed out on the next poll.
    cancelled: Option<Cancelled>,
}

impl Sleep {
    /// Cancels the timer if it has not fired (a `cancel-timer` command, so Temporal
    /// never fires it). The future then resolves with [`Cancelled`]; cancelling a timer
    /// that fired, or twice, does nothing.
    pub fn cancel(&mut self) {
        self.cancel_with("the timer was cancelled");
    }

    fn cancel_with(&mut self, reason: &str) {
        let Some(seq) = self.seq.take() else {
            return;
        };
        let mut state = self.shared.state.borrow_mut();
        state.scopes.unwatch(self.scope, self.operation);
        if state.timers.ready(seq).is_some() {
            // It fired in this activation before anyone looked: it counts as fired.
            state.timers.cancel(seq);
            return;
        }
        // This future was the only waiter; there is no one to wake.
        let _waiter = state.cancel_timer(seq);
        self.cancelled = Some(Cancelled::new(reason));
    }
}

impl Future for Sleep {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(seq) = this.seq else {
            return Poll::Ready(this.cancelled.take().map_or(Ok(()), Err));
        };
        let scope_cancelled = {
            let state = this.shared.state.borrow();
            state.scopes.cancelled(this.scope).map(str::to_owned)
        };
        if let Some(reason) = scope_cancelled {
            this.cancel_with(&reason);
            return Poll::Ready(this.cancelled.take().map_or(Ok(()), Err));
        }
        let mut state = this.shared.state.borrow_mut();
        let polled = state.timers.poll(seq, cx);
        if polled.is_ready() {
            this.seq = None;
            state.scopes.unwatch(this.scope, this.operation);
        } else {
            state.scopes.watch(this.scope, this.operation, cx.waker());
        }
        polled.map(Ok)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.try_borrow_mut() {
            state.scopes.unwatch(self.scope, self.operation);
            if let Some(seq) = self.seq {
                state.timers.abandon(seq);
            }
        }
    }
}
