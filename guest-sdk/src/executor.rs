//! A deterministic single-threaded executor: a list of tasks polled in the order they
//! were spawned.
//!
//! Each task has its own waker, which only raises the task's flag. Running means: poll
//! every flagged task, first to last, and start over while any was polled; stop when a
//! pass finds no flag raised (everything is waiting on the host) or when the caller says
//! to. Which tasks run, and in what order, thus depends only on what the tasks and the
//! host's jobs did, never on timing, so a replay makes the same commands in the same order.
//!
//! A run's first task is its `run` future; signal and update handlers run as further
//! tasks beside it. A handler's task is polled once the moment it is spawned, so a handler
//! sees its message before the other jobs of the activation wake anything (the order
//! Temporal's SDKs give: messages first, then resolutions).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};

/// A task's wakeup flag. Atomic only because `Waker` requires `Send + Sync`; nothing
/// here runs on another thread.
struct WakeFlag(AtomicBool);

impl WakeFlag {
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    flag: Arc<WakeFlag>,
    waker: Waker,
}

/// The run's tasks, in spawn order.
#[derive(Default)]
pub(crate) struct Executor {
    tasks: Vec<Task>,
}

impl Executor {
    /// Adds a task at the end of the list, flagged so the next run polls it.
    pub(crate) fn spawn(&mut self, future: impl Future<Output = ()> + 'static) {
        let flag = Arc::new(WakeFlag(AtomicBool::new(true)));
        self.tasks.push(Task {
            future: Box::pin(future),
            waker: Waker::from(flag.clone()),
            flag,
        });
    }

    /// Adds a task at the end of the list and polls it once at once; it stays in the
    /// list if it is not done.
    pub(crate) fn spawn_and_poll(&mut self, future: impl Future<Output = ()> + 'static) {
        self.spawn(future);
        let index = self.tasks.len() - 1;
        let task = &mut self.tasks[index];
        task.flag.take();
        let mut cx = Context::from_waker(&task.waker);
        if task.future.as_mut().poll(&mut cx).is_ready() {
            self.tasks.remove(index);
        }
    }

    /// Polls flagged tasks in order until none is flagged, or until `stop` (asked after
    /// every poll) returns true. Finished tasks are dropped.
    pub(crate) fn run_until_stalled(&mut self, mut stop: impl FnMut() -> bool) {
        loop {
            let mut polled_any = false;
            let mut index = 0;
            while let Some(task) = self.tasks.get_mut(index) {
                if !task.flag.take() {
                    index += 1;
                    continue;
                }
                polled_any = true;
                let mut cx = Context::from_waker(&task.waker);
                if task.future.as_mut().poll(&mut cx).is_ready() {
                    self.tasks.remove(index);
                } else {
                    index += 1;
                }
                if stop() {
                    return;
                }
            }
            if !polled_any {
                return;
            }
        }
    }

    /// How many tasks have not finished.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::task::Poll;

    /// Pending until `gate` holds a waker and has been opened.
    #[derive(Default)]
    struct Gate {
        open: bool,
        waker: Option<Waker>,
    }

    fn wait(gate: Rc<RefCell<Gate>>) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            let mut gate = gate.borrow_mut();
            if gate.open {
                Poll::Ready(())
            } else {
                gate.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    fn open(gate: &Rc<RefCell<Gate>>) {
        let waker = {
            let mut gate = gate.borrow_mut();
            gate.open = true;
            gate.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    #[test]
    fn tasks_run_in_spawn_order_and_wake_each_other() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let gate = Rc::new(RefCell::new(Gate::default()));
        let mut executor = Executor::default();

        let (l, g) = (log.clone(), gate.clone());
        executor.spawn(async move {
            l.borrow_mut().push("a starts");
            wait(g).await;
            l.borrow_mut().push("a resumes");
        });
        let (l, g) = (log.clone(), gate.clone());
        executor.spawn(async move {
            l.borrow_mut().push("b opens the gate");
            open(&g);
        });
        executor.run_until_stalled(|| false);

        assert_eq!(*log.borrow(), ["a starts", "b opens the gate", "a resumes"]);
        assert_eq!(executor.len(), 0);
    }

    #[test]
    fn stalls_until_woken_from_outside() {
        let gate = Rc::new(RefCell::new(Gate::default()));
        let done = Rc::new(RefCell::new(false));
        let mut executor = Executor::default();
        let (g, d) = (gate.clone(), done.clone());
        executor.spawn(async move {
            wait(g).await;
            *d.borrow_mut() = true;
        });
        executor.run_until_stalled(|| false);
        assert!(!*done.borrow());
        executor.run_until_stalled(|| false); // nothing flagged: no poll
        assert!(!*done.borrow());
        open(&gate);
        executor.run_until_stalled(|| false);
        assert!(*done.borrow());
    }

    #[test]
    fn stop_is_checked_after_every_poll() {
        let polls = Rc::new(RefCell::new(0));
        let mut executor = Executor::default();
        for _ in 0..3 {
            let p = polls.clone();
            executor.spawn(async move { *p.borrow_mut() += 1 });
        }
        executor.run_until_stalled(|| *polls.borrow() == 2);
        assert_eq!(*polls.borrow(), 2);
        assert_eq!(executor.len(), 1);
    }
}
