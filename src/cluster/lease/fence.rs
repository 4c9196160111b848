//! The fence: publishes `None` on the drive watch at the instant it names, unless a renewal
//! replaced that instant first. A task of its own, so a NATS call that hangs in the campaign loop
//! never delays it (the engine also checks the instant itself before every command).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// Runs until the drive watch is closed or the task is aborted.
pub(super) async fn run(drive: Arc<watch::Sender<Option<Instant>>>) {
    let mut rx = drive.subscribe();
    loop {
        let current = *rx.borrow_and_update();
        match current {
            Some(until) => {
                tokio::select! {
                    () = sleep_until(until) => {
                        // Only the window that ran out: a renewal may have replaced it meanwhile.
                        drive.send_if_modified(|v| {
                            let lapsed = *v == Some(until);
                            if lapsed {
                                *v = None;
                            }
                            lapsed
                        });
                    }
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
            None => {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Aborts a task when dropped: the fence ends with the campaign, however the campaign ends.
pub(super) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_window_that_runs_out_is_withdrawn_at_its_instant_and_a_renewed_one_is_not() {
        let (tx, mut rx) = watch::channel(None);
        let tx = Arc::new(tx);
        let _fence = AbortOnDrop(tokio::spawn(run(tx.clone())));
        let until = Instant::now() + Duration::from_millis(30);
        tx.send_replace(Some(until));
        tokio::time::timeout(Duration::from_secs(2), rx.wait_for(Option::is_none))
            .await
            .expect("withdrawn")
            .expect("open");
        assert!(Instant::now() >= until);

        // Renewed before it ran out: the later window stands.
        let soon = Instant::now() + Duration::from_millis(30);
        tx.send_replace(Some(soon));
        let later = Instant::now() + Duration::from_secs(60);
        tx.send_replace(Some(later));
        tokio::time::sleep_until(soon + Duration::from_millis(50)).await;
        assert_eq!(*rx.borrow(), Some(later));
    }
}
