//! The async store writer: one task owns the [`Store`], does all file I/O on `spawn_blocking`, and
//! coalesces bursts so that only the latest queued version of a playlist is written.
//!
//! A waiter is answered only after the fsync of a write that contains its version or a later one,
//! never before: this is what makes "acknowledged" mean "durable".
//!
//! A stuck file system must not keep the daemon from exiting: [`StoreWriter::flush_within`] gives
//! up after a bound, and a writer task dropped with a batch still on disk (the runtime shutting
//! down around a blocked thread) logs what may not have been written.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::batch::{coalesce, execute};
use super::{PlayoutStateFile, Store, StoreError};
use crate::playout::model::Playlist;

/// Requests taken from the queue per batch (bounds the work done before the next acks).
const MAX_BATCH: usize = 1024;

/// A writer with nothing to do for this long compacts the journal (when it has records): the
/// playlist files, which people read and edit, catch up with the edits soon after a burst.
const COMPACT_IDLE: Duration = Duration::from_secs(30);

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

/// How long [`StoreWriter::flush`] waits before it reports the writer stalled.
pub const FLUSH_LIMIT: Duration = Duration::from_millis(1500);

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
    /// Failed writes (playlist, state or delete), ever.
    pub failures: u64,
    pub last_save_duration: Option<Duration>,
    /// The latest error among [`WriterStats::failing`]: `None` exactly when every file's latest
    /// write succeeded, so it clears by itself once the disk recovers and the files are written
    /// again (health reads "store ok" from it).
    pub last_error: Option<String>,
    /// Files whose latest write failed, as `("playlist news", error)` or `("state file", error)`,
    /// oldest failure first. A later successful write (or delete) of the same file removes it: a
    /// failure is not forgotten because some other file saved fine, since this one's version on
    /// disk is still the old one.
    pub failing: Vec<(String, String)>,
}

impl WriterStats {
    pub(super) fn failed(&mut self, target: &str, e: &StoreError) {
        let message = e.to_string();
        self.failures += 1;
        self.failing.retain(|(t, _)| t != target);
        self.failing.push((target.to_owned(), message.clone()));
        self.last_error = Some(message);
    }

    pub(super) fn succeeded(&mut self, target: &str) {
        self.failing.retain(|(t, _)| t != target);
        self.last_error = self.failing.last().map(|(_, e)| e.clone());
    }
}

/// What a writer has not confirmed on disk: the batch its blocking thread is on, and the requests
/// queued behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unflushed {
    /// The files of the batch on disk now, e.g. `playlist news (revision 7)`, `state file`.
    pub writing: Vec<String>,
    /// Requests queued and not yet taken into a batch.
    pub queued: usize,
}

impl Unflushed {
    pub fn is_empty(&self) -> bool {
        self.writing.is_empty() && self.queued == 0
    }
}

impl fmt::Display for Unflushed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.writing.is_empty() {
            f.write_str("nothing being written")?;
        } else {
            f.write_str(&self.writing.join(", "))?;
        }
        if self.queued > 0 {
            write!(f, "; {} more request(s) queued", self.queued)?;
        }
        Ok(())
    }
}

pub(super) type Responder = oneshot::Sender<Result<(), StoreError>>;

pub(super) enum Request {
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
    /// One journal record (see [`StoreWriter::append`]).
    Append {
        pending: super::book::Pending,
        ack: Responder,
    },
    /// Fold the journal into the snapshots now.
    Compact {
        ack: Responder,
    },
    /// A whole-playlist change of the engine's, in order with its appends (see
    /// [`StoreWriter::whole`]).
    Whole {
        op: Whole,
        epoch: u64,
        ack: Responder,
    },
}

/// A change of a whole playlist file, made in order with the journal appends.
#[derive(Debug, Clone)]
pub enum Whole {
    /// Write this playlist as its file (created, or replaced by an edit made outside onair).
    Put(Playlist),
    /// Delete the playlist (its file is kept aside, see [`Store::delete`]).
    Delete(String),
    /// Write the store's own copy of the playlist again (its file was removed or damaged
    /// outside onair).
    Rewrite(String),
}

impl Whole {
    /// What it puts on disk, for the log line of a writer abandoned at shutdown.
    pub(super) fn describe(&self) -> String {
        match self {
            Whole::Put(p) => format!("playlist {} (revision {})", p.id, p.revision),
            Whole::Delete(id) => format!("delete of playlist {id}"),
            Whole::Rewrite(id) => format!("playlist {id}"),
        }
    }
}

