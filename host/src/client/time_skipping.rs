//! Holding and releasing the clock of a time-skipping test server.
//!
//! The test server counts locks on time skipping. While any lock is held, its clock
//! moves at wall-clock pace; when none is, it jumps straight to the next timer
//! whenever no workflow or activity task is in flight (the server holds a lock of
//! its own while one is). It starts with one lock held, the one this module owns:
//! one [`ServerTimeLock`] per server, shared by every [`Client`](super::Client) made
//! for it, releases that lock while at least one `result()` waits and holds it
//! otherwise, like the Python SDK's time-skipping environment. Unbalanced unlocks
//! fail on the server, so every lock RPC goes through here.
//!
//! # Transitions
//!
//! | state (our lock, waiters) | event | RPC | next state |
//! |---|---|---|---|
//! | held, 0 | a wait begins | `UnlockTimeSkipping` | released, 1 |
//! | released, n | a wait begins | — | released, n + 1 |
//! | released, n > 1 | a wait ends or is dropped | — | released, n − 1 |
//! | released, 1 | a wait ends or is dropped | `LockTimeSkipping` | held, 0 |
//! | held, n | `sleep(d)` | `UnlockTimeSkippingWithSleep(d)`: the server skips `d` and re-locks | held, n |
//! | released, n | `sleep(d)` | `Sleep(d)`: time is already skipping | released, n |
//!
//! A failed RPC leaves the state as it was; "released, 0" (a re-lock that failed,
//! or one that is still on its way) is settled by the next transition.
//!
//! Every RPC that changes the lock count runs to completion on a task of its own
//! while it holds the state's mutex, so a caller that gives up half-way (drops a
//! `result()` future) never leaves us unsure whether the server saw the call.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use temporalio_client::grpc::TestService;
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::testservice::v1::{
    LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest,
};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio::task::JoinHandle;

use super::ClientError;
use super::error::rpc_error;

/// The lock state of one time-skipping server, shared by all its clients.
#[derive(Debug, Default)]
pub(crate) struct ServerTimeLock {
    /// `result()` calls waiting right now (their [`Waiting`] guards alive).
    waiting: AtomicUsize,
    /// Whether our lock on the server is released. Held for the whole of every RPC
    /// that changes the lock count, so those never interleave.
    released: Arc<Mutex<bool>>,
}

/// A client's handle on a [`ServerTimeLock`]: the shared state and the test
/// service to send RPCs to.
#[derive(Clone)]
pub(crate) struct TimeLock {
    service: Box<dyn TestService>,
    server: Arc<ServerTimeLock>,
}

impl fmt::Debug for TimeLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeLock")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Time released for one waiting `result()`. [`Waiting::finish`] or dropping it
/// ends the wait.
#[must_use = "time stays released until the wait is finished or dropped"]
pub(crate) struct Waiting {
    lock: Option<TimeLock>,
}

impl TimeLock {
    pub(crate) fn new(service: Box<dyn TestService>, server: Arc<ServerTimeLock>) -> Self {
        Self { service, server }
    }

    /// Releases our lock for a wait (unless another wait already has).
    pub(crate) async fn begin_wait(&self) -> Result<Waiting, ClientError> {
        let this = self.clone();
        join(tokio::spawn(async move {
            let mut released = this.state().await;
            this.server.waiting.fetch_add(1, Ordering::SeqCst);
            // From here on, dropping `waiting` (also on the error path below, and if
            // our caller is gone when this task ends) counts the wait out again.
            let waiting = Waiting {
                lock: Some(this.clone()),
            };
            if !*released {
                this.unlock().await?;
                *released = true;
            }
            Ok(waiting)
        }))
        .await
    }

    /// Skips `duration` of server time, or waits while it passes if a `result()`
    /// already skips time.
    pub(crate) async fn sleep(&self, duration: Duration) -> Result<(), ClientError> {
        let duration = prost_wkt_types::Duration::try_from(duration)
            .map_err(|_| ClientError::DurationOutOfRange(duration))?;
        let this = self.clone();
        join(tokio::spawn(async move {
            let mut released = this.state().await;
            this.settle(&mut released).await?;
            let request = tonic::Request::new(SleepRequest {
                duration: Some(duration),
            });
            let mut service = this.service.clone();
            if *released {
                service
                    .sleep(request)
                    .await
                    .map_err(|status| rpc_error("Sleep", status))?;
            } else {
                service
                    .unlock_time_skipping_with_sleep(request)
                    .await
                    .map_err(|status| rpc_error("UnlockTimeSkippingWithSleep", status))?;
            }
            Ok(())
        }))
        .await
    }

    /// The server's clock.
    pub(crate) async fn current_time(&self) -> Result<SystemTime, ClientError> {
        let response = self
            .service
            .clone()
            .get_current_time(tonic::Request::new(()))
            .await
            .map_err(|status| rpc_error("GetCurrentTime", status))?
            .into_inner();
        let malformed = |reason: &str| ClientError::MalformedResponse {
            operation: "GetCurrentTime",
            reason: reason.to_owned(),
        };
        let time = response
            .time
            .ok_or_else(|| malformed("no time in the response"))?;
        SystemTime::try_from(time).map_err(|_| malformed("the time is out of range"))
    }

