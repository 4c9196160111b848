//! Connects the engine's end of the journal (`playout::replica`) to JetStream (`journal`): one
//! task sends the engine's appends to NATS in order, each tagged with this process's origin and
//! the leader's term, and hands back the sequence each was stored at; another follows the journal
//! from the engine's last applied sequence and delivers every entry in order, marking the ones
//! this process appended. When NATS goes away the follower starts again from the entry after the
//! last it delivered, with a growing pause.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Journal, JournalError};
use crate::playout::replica::{Append, Delivered, ReplicaDeps, ReplicaError};

/// Appends the engine may have waiting for NATS; beyond, an edit is refused at once.
const APPENDS_WAITING: usize = 1024;
/// Entries delivered ahead of the engine.
const ENTRIES_AHEAD: usize = 256;
/// Pauses before following again after NATS went away.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How often a follower that received nothing checks whether the journal went on without it.
const STALL_CHECK: Duration = Duration::from_secs(1);

fn replica_error(e: JournalError) -> ReplicaError {
    match e {
        JournalError::Conflict { .. } => ReplicaError::Conflict,
        other => ReplicaError::Unavailable(other.to_string()),
    }
}

/// Starts both tasks. `node`: this node's name; `term`: the leader lease's revision while this
/// node leads (stamped on each append); `applied`: the sequence the engine's playlists include.
pub fn spawn(
    journal: Journal,
    node: &str,
    term: watch::Receiver<u64>,
    applied: u64,
    shutdown: CancellationToken,
) -> (ReplicaDeps, JoinHandle<()>) {
    // Unique to this process: a restarted daemon does not take its predecessor's entries for its
    // own appends.
    let origin = format!("{node}/{:016x}", fastrand::u64(..));
    let (appends_tx, appends_rx) = mpsc::channel(APPENDS_WAITING);
    let (entries_tx, entries_rx) = mpsc::channel(ENTRIES_AHEAD);
    let appending = tokio::spawn(append_loop(
        journal.clone(),
        origin.clone(),
        term,
        appends_rx,
        shutdown.clone(),
    ));
    let following = tokio::spawn(follow_loop(journal, origin, applied, entries_tx, shutdown));
    let task = tokio::spawn(async move {
        let _ = tokio::join!(appending, following);
    });
    let deps = ReplicaDeps {
        appends: appends_tx,
        entries: entries_rx,
        applied,
    };
    (deps, task)
}

async fn append_loop(
    journal: Journal,
    origin: String,
    term: watch::Receiver<u64>,
    mut appends: mpsc::Receiver<Append>,
    shutdown: CancellationToken,
) {
    loop {
        let append = tokio::select! {
            () = shutdown.cancelled() => return,
            a = appends.recv() => match a {
                Some(a) => a,
                None => return,
            },
        };
        let entry = Entry {
            term: *term.borrow(),
            node: origin.clone(),
            id: append.id,
            change: append.change,
        };
        // Sent in order here; the answers are awaited apart, so appends pipeline.
        match journal.append(&entry, append.after).await {
            Ok(pending) => {
                let done = append.done;
                tokio::spawn(async move {
                    let _ = done.send(pending.await.map_err(replica_error));
                });
            }
            Err(e) => {
                let _ = append.done.send(Err(replica_error(e)));
            }
        }
    }
}

async fn follow_loop(
    journal: Journal,
    origin: String,
    applied: u64,
    entries: mpsc::Sender<Delivered>,
    shutdown: CancellationToken,
) {
    let mut next = applied + 1;
    let mut pause = RETRY_FIRST;
    loop {
        match journal.follow(next).await {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                let mut check = tokio::time::interval(STALL_CHECK);
                check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut delivered = false;
                loop {
                    let item = tokio::select! {
                        () = shutdown.cancelled() => return,
                        item = stream.next() => item,
                        _ = check.tick() => {
                            // JetStream's consumer notices a restarted server only after two
                            // missed 15 s heartbeats: when nothing came for a check period while
                            // the journal has entries beyond ours, follow again from there.
                            if !std::mem::take(&mut delivered)
                                && journal.last_seq().await.is_ok_and(|last| last >= next)
                            {
                                tracing::info!(next, "the journal follower stalled: following again");
                                break;
                            }
                            continue;
                        }
                    };
                    match item {
                        Some(Ok((seq, entry))) => {
                            pause = RETRY_FIRST;
                            delivered = true;
                            next = seq + 1;
                            let mine = (entry.node == origin).then_some(entry.id);
                            let delivered = Delivered {
                                seq,
                                change: entry.change,
                                mine,
                            };
                            if entries.send(delivered).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, next, "following the journal stopped");
                            break;
                        }
                        None => break,
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, next, "cannot follow the journal"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}
