//! The writer's blocking side: merging a batch of requests into few operations, and running them
//! on a blocking-pool thread with the [`Store`], answering each waiter and keeping the counters.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::book::Pending;
use super::stall;
use super::writer::{Request, Responder, Whole, WriteObserver, WriteRecord, WriterStats};
use super::{Store, StoreError};
use crate::playout::model::{Playlist, validate_id};
use crate::playout::store::PlayoutStateFile;

pub(super) struct Version {
    playlist: Playlist,
    allow_empty: bool,
    ack: Responder,
}

pub(super) enum Op {
    Save {
        id: String,
        versions: Vec<Version>,
    },
    State {
        state: PlayoutStateFile,
        acks: Vec<Responder>,
    },
    Delete {
        id: String,
        ack: oneshot::Sender<Result<Option<PathBuf>, StoreError>>,
    },
    Flush {
        ack: Responder,
    },
    /// Consecutive journal appends: one write, one `fdatasync`.
    Append {
        group: Vec<(Pending, Responder)>,
    },
    Compact {
        ack: Responder,
    },
    Whole {
        op: Whole,
        epoch: u64,
        ack: Responder,
    },
}

/// Merges the saves of one playlist (until a delete of it) and all state saves into single ops.
/// A merged op sits at its first request's place; moving a later version earlier is safe because
/// ops on other files are independent and a flush then only finds more on disk, never less.
pub(super) fn coalesce(requests: impl Iterator<Item = Request>) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::new();
    let mut open_save: HashMap<String, usize> = HashMap::new();
    let mut open_state: Option<usize> = None;
    for request in requests {
        match request {
            Request::Save {
                playlist,
                allow_empty,
                ack,
            } => {
                let version = Version {
                    playlist,
                    allow_empty,
                    ack,
                };
                let slot = open_save.get(&version.playlist.id).copied();
                match slot.and_then(|i| ops.get_mut(i)) {
                    Some(Op::Save { versions, .. }) => versions.push(version),
                    _ => {
                        open_save.insert(version.playlist.id.clone(), ops.len());
                        ops.push(Op::Save {
                            id: version.playlist.id.clone(),
                            versions: vec![version],
                        });
                    }
                }
            }
            Request::State { state, ack } => match open_state.and_then(|i| ops.get_mut(i)) {
                Some(Op::State { state: s, acks }) => {
                    *s = state;
                    acks.push(ack);
                }
                _ => {
                    open_state = Some(ops.len());
                    ops.push(Op::State {
                        state,
                        acks: vec![ack],
                    });
                }
            },
            Request::Delete { id, ack } => {
                open_save.remove(&id);
                ops.push(Op::Delete { id, ack });
            }
            Request::Flush { ack } => ops.push(Op::Flush { ack }),
            Request::Append { pending, ack } => match ops.last_mut() {
                Some(Op::Append { group }) => group.push((pending, ack)),
                _ => ops.push(Op::Append {
                    group: vec![(pending, ack)],
                }),
            },
            Request::Compact { ack } => ops.push(Op::Compact { ack }),
            Request::Whole { op, epoch, ack } => ops.push(Op::Whole { op, epoch, ack }),
        }
    }
    ops
}

