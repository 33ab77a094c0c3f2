//! The state of one run that the context, the futures and the runtime share.
//!
//! One `Shared` exists per run, behind an `Rc`: the run's [`WorkflowContext`] clones and
//! every pending activity or timer future hold it. Borrows of `state` are short and never
//! span user code or a waker call, so no borrow can fail at run time.
//!
//! [`WorkflowContext`]: crate::WorkflowContext

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use crate::WorkflowInfo;
use crate::bindings::exports::sandglass::workflow::guest::{
    Activation, ActivityResolution, ChildResolution, ChildStartResolution, Command,
};
use crate::bindings::sandglass::workflow::types::{Failure, Payload};
use crate::random::Rng;
use crate::time::to_system_time;

/// What every handle to the run shares.
pub(crate) struct Shared {
    pub(crate) info: WorkflowInfo,
    pub(crate) state: RefCell<RunState>,
}

/// The run's mutable state.
pub(crate) struct RunState {
    /// Workflow time: the timestamp of the activation being applied.
    pub(crate) now: SystemTime,
    pub(crate) is_replaying: bool,
    pub(crate) history_length: u32,
    pub(crate) rng: Rng,
    pub(crate) activities: Slots<ActivityResolution>,
    pub(crate) timers: Slots<()>,
    /// Commands issued since the last activation, in order.
    commands: Vec<Command>,
    /// Whether the run's final command (complete or fail) has been issued.
    finished: bool,
    /// Why the current workflow task must fail, if it must.
    task_failure: Option<TaskFailure>,
    /// Tasks waiting in `wait_condition`, re-polled whenever the run stalls.
    pub(crate) condition_waiters: Vec<Waker>,
    /// How many conditions have come true, so the runtime knows whether re-polling
    /// them made progress.
    pub(crate) conditions_met: u64,
    pub(crate) scopes: crate::scope::Scopes,
    /// Patches the history has markers for (`notify-has-patch`).
    pub(crate) patches_in_history: std::collections::BTreeSet<String>,
    /// What `patched` answered for each id, so every call in a run agrees.
    pub(crate) patches_decided: BTreeMap<String, bool>,
    pub(crate) history_size_bytes: u64,
    pub(crate) continue_as_new_suggested: bool,
    /// Memo and search attributes as of the start, with the run's own upserts.
    pub(crate) memo: BTreeMap<String, Payload>,
    pub(crate) search_attributes: BTreeMap<String, Payload>,
    pub(crate) children: Slots<ChildResolution>,
    pub(crate) child_starts: Slots<ChildStartResolution>,
    /// Signals to and cancellation requests of other workflows: the failure, if any.
    pub(crate) externals: Slots<Option<Failure>>,
    /// Signal and update handlers still running, by id, with their kind and name.
    pub(crate) running_handlers: BTreeMap<u64, (&'static str, String)>,
    last_handler_id: u64,
}

/// A reason to fail the workflow task (not the workflow): a bug in the workflow or its
/// data that a redeploy can fix, or a host that broke the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskFailure {
    /// A stable name for the kind of problem, written as the failure's error type.
    pub(crate) error_type: &'static str,
    pub(crate) message: String,
}

impl RunState {
    /// The state at the start of a run, from the activation that initializes it.
    pub(crate) fn new(activation: &Activation, seed: u64) -> Self {
        let mut state = Self {
            now: SystemTime::UNIX_EPOCH,
            is_replaying: false,
            history_length: 0,
            rng: Rng::new(seed),
            activities: Slots::default(),
            timers: Slots::default(),
            commands: Vec::new(),
            finished: false,
            task_failure: None,
            condition_waiters: Vec::new(),
            conditions_met: 0,
            running_handlers: BTreeMap::new(),
            last_handler_id: 0,
            scopes: crate::scope::Scopes::default(),
            patches_in_history: std::collections::BTreeSet::new(),
            patches_decided: BTreeMap::new(),
            history_size_bytes: 0,
            continue_as_new_suggested: false,
            memo: BTreeMap::new(),
            search_attributes: BTreeMap::new(),
            children: Slots::default(),
            child_starts: Slots::default(),
            externals: Slots::default(),
        };
        state.observe(activation);
        state
    }