/// The answer to one queued save: resolves once that version (or a later one) is durable.
#[derive(Debug)]
pub struct SaveAck(oneshot::Receiver<Result<(), StoreError>>);

impl Future for SaveAck {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::WriterGone)))
    }
}

impl Request {
    fn describe(&self) -> Option<String> {
        match self {
            Request::Save { playlist, .. } => Some(format!(
                "playlist {} (revision {})",
                playlist.id, playlist.revision
            )),
            Request::State { .. } => Some("state file".to_owned()),
            Request::Delete { id, .. } => Some(format!("delete of playlist {id}")),
            Request::Flush { .. } => None,
            Request::Append { pending, .. } => Some(format!(
                "journal record of playlist {} (revision {})",
                pending.record.playlist, pending.record.revision
            )),
            Request::Compact { .. } => Some("journal compaction".to_owned()),
            Request::Whole { op, .. } => Some(op.describe()),
        }
    }
}

/// Cheap-clone handle to the writer task. The task ends when every handle is dropped, after
/// finishing what was queued.
#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Request>,
    stats: Arc<Mutex<WriterStats>>,
    /// What the batch on disk now writes (empty between batches).
    writing: Arc<Mutex<Vec<String>>>,
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
        let writing = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(run(
            Arc::new(Mutex::new(store)),
            rx,
            stats.clone(),
            writing.clone(),
            options.observer,
        ));
        (StoreWriter { tx, stats, writing }, task)
    }

    async fn send(&self, request: Request) -> Result<(), StoreError> {
        self.tx
            .send(request)
            .await
            .map_err(|_| StoreError::WriterGone)
    }

    /// Queues a save and returns at once with the [`SaveAck`] to await. Versions queued by one caller
    /// are written in queue order; the engine can queue in order without waiting for the disk.
    pub async fn submit(&self, playlist: Playlist) -> Result<SaveAck, StoreError> {
        self.submit_with(playlist, false).await
    }

    /// [`StoreWriter::submit`] that may replace items with an empty playlist (an explicit clear).
    pub async fn submit_clear(&self, playlist: Playlist) -> Result<SaveAck, StoreError> {
        self.submit_with(playlist, true).await
    }

    async fn submit_with(
        &self,
        playlist: Playlist,
        allow_empty: bool,
    ) -> Result<SaveAck, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Save {
            playlist,
            allow_empty,
            ack,
        })
        .await?;
        Ok(SaveAck(rx))
    }

    /// Saves a playlist; returns once it (or a later version) is durable. See [`Store::save`].
    pub async fn save(&self, playlist: Playlist) -> Result<(), StoreError> {
        self.submit(playlist).await?.await
    }

    /// Saves a playlist that may be empty where it had items: the operator cleared it.
    pub async fn clear(&self, playlist: Playlist) -> Result<(), StoreError> {
        self.submit_clear(playlist).await?.await
    }

    /// Queues one edit for the journal and returns at once with the [`SaveAck`] that resolves when
    /// it is durable (one `fdatasync` for every record that queued up meanwhile). `epoch` is the
    /// caller's count of failures seen: after a failed append every record of that epoch or
    /// earlier still queued is refused unwritten with [`StoreError::Discarded`], since it was
    /// made on top of the failed one; the caller starts a new epoch from its durable state.
    pub async fn append(
        &self,
        record: super::JournalRecord,
        epoch: u64,
    ) -> Result<SaveAck, StoreError> {
        let (ack, rx) = oneshot::channel();
        let pending = super::book::Pending { record, epoch };
        self.send(Request::Append { pending, ack }).await?;
        Ok(SaveAck(rx))
    }

    /// Queues a whole-playlist change in order with the appends; the [`SaveAck`] resolves when it
    /// is durable. Refused unwritten, like an append, when `epoch` is below a failure's.
    pub async fn whole(&self, op: Whole, epoch: u64) -> Result<SaveAck, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Whole { op, epoch, ack }).await?;
        Ok(SaveAck(rx))
    }

    /// Folds the journal into the snapshot files now (also done every `compact_every` records,
    /// every `compact_interval`, and at shutdown).
    pub async fn compact(&self) -> Result<(), StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Compact { ack }).await?;
        SaveAck(rx).await
    }

    /// Saves the playout state; returns once it (or a later state) is durable.
    pub async fn save_state(&self, state: PlayoutStateFile) -> Result<(), StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::State { state, ack }).await?;
        SaveAck(rx).await
    }

    /// Deletes a playlist (see [`Store::delete`]); returns where the file was kept.
    pub async fn delete(&self, id: impl Into<String>) -> Result<Option<PathBuf>, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.send(Request::Delete { id: id.into(), ack }).await?;
        rx.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Completes when everything queued before it is durable (used at shutdown), or after
    /// [`FLUSH_LIMIT`] with [`StoreError::Stalled`]: see [`StoreWriter::flush_within`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.flush_within(FLUSH_LIMIT).await
    }

    /// Completes when everything queued before it is durable, or after `limit` (queueing the
    /// flush included) with [`StoreError::Stalled`] naming what may not be on disk, also logged. A
    /// stuck file system blocks a write for as long as it likes; shutdown must not wait for it.
    pub async fn flush_within(&self, limit: Duration) -> Result<(), StoreError> {
        let flush = async {
            let (ack, rx) = oneshot::channel();
            self.send(Request::Flush { ack }).await?;
            SaveAck(rx).await
        };
        match tokio::time::timeout(limit, flush).await {
            Ok(result) => result,
            Err(_) => {
                let pending = self.unflushed();
                tracing::error!(
                    waited_ms = limit.as_millis() as u64,
                    unflushed = %pending,
                    "store writer stalled (file system not answering); these may not be on disk"
                );
                Err(StoreError::Stalled {
                    waited_ms: limit.as_millis() as u64,
                    pending: pending.to_string(),
                })
            }
        }
    }

    /// What the writer has not confirmed on disk yet.
    pub fn unflushed(&self) -> Unflushed {
        Unflushed {
            writing: self
                .writing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            queued: self.tx.max_capacity() - self.tx.capacity(),
        }
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
    writing: Arc<Mutex<Vec<String>>>,
    observer: Option<WriteObserver>,
) {
    let watch = Abandon {
        rx: &mut rx,
        writing: &writing,
    };
    let mut batch = Vec::new();
    // Everything that queued up while the previous batch was on disk forms the next batch: the
    // slower the disk, the more a burst coalesces (and the more journal records share one
    // fdatasync). A writer idle for COMPACT_IDLE folds the journal into the snapshots.
    loop {
        let received =
            match tokio::time::timeout(COMPACT_IDLE, watch.rx.recv_many(&mut batch, MAX_BATCH))
                .await
            {
                Ok(n) => n,
                Err(_) => {
                    let (ack, _) = oneshot::channel();
                    batch.push(Request::Compact { ack });
                    1
                }
            };
        if received == 0 {
            break;
        }
        let ops = coalesce(batch.drain(..));
        *lock(watch.writing) = ops.iter().filter_map(|op| op.describe()).collect();
        let (store, stats, observer) = (store.clone(), stats.clone(), observer.clone());
        let done =
            tokio::task::spawn_blocking(move || execute(&store, ops, &stats, observer.as_ref()))
                .await;
        lock(watch.writing).clear();
        if let Err(e) = done {
            // The waiters of that batch see WriterGone (their responders were dropped); the store
            // is behind a mutex, so the next batch carries on.
            tracing::error!(error = %e, "store writer batch panicked");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Dropped with the writer task. When the runtime shuts down while a batch is still on its
/// blocking thread (a stuck file system), the task is dropped mid-wait and the thread abandoned:
/// this says which files may not have been written, and which queued requests never were.
struct Abandon<'a> {
    rx: &'a mut mpsc::Receiver<Request>,
    writing: &'a Mutex<Vec<String>>,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        let writing = std::mem::take(&mut *lock(self.writing));
        let mut queued = Vec::new();
        while let Ok(request) = self.rx.try_recv() {
            queued.extend(request.describe());
        }
        if writing.is_empty() && queued.is_empty() {
            return; // an orderly end: every request was answered
        }
        let none = || "nothing".to_owned();
        let join = |v: &[String]| if v.is_empty() { none() } else { v.join(", ") };
        tracing::error!(
            writing = %join(&writing),
            queued = %join(&queued),
            "store writer abandoned at shutdown with the file system not answering: what it was writing may not be on disk, and the queued requests were never written"
        );
    }
}