impl Op {
    /// What this op puts on disk, for the log line of a writer abandoned at shutdown.
    pub(super) fn describe(&self) -> Option<String> {
        match self {
            Op::Save { id, versions } => {
                let revision = versions.last().map_or(0, |v| v.playlist.revision);
                Some(format!("playlist {id} (revision {revision})"))
            }
            Op::State { .. } => Some(STATE_TARGET.to_owned()),
            Op::Delete { id, .. } => Some(format!("delete of playlist {id}")),
            Op::Flush { .. } => None,
            Op::Append { group } => Some(
                group
                    .iter()
                    .map(|(p, _)| {
                        format!(
                            "journal record of playlist {} (revision {})",
                            p.record.playlist, p.record.revision
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Op::Compact { .. } => Some("journal compaction".to_owned()),
            Op::Whole { op, .. } => Some(op.describe()),
        }
    }
}

/// The failure-tracking key of the journal.
const JOURNAL_TARGET: &str = "journal";

/// The failure-tracking key of the state file.
const STATE_TARGET: &str = "state file";

fn playlist_target(id: &str) -> String {
    format!("playlist {id}")
}

pub(super) fn execute(
    store: &Mutex<Store>,
    ops: Vec<Op>,
    stats: &Mutex<WriterStats>,
    observer: Option<&WriteObserver>,
) {
    let store = store.lock().unwrap_or_else(PoisonError::into_inner);
    stall::pass(store.data_dir());
    for op in ops {
        match op {
            Op::Save { id, versions } => save_versions(&store, &id, versions, stats, observer),
            Op::State { state, acks } => {
                let result = store.save_state(&state);
                match &result {
                    Ok(()) => lock(stats).succeeded(STATE_TARGET),
                    Err(StoreError::Verify { .. }) => lock(stats).refused += 1,
                    Err(e) => lock(stats).failed(STATE_TARGET, e),
                }
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
            Op::Delete { id, ack } => {
                let result = store.delete_journaled(&id);
                match &result {
                    // Nothing of this playlist is on disk any more: no stale version to report.
                    Ok(_) => lock(stats).succeeded(&playlist_target(&id)),
                    Err(StoreError::Invalid { .. } | StoreError::NotFound(_)) => {
                        lock(stats).refused += 1;
                    }
                    Err(e) => lock(stats).failed(&playlist_target(&id), e),
                }
                let _ = ack.send(result);
            }
            Op::Flush { ack } => {
                let _ = ack.send(Ok(()));
            }
            Op::Append { group } => append(&store, group, stats),
            Op::Compact { ack } => {
                let result = compact(&store, stats);
                let _ = ack.send(result);
            }
            Op::Whole { op, epoch, ack } => {
                let result = whole(&store, op, epoch, stats);
                let _ = ack.send(result);
            }
        }
    }
    if store.journal_records() >= COMPACT_EVERY {
        let _ = compact(&store, stats);
    }
}

/// Journal records after which the journal is folded into the snapshots: bounds the journal (and
/// so start-up replay) whatever the edit rate.
pub(super) const COMPACT_EVERY: usize = 5_000;

fn append(store: &Store, group: Vec<(Pending, Responder)>, stats: &Mutex<WriterStats>) {
    let (pending, acks): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let results = store.append_group(pending);
    let failure = results.iter().find_map(|r| match r {
        Err(e @ (StoreError::Io { .. } | StoreError::NotRegular(_))) => Some(e.clone()),
        _ => None,
    });
    {
        let mut s = lock(stats);
        s.saves += results.len() as u64;
        match &failure {
            Some(e) => s.failed(JOURNAL_TARGET, e),
            None if results.iter().any(Result::is_ok) => {
                s.writes += 1;
                s.succeeded(JOURNAL_TARGET);
            }
            None => {}
        }
    }
    if let Some(e) = &failure {
        tracing::error!(error = %e, "journal append failed: the edits were not saved");
    }
    for (ack, result) in acks.into_iter().zip(results) {
        let _ = ack.send(result);
    }
}

/// A whole-playlist change of the engine's: refused unwritten when made on top of a failed edit,
/// and a failure refuses what was made on top of it (as for appends).
fn whole(
    store: &Store,
    op: Whole,
    epoch: u64,
    stats: &Mutex<WriterStats>,
) -> Result<(), StoreError> {
    if !store.epoch_current(epoch) {
        return Err(StoreError::Discarded);
    }
    // A rewrite changes nothing the later edits were made on: its failure voids nothing.
    let voids = !matches!(op, Whole::Rewrite(_));
    let (target, result) = match op {
        Whole::Put(playlist) => {
            let result = store.save_with(&playlist, true).map(|_| ());
            if result.is_ok() {
                store.book_put(&playlist);
            }
            (playlist_target(&playlist.id), result)
        }
        Whole::Delete(id) => {
            let result = store.delete_journaled(&id).map(|_| ());
            (playlist_target(&id), result)
        }
        Whole::Rewrite(id) => (playlist_target(&id), store.rewrite(&id)),
    };
    match &result {
        Ok(()) => lock(stats).succeeded(&target),
        Err(e) => {
            lock(stats).failed(&target, e);
            if voids {
                store.poison(epoch);
            }
            tracing::error!(error = %e, "{target} not saved");
        }
    }
    result
}

fn compact(store: &Store, stats: &Mutex<WriterStats>) -> Result<(), StoreError> {
    let started = Instant::now();
    match store.compact() {
        Ok(n) => {
            lock(stats).succeeded(JOURNAL_TARGET);
            if n > 0 {
                tracing::debug!(
                    playlists = n,
                    ms = started.elapsed().as_millis() as u64,
                    "journal compacted into the playlist files"
                );
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "journal compaction failed: the journal keeps the edits");
            lock(stats).failed("compaction", &e);
            Err(e)
        }
    }
}

/// Writes the latest acceptable version of a burst and answers every waiter.
fn save_versions(
    store: &Store,
    id: &str,
    mut versions: Vec<Version>,
    stats: &Mutex<WriterStats>,
    observer: Option<&WriteObserver>,
) {
    lock(stats).saves += versions.len() as u64;
    let (playlist, allow_empty, acks) = if versions.len() == 1 {
        // The common case: the save itself validates and applies the guard.
        let Some(v) = versions.pop() else { return };
        (v.playlist, v.allow_empty, vec![v.ack])
    } else {
        match plan_burst(store, id, versions, stats) {
            // The guard was applied version by version, so the write itself may empty the file.
            Some((playlist, acks)) => (playlist, true, acks),
            None => return,
        }
    };
    let started = Instant::now();
    let result = store.save_with(&playlist, allow_empty);
    let duration = started.elapsed();
    {
        let mut s = lock(stats);
        s.last_save_duration = Some(duration);
        match &result {
            Ok(_) => {
                s.writes += 1;
                s.coalesced += acks.len() as u64 - 1;
                s.succeeded(&playlist_target(id));
            }
            // A version the store refuses is the caller's problem, not a failing disk.
            Err(StoreError::Invalid { .. } | StoreError::WouldEmpty { .. }) => s.refused += 1,
            Err(e) => s.failed(&playlist_target(id), e),
        }
    }
    match &result {
        Ok(outcome) => {
            store.book_put(&playlist);
            if let Some(aside) = &outcome.set_aside {
                tracing::warn!(playlist = id, kept = %aside.display(), "the file on disk was not a valid playlist; kept it aside and wrote the current version");
            }
            if let Some(observe) = observer {
                observe(&WriteRecord {
                    id: id.to_owned(),
                    revision: playlist.revision,
                    versions: acks.len(),
                    duration,
                });
            }
        }
        Err(e) => tracing::error!(playlist = id, error = %e, "playlist save failed"),
    }
    let result = result.map(|_| ());
    for ack in acks {
        let _ = ack.send(result.clone());
    }
}

/// Judges each version of a burst as if the versions had been saved one by one (validity, then
/// the empty-overwrite guard against the version before it), answers the refused ones, and
/// returns the last acceptable version with the waiters its write will answer. So coalescing never
/// lets a playlist be emptied without the clear that asked for it, and a refused version never
/// hides a good one.
fn plan_burst(
    store: &Store,
    id: &str,
    versions: Vec<Version>,
    stats: &Mutex<WriterStats>,
) -> Option<(Playlist, Vec<Responder>)> {
    let mut current = store.current_items(id);
    let mut accepted = Vec::with_capacity(versions.len());
    let mut winner = None;
    let mut refused = 0;
    for v in versions {
        let invalid = validate_id("playlist", &v.playlist.id)
            .and_then(|()| v.playlist.validate(&store.limits()))
            .err();
        let refusal = if let Some(error) = invalid {
            Some(StoreError::Invalid {
                id: id.to_owned(),
                error,
            })
        } else if v.playlist.items.is_empty() && current > 0 && !v.allow_empty {
            Some(StoreError::WouldEmpty {
                id: id.to_owned(),
                items: current,
            })
        } else {
            None
        };
        match refusal {
            Some(e) => {
                refused += 1;
                let _ = v.ack.send(Err(e));
            }
            None => {
                current = v.playlist.items.len();
                accepted.push(v.ack);
                winner = Some(v.playlist);
            }
        }
    }
    lock(stats).refused += refused;
    winner.map(|p| (p, accepted))
}

fn lock(stats: &Mutex<WriterStats>) -> std::sync::MutexGuard<'_, WriterStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}