    async fn state(&self) -> OwnedMutexGuard<bool> {
        Arc::clone(&self.server.released).lock_owned().await
    }

    /// Takes our lock back if it is released and no one waits any more.
    async fn settle(&self, released: &mut OwnedMutexGuard<bool>) -> Result<(), ClientError> {
        if **released && self.server.waiting.load(Ordering::SeqCst) == 0 {
            self.service
                .clone()
                .lock_time_skipping(tonic::Request::new(LockTimeSkippingRequest {}))
                .await
                .map_err(|status| rpc_error("LockTimeSkipping", status))?;
            **released = false;
        }
        Ok(())
    }

    async fn unlock(&self) -> Result<(), ClientError> {
        self.service
            .clone()
            .unlock_time_skipping(tonic::Request::new(UnlockTimeSkippingRequest {}))
            .await
            .map_err(|status| rpc_error("UnlockTimeSkipping", status))?;
        Ok(())
    }

    /// Counts one wait out and settles the lock on a task of its own.
    fn end_wait(self) -> JoinHandle<Result<(), ClientError>> {
        self.server.waiting.fetch_sub(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut released = self.state().await;
            self.settle(&mut released).await
        })
    }
}

impl Waiting {
    /// Ends the wait; the last one to end takes our lock back.
    pub(crate) async fn finish(mut self) -> Result<(), ClientError> {
        match self.lock.take() {
            Some(lock) => join(lock.end_wait()).await,
            None => Ok(()),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Nobody sees the outcome; a failed re-lock is retried by the next
            // transition.
            drop(lock.end_wait());
        } else {
            // No runtime to send the RPC from: count the wait out now and leave
            // the re-lock to the next transition.
            lock.server.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Waits for a task that changes the lock state. Dropping this future does not
/// stop the task.
async fn join<T>(task: JoinHandle<Result<T, ClientError>>) -> Result<T, ClientError> {
    match task.await {
        Ok(result) => result,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(ClientError::RuntimeShutDown),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use futures::FutureExt;
    use futures::future::BoxFuture;
    use temporalio_common::protos::temporal::api::testservice::v1::{
        GetCurrentTimeResponse, LockTimeSkippingResponse, SleepResponse, UnlockTimeSkippingResponse,
    };

    use super::*;

    /// The test server's lock counter, with its rule that it cannot go negative.
    #[derive(Clone, Default)]
    struct FakeServer {
        log: Arc<StdMutex<Vec<&'static str>>>,
        /// Starts at 1, like the real server.
        locks: Arc<StdMutex<i64>>,
        /// How long each RPC takes, so that callers can give up half-way.
        delay: Duration,
    }

    impl FakeServer {
        fn new(delay: Duration) -> Self {
            Self {
                locks: Arc::new(StdMutex::new(1)),
                delay,
                ..Self::default()
            }
        }

        fn locks(&self) -> i64 {
            *self.locks.lock().expect("lock")
        }

        fn log(&self) -> Vec<&'static str> {
            self.log.lock().expect("lock").clone()
        }

        fn client(&self, server: &Arc<ServerTimeLock>) -> TimeLock {
            TimeLock::new(Box::new(self.clone()), Arc::clone(server))
        }

        /// Applies `change` to the counter after the RPC's delay.
        fn rpc<T: Default + Send + 'static>(
            &self,
            name: &'static str,
            change: i64,
        ) -> BoxFuture<'static, Result<tonic::Response<T>, tonic::Status>> {
            let this = self.clone();
            async move {
                tokio::time::sleep(this.delay).await;
                let mut locks = this.locks.lock().expect("lock");
                if *locks + change < 0 {
                    return Err(tonic::Status::failed_precondition("unbalanced unlock"));
                }
                *locks += change;
                this.log.lock().expect("lock").push(name);
                Ok(tonic::Response::new(T::default()))
            }
            .boxed()
        }
    }

    impl TestService for FakeServer {
        fn lock_time_skipping(
            &mut self,
            _: tonic::Request<LockTimeSkippingRequest>,
        ) -> BoxFuture<'_, Result<tonic::Response<LockTimeSkippingResponse>, tonic::Status>>
        {
            self.rpc("lock", 1)
        }

        fn unlock_time_skipping(
            &mut self,
            _: tonic::Request<UnlockTimeSkippingRequest>,
        ) -> BoxFuture<'_, Result<tonic::Response<UnlockTimeSkippingResponse>, tonic::Status>>
        {
            self.rpc("unlock", -1)
        }

        fn unlock_time_skipping_with_sleep(
            &mut self,
            _: tonic::Request<SleepRequest>,
        ) -> BoxFuture<'_, Result<tonic::Response<SleepResponse>, tonic::Status>> {
            // Unlocks and locks again in one call; fails like an unlock at zero.
            self.rpc("unlock-with-sleep", if self.locks() == 0 { -1 } else { 0 })
        }

        fn sleep(
            &mut self,
            _: tonic::Request<SleepRequest>,
        ) -> BoxFuture<'_, Result<tonic::Response<SleepResponse>, tonic::Status>> {
            self.rpc("sleep", 0)
        }

