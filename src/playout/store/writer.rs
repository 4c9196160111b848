//! The async store writer: one task owns the [`Store`], does all file I/O on `spawn_blocking`, and
//! coalesces bursts so that only the latest queued version of a playlist is written.
//!
//! A waiter is answered only after the fsync of a write that contains its version or a later one,
//! never before: this is what makes "acknowledged" mean "durable".

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{PlayoutStateFile, Store, StoreError};
use crate::playout::model::{Playlist, validate_id};

/// Requests taken from the queue per batch (bounds the work done before the next acks).
const MAX_BATCH: usize = 1024;

/// Called after each durable playlist write and before its waiters are answered (tests and
/// metrics use it to see exactly which version each write contained).
pub type WriteObserver = Arc<dyn Fn(&WriteRecord) + Send + Sync>;

/// One completed, fsynced playlist write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    pub id: String,
    /// Revision of the version written.
    pub revision: u64,
    /// Queued versions this one write acknowledged (1 = no coalescing).
    pub versions: usize,
    pub duration: Duration,
}

/// Writer settings.
#[derive(Clone)]
pub struct WriterOptions {
    /// Requests that may wait in the queue before `save` itself waits (back-pressure).
    pub queue: usize,
    pub observer: Option<WriteObserver>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue: 1024,
            observer: None,
        }
    }
}

/// Counters for metrics and health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Playlist save requests handled.
    pub saves: u64,
    /// Playlist files written (each fsynced).
    pub writes: u64,
    /// Save requests answered by the write of a later version instead of their own.
    pub coalesced: u64,
    /// Save requests refused by the empty-overwrite guard or validation.
    pub refused: u64,
    /// Failed writes (playlist, state or delete).
    pub failures: u64,
    pub last_save_duration: Option<Duration>,
    pub last_error: Option<String>,
}

type Responder = oneshot::Sender<Result<(), StoreError>>;

enum Request {
    Save {
        playlist: Playlist,
        allow_empty: bool,
        ack: Responder,
    },
    State {
        state: PlayoutStateFile,
        ack: Responder,
    },
    Delete {
        id: String,
        ack: oneshot::Sender<Result<Option<PathBuf>, StoreError>>,
    },
    Flush {
        ack: Responder,
    },
}

/// The answer to one queued save: resolves once that version (or a later one) is durable.
#[derive(Debug)]
pub struct Ack(oneshot::Receiver<Result<(), StoreError>>);

impl Future for Ack {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::WriterGone)))
    }
}

/// Cheap-clone handle to the writer task. The task ends when every handle is dropped, after
/// finishing what was queued.
#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Request>,
    stats: Arc<Mutex<WriterStats>>,
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter").finish_non_exhaustive()
    }
}

impl StoreWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Store) -> StoreWriter {
        StoreWriter::spawn_with(store, WriterOptions::default()).0
    }

    /// Starts the writer task with options; the join handle completes when the task has ended.
    pub fn spawn_with(store: Store, options: WriterOptions) -> (StoreWriter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let task = tokio::spawn(run(
            Arc::new(Mutex::new(store)),
            rx,
            stats.clone(),
            options.observer,
        ));
        (StoreWriter { tx, stats }, task)
    }

    async fn send(&self, request: Request) -> Result<(), StoreError> {
        self.tx
            .send(request)
            .await
            .map_err(|_| StoreError::WriterGone)
    }

    /// Queues a save and returns at once with the [`Ack`] to await. Versions queued by one caller
    /// are written in queue order; the engine can queue in order without waiting for the disk.
    pub async fn submit(&self, playlist: Playlist) -> Result<Ack, StoreError> {
        self.submit_with(playlist, false).await
    }

    /// [`StoreWriter::submit`] that may replace items with an empty playlist (an explicit clear).
    pub async fn submit_clear(&self, playlist: Playlist) -> Result<Ack, StoreError> {
        self.submit_with(playlist, true).await
    }

    async fn submit_with(&self, playlist: Playlist, allow_empty: bool) -> Result<Ack, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Save {
            playlist,
            allow_empty,
            ack,
        })
        .await?;
        Ok(Ack(rx))
    }

    /// Saves a playlist; returns once it (or a later version) is durable. See [`Store::save`].
    pub async fn save(&self, playlist: Playlist) -> Result<(), StoreError> {
        self.submit(playlist).await?.await
    }

    /// Saves a playlist that may be empty where it had items: the operator cleared it.
    pub async fn clear(&self, playlist: Playlist) -> Result<(), StoreError> {
        self.submit_clear(playlist).await?.await
    }

    /// Saves the playout state; returns once it (or a later state) is durable.
    pub async fn save_state(&self, state: PlayoutStateFile) -> Result<(), StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::State { state, ack }).await?;
        Ack(rx).await
    }

    /// Deletes a playlist (see [`Store::delete`]); returns where the file was kept.
    pub async fn delete(&self, id: impl Into<String>) -> Result<Option<PathBuf>, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Delete { id: id.into(), ack }).await?;
        rx.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Completes when everything queued before it is durable (used at shutdown).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Flush { ack }).await?;
        Ack(rx).await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn run(
    store: Arc<Mutex<Store>>,
    mut rx: mpsc::Receiver<Request>,
    stats: Arc<Mutex<WriterStats>>,
    observer: Option<WriteObserver>,
) {
    let mut batch = Vec::new();
    // Everything that queued up while the previous batch was on disk forms the next batch: the
    // slower the disk, the more a burst coalesces.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let ops = coalesce(batch.drain(..));
        let (store, stats, observer) = (store.clone(), stats.clone(), observer.clone());
        let done =
            tokio::task::spawn_blocking(move || execute(&store, ops, &stats, observer.as_ref()))
                .await;
        if let Err(e) = done {
            // The waiters of that batch see WriterGone (their responders were dropped); the store
            // is behind a mutex, so the next batch carries on.
            tracing::error!(error = %e, "store writer batch panicked");
        }
    }
}

struct Version {
    playlist: Playlist,
    allow_empty: bool,
    ack: Responder,
}

enum Op {
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
}

/// Merges the saves of one playlist (until a delete of it) and all state saves into single ops.
/// A merged op sits at its first request's place; moving a later version earlier is safe because
/// ops on other files are independent and a flush then only finds more on disk, never less.
fn coalesce(requests: impl Iterator<Item = Request>) -> Vec<Op> {
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
        }
    }
    ops
}

fn execute(
    store: &Mutex<Store>,
    ops: Vec<Op>,
    stats: &Mutex<WriterStats>,
    observer: Option<&WriteObserver>,
) {
    let store = store.lock().unwrap_or_else(PoisonError::into_inner);
    let note = |e: &StoreError| {
        let mut s = lock(stats);
        s.failures += 1;
        s.last_error = Some(e.to_string());
    };
    for op in ops {
        match op {
            Op::Save { id, versions } => save_versions(&store, &id, versions, stats, observer),
            Op::State { state, acks } => {
                let result = store.save_state(&state);
                if let Err(e) = &result {
                    note(e);
                }
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
            Op::Delete { id, ack } => {
                let result = store.delete(&id);
                if let Err(e) = &result {
                    note(e);
                }
                let _ = ack.send(result);
            }
            Op::Flush { ack } => {
                let _ = ack.send(Ok(()));
            }
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
            }
            // A version the store refuses is the caller's problem, not a failing disk.
            Err(StoreError::Invalid { .. } | StoreError::WouldEmpty { .. }) => s.refused += 1,
            Err(e) => {
                s.failures += 1;
                s.last_error = Some(e.to_string());
            }
        }
    }
    match &result {
        Ok(outcome) => {
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
