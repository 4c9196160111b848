//! Connects the engine's end of the journal (`playout::replica`) to JetStream (`journal`): one
//! task sends the engine's appends to NATS in order, each tagged with this process's origin and
//! the leader's term, and hands back the sequence each was stored at; another follows the journal
//! from the engine's last applied sequence and delivers every entry in order, marking the ones
//! this process appended. When NATS goes away the follower starts again from the entry after the
//! last it delivered, with a growing pause.
//!
//! Compaction: the leader's engine hands snapshots to a third loop, which stores each and drops
//! the entries it replaces. The follower starts from the latest snapshot when there is one, and
//! when the journal no longer has the entry it needs next (compacted away while this node was
//! behind) it delivers the snapshot in their place.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Journal, JournalError};
use crate::playout::replica::{Append, Delivered, ReplicaDeps, ReplicaError, Snapshot};

/// Appends the engine may have waiting for NATS; beyond, an edit is refused at once.
const APPENDS_WAITING: usize = 1024;
/// Entries delivered ahead of the engine.
const ENTRIES_AHEAD: usize = 256;
/// Requests for the journal's length waiting (one per lease gained: a handful at most).
const SYNCS_WAITING: usize = 4;
/// Snapshots waiting to be stored (one at a time: a newer one supersedes a waiting one anyway).
const SNAPSHOTS_WAITING: usize = 1;
/// Pauses before following again after NATS went away.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How often a follower that received nothing checks whether the journal went on without it.
const STALL_CHECK: Duration = Duration::from_secs(1);
/// How long opening a follower (a new consumer) may take before it is tried again: while a NATS
/// cluster elects the journal's new leader the first attempts can hang for many seconds.
const FOLLOW_OPEN: Duration = Duration::from_secs(2);

fn replica_error(e: JournalError) -> ReplicaError {
    match e {
        JournalError::Conflict { .. } => ReplicaError::Conflict,
        other => ReplicaError::Unavailable(other.to_string()),
    }
}

/// Where the station's journal lives and who this node is.
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    /// NATS server URLs, tried in turn.
    pub nats: Vec<String>,
    pub station: String,
    /// JetStream replicas of the journal (1 for one NATS server, 3 for a 3-node cluster).
    pub replicas: usize,
    pub node: String,
    /// Entries between compactions (0: never).
    pub compact_every: u64,
}

/// What `/health` and `/metrics` show of the journal.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// The last sequence handed to the engine.
    pub delivered: AtomicU64,
    /// The journal's last sequence as last seen (an entry, an append's answer, a check).
    pub last: AtomicU64,
    /// Whether the journal is open.
    pub open: AtomicBool,
    /// The sequence of the last snapshot this node stored or started from.
    pub snapshot: AtomicU64,
    /// How long after NATS stored it the last entry was handed to the engine, in microseconds
    /// (across two machines' clocks: NTP keeps them within a millisecond or so).
    pub lag_us: AtomicU64,
    /// Whether the engine drives (set by the engine, see `ReplicaDeps::driving`).
    pub driving: Arc<AtomicBool>,
}

impl JournalStats {
    /// `{open, last_seq, applied_seq, behind}` (entries not yet handed to the engine).
    pub fn json(&self) -> serde_json::Value {
        let (last, delivered) = (
            self.last.load(Ordering::Relaxed),
            self.delivered.load(Ordering::Relaxed),
        );
        serde_json::json!({
            "open": self.open.load(Ordering::Relaxed),
            "last_seq": last,
            "applied_seq": delivered,
            "behind": last.saturating_sub(delivered),
            "snapshot_seq": self.snapshot.load(Ordering::Relaxed),
            "lag_ms": self.lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
            "driving": self.driving.load(Ordering::Relaxed),
        })
    }

    /// The entry handed to the engine now was stored at `stored` (Unix ns, NATS's clock).
    fn lag(&self, stored: i128) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let us = u64::try_from((now - stored).max(0) / 1000).unwrap_or(u64::MAX);
        self.lag_us.store(us, Ordering::Relaxed);
    }

    fn seen(&self, seq: u64) {
        self.last.fetch_max(seq, Ordering::Relaxed);
    }
}

/// The engine's end of the journal, connected in the background.
pub struct Started {
    pub deps: ReplicaDeps,
    pub stats: Arc<JournalStats>,
    pub task: JoinHandle<()>,
}

