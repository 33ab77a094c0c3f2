//! Durable timers: `start-timer` commands and the futures that wait for them to fire.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::bindings::exports::sandglass::workflow::guest::{Command, StartTimer};
use crate::state::Shared;
use crate::time::to_wit_duration;

/// Starts a timer (none for a zero duration) and returns the future that waits for it.
pub(crate) fn start(shared: &Rc<Shared>, duration: Duration) -> Sleep {
    if duration.is_zero() {
        return Sleep {
            shared: shared.clone(),
            seq: None,
        };
    }
    let mut state = shared.state.borrow_mut();
    let seq = state.timers.allocate();
    state.push_command(Command::StartTimer(StartTimer {
        seq,
        duration: to_wit_duration(duration),
    }));
    Sleep {
        shared: shared.clone(),
        seq: Some(seq),
    }
}

/// Waits for one timer; ready at once when there is none (zero duration).
pub(crate) struct Sleep {
    shared: Rc<Shared>,
    /// `None` once fired, or when no timer was needed.
    seq: Option<u32>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(seq) = this.seq else {
            return Poll::Ready(());
        };
        let polled = this.shared.state.borrow_mut().timers.poll(seq, cx);
        if polled.is_ready() {
            this.seq = None;
        }
        polled
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(seq) = self.seq
            && let Ok(mut state) = self.shared.state.try_borrow_mut()
        {
            state.timers.abandon(seq);
        }
    }
}
