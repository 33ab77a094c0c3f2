//! The process signals a worker answers: Ctrl-C and SIGTERM stop it gracefully, SIGHUP
//! reloads its workflow directory.

use crate::reload::ReloadHandle;

/// Reloads on each SIGHUP, the usual way to tell a daemon to reread its files.
pub(super) async fn reload_on_hangup(reload: ReloadHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload through the directory watch");
            return;
        };
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading the workflow directory");
            reload.trigger();
        }
    }
    #[cfg(not(unix))]
    {
        let _ = reload;
    }
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM: what
/// [`Worker::run_until_ctrl_c`](crate::Worker::run_until_ctrl_c) waits for, for a
/// process that serves something else until it is told to stop.
pub async fn wait_for_stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