    /// Takes the clock and replay facts of a new activation.
    pub(crate) fn observe(&mut self, activation: &Activation) {
        self.now = to_system_time(activation.timestamp);
        self.is_replaying = activation.is_replaying;
        self.history_length = activation.history_length;
        self.history_size_bytes = activation.history_size_bytes;
        self.continue_as_new_suggested = activation.continue_as_new_suggested;
    }

    /// Issues a command, unless the run has already issued its final one.
    pub(crate) fn push_command(&mut self, command: Command) {
        if !self.finished {
            self.commands.push(command);
        }
    }

    /// Issues an answer to a query or update; unlike other commands these are still
    /// due after the run has finished (a query of a completed workflow).
    pub(crate) fn push_reply(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Cancels timer `seq` if Temporal still has it (a `cancel-timer` command) and forgets
    /// it; returns the waker of whoever waited, to call once no borrow is held.
    pub(crate) fn cancel_timer(&mut self, seq: u32) -> Option<Waker> {
        if self.timers.is_waiting(seq) {
            self.push_command(Command::CancelTimer(seq));
        }
        self.timers.cancel(seq)
    }

    /// Counts a handler task in; its id counts it out in `handler_finished`.
    pub(crate) fn handler_started(&mut self, kind: &'static str, name: String) -> u64 {
        self.last_handler_id += 1;
        self.running_handlers
            .insert(self.last_handler_id, (kind, name));
        self.last_handler_id
    }

    pub(crate) fn handler_finished(&mut self, id: u64) {
        self.running_handlers.remove(&id);
    }

    /// Issues the run's final command; only the first call has an effect.
    pub(crate) fn finish(&mut self, command: Command) {
        self.push_command(command);
        self.finished = true;
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Records why the workflow task must fail; the first reason wins.
    pub(crate) fn fail_task(&mut self, error_type: &'static str, message: String) {
        self.task_failure.get_or_insert(TaskFailure {
            error_type,
            message,
        });
    }

    pub(crate) fn has_task_failure(&self) -> bool {
        self.task_failure.is_some()
    }

    pub(crate) fn take_task_failure(&mut self) -> Option<TaskFailure> {
        self.task_failure.take()
    }

    pub(crate) fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }
}

/// Results awaited by sequence number, for one kind of command (activities or timers).
///
/// Each slot moves `Waiting → Ready → (removed)` when its future is polled, or
/// `Waiting → Abandoned → (removed)` when its future is dropped first.
///
/// | state       | host resolves             | future polled            | future dropped |
/// |-------------|---------------------------|--------------------------|----------------|
/// | (none)      | error: unknown or repeated| pending forever          | nothing        |
/// | `Waiting`   | → `Ready`, wake           | store waker, pending     | → `Abandoned`  |
/// | `Ready`     | error: repeated           | → removed, ready         | → removed      |
/// | `Abandoned` | → removed                 | (cannot happen)          | (cannot happen)|
pub(crate) struct Slots<T> {
    /// The last sequence number handed out; numbers start at 1.
    last_seq: u32,
    slots: BTreeMap<u32, Slot<T>>,
}

enum Slot<T> {
    Waiting(Option<Waker>),
    Ready(T),
    Abandoned,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            last_seq: 0,
            slots: BTreeMap::new(),
        }
    }
}

impl<T> Slots<T> {
    /// Hands out the next sequence number and waits for its result.
    ///
    /// Numbers wrap after `u32::MAX`; a run cannot get there, since Temporal ends a run
    /// whose history exceeds 51,200 events.
    pub(crate) fn allocate(&mut self) -> u32 {
        self.last_seq = self.last_seq.wrapping_add(1);
        self.slots.insert(self.last_seq, Slot::Waiting(None));
        self.last_seq
    }