/// Starts the replica for an engine whose playlists are empty (sequence 0), without waiting for
/// NATS: the connection and the journal are opened in the background, retried until they work.
/// Appends before that are refused as unavailable.
pub fn start(
    settings: ReplicaSettings,
    term: watch::Receiver<u64>,
    shutdown: CancellationToken,
) -> Started {
    let origin = origin(&settings.node);
    let (appends_tx, mut appends_rx) = mpsc::channel::<Append>(APPENDS_WAITING);
    let (entries_tx, entries_rx) = mpsc::channel(ENTRIES_AHEAD);
    let (compactions_tx, compactions) = mpsc::channel(SNAPSHOTS_WAITING);
    let (syncs_tx, mut syncs) = mpsc::channel(SYNCS_WAITING);
    let compact_every = settings.compact_every;
    let (target_tx, caught_up) = watch::channel(None);
    let stats = Arc::new(JournalStats::default());
    let shared = stats.clone();
    let task = tokio::spawn(async move {
        let stats = shared;
        let journal = tokio::select! {
            () = shutdown.cancelled() => return,
            j = open_retrying(&settings, &shutdown) => match j {
                Some(j) => j,
                None => return,
            },
            // Nothing is appended before the journal is open (an engine that does not lead yet
            // does not append; this answers any that would), nor is its length known.
            () = refuse_appends(&mut appends_rx) => return,
            () = refuse_syncs(&mut syncs) => return,
        };
        let target = loop {
            match journal.last_seq().await {
                Ok(last) => break last,
                Err(e) => {
                    tracing::warn!(error = %e, "the journal's length is not known yet");
                    if !pause_unless_stopped(&shutdown, RETRY_MAX).await {
                        return;
                    }
                }
            }
        };
        tracing::info!(
            entries = target,
            "cluster mode: reading the station's journal"
        );
        stats.open.store(true, Ordering::Relaxed);
        stats.seen(target);
        let _ = target_tx.send(Some(target));
        let ends = Ends {
            origin,
            term,
            appends: appends_rx,
            entries: entries_tx,
            compactions,
            syncs,
            stats,
        };
        run(journal, ends, 0, shutdown).await;
    });
    let deps = ReplicaDeps {
        appends: appends_tx,
        entries: entries_rx,
        applied: 0,
        caught_up,
        syncs: syncs_tx,
        compactions: compactions_tx,
        compact_every,
        driving: stats.driving.clone(),
    };
    Started { deps, stats, task }
}

