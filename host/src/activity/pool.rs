//! The bounded thread pool sync activities run on.
//!
//! The Rust form of the Python SDK's `ThreadPoolExecutor(max_workers=100)`: blocking activity
//! code gets real threads and never stalls the async runtime that polls Temporal. Threads
//! start on demand and stay for the worker's lifetime; there are never more than
//! `max_threads`, and the worker never accepts more activity tasks than that at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed-maximum pool of named threads.
pub struct ActivityThreadPool {
    sender: Mutex<Option<Sender<Job>>>,
    receiver: Arc<Mutex<Receiver<Job>>>,
    max_threads: usize,
    spawned: AtomicUsize,
    counters: Arc<Counters>,
}

/// Jobs waiting and threads waiting; a thread is started when the first outnumbers the
/// second.
#[derive(Default)]
struct Counters {
    queued: AtomicUsize,
    idle: AtomicUsize,
}

/// The pool is shut down; no more work is accepted.
#[derive(Debug, thiserror::Error)]
#[error("the activity thread pool is shut down")]
pub struct PoolClosed;

impl ActivityThreadPool {
    /// A pool of at most `max_threads` threads (at least one).
    pub fn new(max_threads: usize) -> Self {
        let (sender, receiver) = channel();
        Self {
            sender: Mutex::new(Some(sender)),
            receiver: Arc::new(Mutex::new(receiver)),
            max_threads: max_threads.max(1),
            spawned: AtomicUsize::new(0),
            counters: Arc::default(),
        }
    }

    /// Threads started so far; never more than `max_threads`.
    #[cfg(test)]
    fn threads_started(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    /// Queues `job`; it runs as soon as a thread is free.
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolClosed> {
        // Count the job before sending it, so the thread that takes it never sees the
        // count drop below zero.
        let queued = self.counters.queued.fetch_add(1, Ordering::AcqRel) + 1;
        let sent = {
            let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
            sender
                .as_ref()
                .is_some_and(|sender| sender.send(Box::new(job)).is_ok())
        };
        if !sent {
            self.counters.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(PoolClosed);
        }
        if queued > self.counters.idle.load(Ordering::Acquire) {
            self.try_spawn_thread();
        }
        Ok(())
    }

    fn try_spawn_thread(&self) {
        let claimed = self
            .spawned
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_threads).then_some(n + 1)
            });
        let Ok(index) = claimed else { return };
        let receiver = self.receiver.clone();
        let counters = self.counters.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sandglass-activity-{index}"))
            .spawn(move || worker_loop(&receiver, &counters));
        if let Err(error) = spawned {
            self.spawned.fetch_sub(1, Ordering::AcqRel);
            tracing::error!(%error, "could not start an activity thread; queued activities wait for a free one");
        }
    }

    /// Stops accepting work; threads exit once the queue is drained.
    pub fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl Drop for ActivityThreadPool {
    fn drop(&mut self) {
        self.close();
    }
}

fn worker_loop(receiver: &Mutex<Receiver<Job>>, counters: &Counters) {
    loop {
        counters.idle.fetch_add(1, Ordering::AcqRel);
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        counters.idle.fetch_sub(1, Ordering::AcqRel);
        if job.is_ok() {
            counters.queued.fetch_sub(1, Ordering::AcqRel);
        }
        match job {
            // Jobs catch their own panics (see the activity executor), so one bad
            // activity never takes a pool thread with it.
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn never_starts_more_threads_than_the_bound() {
        let pool = ActivityThreadPool::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = channel();
        for _ in 0..30 {
            let (running, peak, done_tx) = (running.clone(), peak.clone(), done_tx.clone());
            pool.execute(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                done_tx.send(()).unwrap();
            })
            .unwrap();
        }
        for _ in 0..30 {
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(pool.threads_started() <= 3);
    }

    #[test]
    fn runs_jobs_concurrently_up_to_the_bound() {
        let pool = ActivityThreadPool::new(2);
        let barrier = Arc::new(Barrier::new(2));
        let (done_tx, done_rx) = channel();
        for _ in 0..2 {
            let (barrier, done_tx) = (barrier.clone(), done_tx.clone());
            // Both must be running at once to pass the barrier.
            pool.execute(move || {
                barrier.wait();
                done_tx.send(()).unwrap();
            })
            .unwrap();
        }
        for _ in 0..2 {
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
    }

    #[test]
    fn closed_pool_refuses_work() {
        let pool = ActivityThreadPool::new(1);
        pool.close();
        assert!(pool.execute(|| {}).is_err());
    }
}
