//! Process signals: the future that resolves on SIGINT or SIGTERM, for every long-running subcommand.

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. If a handler cannot be installed, that signal is
/// simply not awaited (the other one still works), so a restricted environment never crashes us.
pub async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