/// Connects to NATS and opens the journal, retrying with a growing pause; `None` on shutdown.
async fn open_retrying(
    settings: &ReplicaSettings,
    shutdown: &CancellationToken,
) -> Option<Journal> {
    let mut pause = RETRY_FIRST;
    loop {
        let opened = async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .connect(settings.nats.as_slice())
                .await
                .map_err(|e| e.to_string())?;
            Journal::open(client, &settings.station, settings.replicas)
                .await
                .map_err(|e| e.to_string())
        };
        match opened.await {
            Ok(journal) => return Some(journal),
            Err(e) => tracing::warn!(error = %e, "cluster mode: the journal cannot be opened yet"),
        }
        if !pause_unless_stopped(shutdown, pause).await {
            return None;
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// Answers every request for the journal's length as unavailable (while the journal is not
/// open); never returns.
async fn refuse_syncs(syncs: &mut mpsc::Receiver<oneshot::Sender<Result<u64, ReplicaError>>>) {
    while let Some(done) = syncs.recv().await {
        let _ = done.send(Err(ReplicaError::Unavailable(
            "not connected to NATS yet".to_owned(),
        )));
    }
    std::future::pending::<()>().await;
}

/// Answers every append as unavailable (while the journal is not open); never returns.
async fn refuse_appends(appends: &mut mpsc::Receiver<Append>) {
    while let Some(a) = appends.recv().await {
        let _ = a.done.send(Err(ReplicaError::Unavailable(
            "not connected to NATS yet".to_owned(),
        )));
    }
    std::future::pending::<()>().await;
}

/// Starts the tasks on an open journal. `node`: this node's name; `term`: the leader lease's
/// revision while this node leads (stamped on each append); `applied`: the sequence the engine's
/// playlists include; `compact_every`: entries between the leader's compactions (0: never).
pub fn spawn(
    journal: Journal,
    node: &str,
    term: watch::Receiver<u64>,
    applied: u64,
    compact_every: u64,
    shutdown: CancellationToken,
) -> (ReplicaDeps, JoinHandle<()>) {
    let (appends_tx, appends) = mpsc::channel(APPENDS_WAITING);
    let (entries_tx, entries_rx) = mpsc::channel(ENTRIES_AHEAD);
    let (compactions_tx, compactions) = mpsc::channel(SNAPSHOTS_WAITING);
    let (syncs_tx, syncs) = mpsc::channel(SYNCS_WAITING);
    let stats = Arc::<JournalStats>::default();
    let ends = Ends {
        origin: origin(node),
        term,
        appends,
        entries: entries_tx,
        compactions,
        syncs,
        stats: stats.clone(),
    };
    let task = tokio::spawn(run(journal, ends, applied, shutdown));
    // Its playlists are the journal's up to `applied` already.
    let (_, caught_up) = watch::channel(Some(applied));
    let deps = ReplicaDeps {
        appends: appends_tx,
        entries: entries_rx,
        applied,
        caught_up,
        syncs: syncs_tx,
        compactions: compactions_tx,
        compact_every,
        driving: stats.driving.clone(),
    };
    (deps, task)
}

/// A tag unique to this process: a restarted daemon does not take its predecessor's entries for
/// its own appends.
fn origin(node: &str) -> String {
    format!("{node}/{:016x}", fastrand::u64(..))
}

/// The glue's ends: what it stamps on appends, and the engine's channels.
struct Ends {
    origin: String,
    term: watch::Receiver<u64>,
    appends: mpsc::Receiver<Append>,
    entries: mpsc::Sender<Delivered>,
    compactions: mpsc::Receiver<Snapshot>,
    syncs: mpsc::Receiver<oneshot::Sender<Result<u64, ReplicaError>>>,
    stats: Arc<JournalStats>,
}

/// Sends the appends, stores the snapshots and follows the journal from `applied + 1` until
/// shutdown.
async fn run(journal: Journal, ends: Ends, applied: u64, shutdown: CancellationToken) {
    let appending = tokio::spawn(append_loop(
        journal.clone(),
        ends.origin.clone(),
        ends.term,
        ends.appends,
        ends.stats.clone(),
        shutdown.clone(),
    ));
    let syncing = tokio::spawn(sync_loop(
        journal.clone(),
        ends.syncs,
        ends.stats.clone(),
        shutdown.clone(),
    ));
    let compacting = tokio::spawn(compact_loop(
        journal.clone(),
        ends.compactions,
        ends.stats.clone(),
        shutdown.clone(),
    ));
    let following = tokio::spawn(follow_loop(
        journal,
        ends.origin,
        applied,
        ends.entries,
        ends.stats,
        shutdown,
    ));
    let _ = tokio::join!(appending, syncing, compacting, following);
}

/// Waits `pause`; false when shutdown came first.
async fn pause_unless_stopped(shutdown: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(pause) => true,
    }
}

async fn append_loop(
    journal: Journal,
    origin: String,
    term: watch::Receiver<u64>,
    mut appends: mpsc::Receiver<Append>,
    stats: Arc<JournalStats>,
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
                let (done, stats) = (append.done, stats.clone());
                tokio::spawn(async move {
                    let result = pending.await.map_err(replica_error);
                    if let Ok(seq) = result {
                        stats.seen(seq);
                    }
                    let _ = done.send(result);
                });
            }
            Err(e) => {
                let _ = append.done.send(Err(replica_error(e)));
            }
        }
    }
}

/// Answers the engine's requests for the journal's length (it asks on gaining the lease).
async fn sync_loop(
    journal: Journal,
    mut syncs: mpsc::Receiver<oneshot::Sender<Result<u64, ReplicaError>>>,
    stats: Arc<JournalStats>,
    shutdown: CancellationToken,
) {
    loop {
        let done = tokio::select! {
            () = shutdown.cancelled() => return,
            d = syncs.recv() => match d {
                Some(d) => d,
                None => return,
            },
        };
        let length = journal.last_seq().await;
        if let Ok(last) = length {
            stats.seen(last);
        }
        let _ = done.send(length.map_err(replica_error));
    }
}

/// Stores each snapshot the leader's engine hands over and drops the entries it replaces.
async fn compact_loop(
    journal: Journal,
    mut snapshots: mpsc::Receiver<Snapshot>,
    stats: Arc<JournalStats>,
    shutdown: CancellationToken,
) {
    loop {
        let snapshot = tokio::select! {
            () = shutdown.cancelled() => return,
            s = snapshots.recv() => match s {
                Some(s) => s,
                None => return,
            },
        };
        let (seq, started) = (snapshot.seq, std::time::Instant::now());
        // A snapshot not stored is no loss: the entries stay until the next one is.
        match journal.compact(&snapshot).await {
            Ok(()) => {
                stats.snapshot.fetch_max(seq, Ordering::Relaxed);
                tracing::info!(
                    seq,
                    ms = started.elapsed().as_millis() as u64,
                    "cluster: the journal is compacted up to a snapshot"
                );
            }
            Err(e) => tracing::warn!(seq, error = %e, "cluster: compacting the journal failed"),
        }
    }
}

/// What the follower does when the journal cannot give it entry `next`.
enum Gap {
    /// The snapshot covering the missing entries was delivered: follow on from `next`.
    Filled { next: u64 },
    /// No snapshot covers them (yet): try again after a pause.
    Open,
    /// The engine is gone.
    Closed,
}