    /// Stores the result for `seq`, returning the waker to call (after releasing any
    /// borrow of the state). `Err` says why the host should not have sent it.
    pub(crate) fn resolve(&mut self, seq: u32, value: T) -> Result<Option<Waker>, String> {
        match self.slots.get_mut(&seq) {
            Some(slot @ Slot::Waiting(_)) => match std::mem::replace(slot, Slot::Ready(value)) {
                Slot::Waiting(waker) => Ok(waker),
                _ => Ok(None),
            },
            Some(Slot::Abandoned) => {
                self.slots.remove(&seq);
                Ok(None)
            }
            Some(Slot::Ready(_)) => Err(format!("seq {seq} was resolved twice")),
            None if seq == 0 || seq > self.last_seq => Err(format!(
                "seq {seq} was never issued by this run (the last issued is {})",
                self.last_seq
            )),
            None => Err(format!("seq {seq} was resolved twice")),
        }
    }

    /// Takes the result for `seq` if it has arrived, or remembers who to wake.
    pub(crate) fn poll(&mut self, seq: u32, cx: &Context<'_>) -> Poll<T> {
        match self.slots.get_mut(&seq) {
            Some(Slot::Waiting(waker)) => {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Some(Slot::Ready(_)) => match self.slots.remove(&seq) {
                Some(Slot::Ready(value)) => Poll::Ready(value),
                _ => Poll::Pending,
            },
            // Polled after completion, or abandoned: never ready again.
            Some(Slot::Abandoned) | None => Poll::Pending,
        }
    }

    /// The result for `seq`, if it has arrived and not been taken.
    pub(crate) fn ready(&self, seq: u32) -> Option<&T> {
        match self.slots.get(&seq) {
            Some(Slot::Ready(value)) => Some(value),
            _ => None,
        }
    }

    /// Whether `seq` is still waiting for its result.
    pub(crate) fn is_waiting(&self, seq: u32) -> bool {
        matches!(self.slots.get(&seq), Some(Slot::Waiting(_)))
    }

    /// Waits for a second result under a seq handed out by another `Slots` (a child's
    /// completion, after its start).
    pub(crate) fn expect(&mut self, seq: u32) {
        self.last_seq = self.last_seq.max(seq);
        self.slots.insert(seq, Slot::Waiting(None));
    }

    /// Forgets `seq` because its command was cancelled and the host will never resolve
    /// it; returns the waker of whoever waited, to call once no borrow is held.
    pub(crate) fn cancel(&mut self, seq: u32) -> Option<Waker> {
        match self.slots.remove(&seq) {
            Some(Slot::Waiting(waker)) => waker,
            _ => None,
        }
    }

    /// The future for `seq` is gone: a result that has arrived is dropped, one that has
    /// not will be dropped when it arrives.
    pub(crate) fn abandon(&mut self, seq: u32) {
        match self.slots.get_mut(&seq) {
            Some(slot @ Slot::Waiting(_)) => *slot = Slot::Abandoned,
            Some(Slot::Ready(_)) => {
                self.slots.remove(&seq);
            }
            Some(Slot::Abandoned) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn slots_follow_their_table() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let cx = Context::from_waker(&waker);
        let mut slots = Slots::<&str>::default();
        let (a, b) = (slots.allocate(), slots.allocate());
        assert_eq!((a, b), (1, 2));

        assert_eq!(slots.poll(a, &cx), Poll::Pending);
        let to_wake = slots.resolve(a, "done").unwrap();
        to_wake.unwrap().wake();
        assert_eq!(counter.0.load(Ordering::Relaxed), 1);
        assert!(slots.resolve(a, "again").unwrap_err().contains("twice"));
        assert_eq!(slots.poll(a, &cx), Poll::Ready("done"));
        assert_eq!(slots.poll(a, &cx), Poll::Pending);
        assert!(slots.resolve(a, "late").unwrap_err().contains("twice"));

        slots.abandon(b);
        assert!(slots.resolve(b, "ignored").unwrap().is_none());
        assert!(slots.slots.is_empty());

        let error = slots.resolve(9, "never").unwrap_err();
        assert!(
            error.contains("never issued") && error.contains("last issued is 2"),
            "{error}"
        );
        assert!(
            slots
                .resolve(0, "zero")
                .unwrap_err()
                .contains("never issued")
        );
    }
}
