//! External edits: notices playlist files changed by someone else (an editor, a script, rsync),
//! validates them, and reports [`ExternalChange`]s on a channel. The daemon's own writes are
//! recognised by content hash (recorded by the store under the same lock) and not reported.
//!
//! Editors save by rename, so events are not trusted for what happened: every event only names a
//! file to look at, and the file's current content decides (updated, rejected or removed).
//!
//! The watcher never holds up the store: files are read without the shared ledger lock (the lock is
//! only taken to compare and record), and only regular files are opened at all, so a FIFO or a
//! symbolic link named like a playlist is rejected from its `symlink_metadata` alone.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::playout::model::{Playlist, PlaylistError, validate_id};
use crate::playout::store::{
    BACKUP_SUFFIX, FileRecord, LoadError, Stamp, WatchContext, content_hash, decode, read_capped,
    sync_dir, write_temp,
};

/// Quiet time after the last event of a file before it is read: an editor's save (write temp,
/// rename, touch) settles well within it, and an operator does not notice it.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Reads of one file that may start over because the store wrote that file meanwhile; past that
/// the store's latest write stands (it kept the external version as the backup or aside) and the
/// next event checks the file again.
const ATTEMPTS: usize = 5;

/// What changed on disk without the daemon doing it.
#[derive(Debug, Clone)]
pub enum ExternalChange {
    /// A valid new version: use it. It is already on disk (and kept as the backup).
    Updated(Playlist),
    /// An invalid edit: keep using the last good version and raise an alarm. Saving the last good
    /// version again keeps the rejected file aside as `<id>.json.corrupt-<time>` and makes the last
    /// good version the file on disk again.
    Rejected { id: String, error: LoadError },
    /// The file was removed: the operator deleted the playlist outside onair.
    Removed(String),
}

/// The watcher could not start.
#[derive(Debug, Error)]
#[error("cannot watch {dir}: {source}")]
pub struct WatchError {
    pub dir: PathBuf,
    #[source]
    pub source: notify::Error,
}

/// Watches while alive; dropping it stops the watcher.
pub struct PlaylistWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for PlaylistWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaylistWatcher").finish_non_exhaustive()
    }
}

impl PlaylistWatcher {
    /// Starts watching `ctx.dir()`, then checks every file once, so an edit made between loading
    /// the store and this call is not missed. Events go to `tx`; the watcher stops sending when
    /// the receiver is dropped. Callable from async code (nothing here blocks on the channel).
    pub fn start(
        ctx: WatchContext,
        tx: mpsc::Sender<ExternalChange>,
    ) -> Result<PlaylistWatcher, WatchError> {
        let dir = ctx.dir().to_owned();
        let checker = Arc::new(Checker {
            ctx,
            tx,
            rejected: Mutex::new(HashMap::new()),
        });
        let handler = {
            let checker = checker.clone();
            move |result: DebounceEventResult| checker.handle(result)
        };
        let watch_error = |source| WatchError {
            dir: dir.clone(),
            source,
        };
        let mut debouncer = new_debouncer(DEBOUNCE, None, handler).map_err(watch_error)?;
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(watch_error)?;
        // On its own thread: `blocking_send` must not run on a runtime thread.
        std::thread::Builder::new()
            .name("onair playlist scan".to_owned())
            .spawn(move || checker.check_all())
            .map_err(|e| watch_error(e.into()))?;
        Ok(PlaylistWatcher {
            _debouncer: debouncer,
        })
    }
}

/// `Some(id)` for `<dir>/<id>.json`; `None` for backups, kept-aside files, temp files and others.
fn playlist_id(path: &Path) -> Option<String> {
    let id = path.file_name()?.to_str()?.strip_suffix(".json")?;
    validate_id("playlist", id).ok()?;
    Some(id.to_owned())
}

/// The outcome of one look at a file.
enum Judged {
    Done(Option<ExternalChange>),
    /// The store wrote the file during the look: look again.
    Stale,
}

struct Checker {
    ctx: WatchContext,
    tx: mpsc::Sender<ExternalChange>,
    /// Content hash of the last rejected version per file, so one bad save is reported once even
    /// when the file system reports it several times.
    rejected: Mutex<HashMap<String, u64>>,
}