/// Delivers the journal's snapshot when it goes beyond `next - 1` (the entries it replaced are
/// not to be read): at start, and when the journal no longer has entry `next`.
async fn deliver_snapshot(
    journal: &Journal,
    next: u64,
    entries: &mpsc::Sender<Delivered>,
    stats: &JournalStats,
) -> Gap {
    match journal.snapshot().await {
        Ok(Some(snapshot)) if snapshot.seq >= next => {
            let seq = snapshot.seq;
            tracing::info!(seq, "cluster: starting from the journal's snapshot");
            if entries.send(snapshot.into_delivered()).await.is_err() {
                return Gap::Closed;
            }
            stats.seen(seq);
            stats.delivered.store(seq, Ordering::Relaxed);
            stats.snapshot.fetch_max(seq, Ordering::Relaxed);
            Gap::Filled { next: seq + 1 }
        }
        Ok(_) => Gap::Open,
        Err(e) => {
            tracing::warn!(error = %e, "cluster: the journal's snapshot cannot be read");
            Gap::Open
        }
    }
}

/// Follows the journal from `applied + 1`, starting from its snapshot when that is further.
async fn follow_loop(
    journal: Journal,
    origin: String,
    applied: u64,
    entries: mpsc::Sender<Delivered>,
    stats: Arc<JournalStats>,
    shutdown: CancellationToken,
) {
    let mut next = applied + 1;
    let mut pause = RETRY_FIRST;
    // The snapshot is looked at before the first entry is read, and again at every gap.
    let mut look = true;
    // Gaps met in a row without an entry delivered: a snapshot that does not cover a gap (none
    // stored yet) is looked for again after the usual pause, not in a tight loop.
    let mut gaps = 0u32;
    loop {
        if std::mem::take(&mut look) {
            match deliver_snapshot(&journal, next, &entries, &stats).await {
                Gap::Filled { next: n } => next = n,
                Gap::Closed => return,
                Gap::Open => {}
            }
        }
        let opened = tokio::time::timeout(FOLLOW_OPEN, journal.follow_stamped(next))
            .await
            .unwrap_or_else(|_| Err(JournalError::Nats("opening a follower timed out".into())));
        match opened {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                // The first check a period after opening (an interval's first tick is at once,
                // which would take a follower that is still behind for a stalled one).
                let mut check = tokio::time::interval_at(
                    tokio::time::Instant::now() + STALL_CHECK,
                    STALL_CHECK,
                );
                check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut delivered = false;
                loop {
                    let item = tokio::select! {
                        () = shutdown.cancelled() => return,
                        item = stream.next() => item,
                        _ = check.tick() => {
                            // JetStream's consumer notices a restarted server only after two
                            // missed 15 s heartbeats: when nothing came for a check period while
                            // the journal has entries beyond ours, follow again from there. A
                            // length that cannot be read within the period (the stream's NATS
                            // leader died and another is being elected) counts as entries
                            // beyond: the consumer may be on the dead server, and a CI run saw
                            // a follower stuck for 15 s while these reads failed.
                            let last = tokio::time::timeout(STALL_CHECK, journal.last_seq())
                                .await
                                .unwrap_or_else(|_| {
                                    Err(JournalError::Nats("reading the journal's length timed out".into()))
                                });
                            match &last {
                                Ok(last) => stats.seen(*last),
                                Err(e) => tracing::debug!(error = %e, next, "the journal's length is not known"),
                            }
                            if !std::mem::take(&mut delivered)
                                && last.as_ref().map_or(true, |last| *last >= next)
                            {
                                tracing::info!(next, "the journal follower stalled: following again");
                                break;
                            }
                            continue;
                        }
                    };
                    match item {
                        Some(Ok((seq, _, _))) if seq > next => {
                            // Entries up to `seq` were compacted away while this node was behind.
                            tracing::info!(
                                next,
                                seq,
                                "cluster: the entries this node needs were compacted"
                            );
                            look = true;
                            break;
                        }
                        Some(Ok((seq, _, _))) if seq < next => continue,
                        Some(Ok((seq, entry, stored))) => {
                            pause = RETRY_FIRST;
                            delivered = true;
                            gaps = 0;
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
                            stats.seen(seq);
                            stats.delivered.store(seq, Ordering::Relaxed);
                            stats.lag(stored);
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
        if look && gaps == 0 {
            // A gap: the snapshot covering it is read at once (it is stored before the entries
            // are dropped, so it is there).
            gaps += 1;
            continue;
        }
        if !pause_unless_stopped(&shutdown, pause).await {
            return;
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}
