//! systemd `Type=notify` support for `onair serve`: `READY=1` once the daemon serves, `STOPPING=1`
//! when shutdown begins, and `WATCHDOG=1` pings while the playout engine's loop answers.
//!
//! Everything here is a no-op when `NOTIFY_SOCKET` is not set (a shell, `onair demo`, a container),
//! and a failed send is logged, never fatal: the service manager is an observer, not part of playout.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::playout::engine::{EngineHandle, Op};

/// Tells the service manager that start-up is complete (listener bound, engine running).
pub fn notify_ready() {
    send(Message::Ready);
}

/// Tells the service manager that shutdown has begun, so it does not read the exit as a crash.
pub fn notify_stopping() {
    send(Message::Stopping);
}

#[derive(Clone, Copy, Debug)]
enum Message {
    Ready,
    Stopping,
    Watchdog,
}

#[cfg(unix)]
fn send(message: Message) {
    use sd_notify::NotifyState;
    let state = match message {
        Message::Ready => NotifyState::Ready,
        Message::Stopping => NotifyState::Stopping,
        Message::Watchdog => NotifyState::Watchdog,
    };
    // `false`: keep NOTIFY_SOCKET set; unsetting the environment in a multi-threaded process races
    // with other threads reading it, and we never start children that could inherit it wrongly.
    if let Err(e) = sd_notify::notify(false, &[state]) {
        tracing::warn!(error = %e, ?message, "cannot notify the service manager");
    }
}

#[cfg(not(unix))]
fn send(_message: Message) {}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`, for this process's `WATCHDOG_PID`).
#[cfg(unix)]
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

#[cfg(not(unix))]
pub fn watchdog_interval() -> Option<Duration> {
    None
}

/// When systemd enabled the watchdog, pings it at half its interval, each ping after a round trip
/// through the engine loop: a wedged engine stops the pings and systemd restarts the process, while
/// a merely idle or disconnected daemon keeps pinging. Ends with `shutdown`.
pub fn spawn_watchdog(
    engine: EngineHandle,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let interval = watchdog_interval()? / 2;
    tracing::info!(
        ping_every_ms = interval.as_millis() as u64,
        "systemd watchdog enabled"
    );
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wedged = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            // The engine must answer within one ping interval, or this ping is skipped.
            let alive = matches!(
                tokio::time::timeout(interval, engine.execute(Op::Ping)).await,
                Ok(Ok(_))
            );
            if alive {
                if wedged {
                    tracing::info!("playout engine answers again; systemd watchdog pings resume");
                    wedged = false;
                }
                send(Message::Watchdog);
            } else if !wedged {
                tracing::error!(
                    "playout engine does not answer; withholding systemd watchdog pings"
                );
                wedged = true;
            }
        }
    }))
}