        fn get_current_time(
            &mut self,
            _: tonic::Request<()>,
        ) -> BoxFuture<'_, Result<tonic::Response<GetCurrentTimeResponse>, tonic::Status>> {
            self.rpc("time", 0)
        }
    }

    async fn settled(server: &Arc<ServerTimeLock>) {
        // Dropped waits settle on tasks of their own; wait for the mutex to be free
        // and the count to be zero.
        for _ in 0..100 {
            if server.waiting.load(Ordering::SeqCst) == 0 {
                let guard = Arc::clone(&server.released).lock_owned().await;
                if !*guard {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the lock did not settle: {server:?}");
    }

    #[tokio::test]
    async fn a_wait_releases_our_lock_and_takes_it_back() {
        let fake = FakeServer::new(Duration::ZERO);
        let server = Arc::new(ServerTimeLock::default());
        let lock = fake.client(&server);
        let waiting = lock.begin_wait().await.expect("begin");
        assert_eq!(fake.locks(), 0);
        waiting.finish().await.expect("finish");
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock", "lock"]);
    }

    #[tokio::test]
    async fn concurrent_waits_share_one_release() {
        let fake = FakeServer::new(Duration::from_millis(5));
        let server = Arc::new(ServerTimeLock::default());
        // Two clients of the same server.
        let (a, b) = (fake.client(&server), fake.client(&server));
        let waits = futures::future::join_all((0..10).map(|i| {
            let lock = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move {
                let waiting = lock.begin_wait().await.expect("begin");
                tokio::time::sleep(Duration::from_millis(i * 3)).await;
                waiting.finish().await.expect("finish");
            }
        }));
        waits.await;
        settled(&server).await;
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock", "lock"]);
    }

    #[tokio::test]
    async fn a_dropped_wait_takes_the_lock_back() {
        let fake = FakeServer::new(Duration::from_millis(20));
        let server = Arc::new(ServerTimeLock::default());
        let lock = fake.client(&server);

        // Dropped after the release.
        drop(lock.begin_wait().await.expect("begin"));
        settled(&server).await;
        assert_eq!(fake.locks(), 1);

        // Dropped while the unlock RPC is in flight.
        let begin = lock.begin_wait();
        let gave_up = tokio::time::timeout(Duration::from_millis(5), begin).await;
        assert!(gave_up.is_err(), "the RPC takes 20 ms");
        settled(&server).await;
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock", "lock", "unlock", "lock"]);
    }

    #[tokio::test]
    async fn sleep_unlocks_with_sleep_when_held_and_just_sleeps_when_released() {
        let fake = FakeServer::new(Duration::ZERO);
        let server = Arc::new(ServerTimeLock::default());
        let lock = fake.client(&server);
        lock.sleep(Duration::from_secs(3600)).await.expect("sleep");
        let waiting = lock.begin_wait().await.expect("begin");
        lock.sleep(Duration::from_secs(3600)).await.expect("sleep");
        waiting.finish().await.expect("finish");
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock-with-sleep", "unlock", "sleep", "lock"]);
    }

    #[tokio::test]
    async fn a_dropped_sleep_keeps_the_count_balanced() {
        let fake = FakeServer::new(Duration::from_millis(20));
        let server = Arc::new(ServerTimeLock::default());
        let lock = fake.client(&server);
        let gave_up = tokio::time::timeout(
            Duration::from_millis(5),
            lock.sleep(Duration::from_secs(60)),
        )
        .await;
        assert!(gave_up.is_err());
        // A wait that begins now queues behind the sleep instead of unlocking a
        // counter the sleep has taken to zero.
        let waiting = lock.begin_wait().await.expect("begin");
        waiting.finish().await.expect("finish");
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock-with-sleep", "unlock", "lock"]);
    }

    #[tokio::test]
    async fn a_failed_relock_is_retried_by_the_next_transition() {
        let fake = FakeServer::new(Duration::ZERO);
        let server = Arc::new(ServerTimeLock::default());
        let lock = fake.client(&server);
        lock.begin_wait()
            .await
            .expect("begin")
            .finish()
            .await
            .expect("finish");
        // Left released with nobody waiting, as a re-lock that failed would leave it.
        *server.released.lock().await = true;
        *fake.locks.lock().expect("lock") = 0;
        lock.sleep(Duration::from_secs(1)).await.expect("sleep");
        assert_eq!(fake.locks(), 1);
        assert_eq!(fake.log(), ["unlock", "lock", "lock", "unlock-with-sleep"]);
    }
}