impl Checker {
    /// Runs on the debouncer's thread.
    fn handle(&self, result: DebounceEventResult) {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    tracing::warn!(dir = %self.ctx.dir().display(), error = %e, "playlist watcher error");
                }
                return;
            }
        };
        if events.iter().any(|e| e.need_rescan()) {
            // The kernel dropped events: look at everything.
            return self.check_all();
        }
        let ids: BTreeSet<String> = events
            .iter()
            .flat_map(|e| e.paths.iter())
            .filter(|p| p.parent() == Some(self.ctx.dir()))
            .filter_map(|p| playlist_id(p))
            .collect();
        self.check_ids(ids);
    }

    fn check_all(&self) {
        let mut ids: BTreeSet<String> = self.ctx.ledger.lock().keys().cloned().collect();
        if let Ok(entries) = fs::read_dir(self.ctx.dir()) {
            ids.extend(entries.flatten().filter_map(|e| playlist_id(&e.path())));
        }
        self.check_ids(ids);
    }

    fn check_ids(&self, ids: BTreeSet<String>) {
        for id in ids {
            if let Some(change) = self.check(&id)
                && self.tx.blocking_send(change).is_err()
            {
                return; // nobody listens any more
            }
        }
    }

    /// Judges the current content of `<id>.json`, starting over when the store wrote it meanwhile.
    fn check(&self, id: &str) -> Option<ExternalChange> {
        let path = self.ctx.dir().join(format!("{id}.json"));
        for _ in 0..ATTEMPTS {
            if let Judged::Done(change) = self.judge(id, &path) {
                return change;
            }
        }
        tracing::debug!(
            playlist = id,
            "playlist file rewritten by the store while it was read; the next event checks it"
        );
        None
    }

    /// One look at the file. It is read without the ledger lock, so a slow disk or a big file holds
    /// up only this thread, never a save. The lock is taken to compare and record, and the ledger's
    /// generation says whether the store renamed or removed a primary since the read began; then
    /// what was read may be older than the store's own write, and the look is [`Judged::Stale`].
    fn judge(&self, id: &str, path: &Path) -> Judged {
        let ledger = &self.ctx.ledger;
        let generation = ledger.generation(id);
        let stale = || ledger.generation(id) != generation;
        let (bytes, stamp) = match read_capped(path) {
            Ok(read) => read,
            Err(LoadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                let mut records = ledger.lock();
                if stale() {
                    return Judged::Stale;
                }
                self.forget_rejected(id);
                // Only news if the daemon had this playlist (its own deletes drop the record first).
                let removed = records.remove(id).is_some();
                return Judged::Done(removed.then(|| ExternalChange::Removed(id.to_owned())));
            }
            Err(error) => {
                if stale() {
                    return Judged::Stale;
                }
                // The same unreadable thing (a FIFO, an oversized file) is reported once, not at
                // every event: its key is the error and the entry's identity.
                let key = fs::symlink_metadata(path)
                    .ok()
                    .map(|m| content_hash(format!("{error}{:?}", Stamp::of(&m)).as_bytes()));
                return Judged::Done(self.reject(id, key, error));
            }
        };
        let hash = content_hash(&bytes);
        let seen = |records: &HashMap<String, FileRecord>| {
            records.get(id).is_some_and(|r| r.seen_hash == hash)
        };
        {
            let records = ledger.lock();
            if stale() {
                return Judged::Stale;
            }
            if seen(&records) {
                return Judged::Done(None); // the daemon's own write, or a version already handled
            }
        }
        // Parsing a big file takes a while: not under the lock either.
        let decoded = decode(&bytes, id, &self.ctx.limits);
        let mut records = ledger.lock();
        if stale() {
            return Judged::Stale;
        }
        if seen(&records) {
            return Judged::Done(None); // handled by another look meanwhile
        }
        let decoded = decoded.and_then(|p| {
            let max = self.ctx.limits.max_playlists;
            if !records.contains_key(id) && records.len() >= max {
                Err(LoadError::Invalid(PlaylistError::TooManyPlaylists { max }))
            } else {
                Ok(p)
            }
        });
        let playlist = match decoded {
            Ok(p) => p,
            Err(error) => {
                drop(records);
                return Judged::Done(self.reject(id, Some(hash), error));
            }
        };
        records.insert(
            id.to_owned(),
            FileRecord {
                seen_hash: hash,
                good_stamp: Some(stamp),
                items: playlist.items.len(),
            },
        );
        drop(records);
        self.keep_as_backup(id, &bytes, generation);
        self.forget_rejected(id);
        Judged::Done(Some(ExternalChange::Updated(playlist)))
    }

    /// The accepted version also becomes the backup (a copy of the bytes read, not a link the editor
    /// could still change in place), so a later bad edit leaves it restorable. Written without the
    /// lock; only the rename is done under it, and only if the store has not saved the playlist
    /// since: a save made the accepted version (or a later one) the backup itself.
    fn keep_as_backup(&self, id: &str, bytes: &[u8], generation: u64) {
        let dir = self.ctx.dir();
        let name = format!("{id}.json{BACKUP_SUFFIX}");
        let warn = |e: &dyn std::fmt::Display| {
            tracing::warn!(playlist = id, error = %e, "could not keep the accepted external edit as the backup");
        };
        let temp = match write_temp(dir, &name, bytes) {
            Ok(t) => t,
            Err(e) => return warn(&e),
        };
        {
            let _records = self.ctx.ledger.lock();
            if self.ctx.ledger.generation(id) != generation {
                temp.discard();
                return;
            }
            // Renaming over the backup replaces whatever is there (a link is replaced, not followed).
            if let Err(e) = fs::rename(&temp.path, dir.join(&name)) {
                temp.discard();
                return warn(&e);
            }
        }
        if let Err(e) = sync_dir(dir) {
            warn(&e);
        }
    }

    fn reject(&self, id: &str, hash: Option<u64>, error: LoadError) -> Option<ExternalChange> {
        let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hash) = hash
            && rejected.insert(id.to_owned(), hash) == Some(hash)
        {
            return None; // already reported
        }
        Some(ExternalChange::Rejected {
            id: id.to_owned(),
            error,
        })
    }

    fn forget_rejected(&self, id: &str) {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}
