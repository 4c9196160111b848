//! Playlist storage: one JSON file per playlist in `data/playlists/` (the snapshot, saved atomically
//! with a backup, recovered by itself from corrupt files), an edit journal in `data/journal/` that
//! makes each edit durable with one small append, and a small state file for restarts.
//!
//! Broadcast tools lose rundowns by deleting or truncating the old file before the new one is
//! complete. Here every save goes through one sequence (see [`Store::save`]) that leaves a loadable
//! primary or backup on disk at every instant, and acknowledges only after the directory fsync.
//!
//! - [`Store`]: the synchronous store (owned by one writer; call it from `spawn_blocking`).
//! - [`StoreWriter`]: the async, coalescing writer task and its cheap-clone handle.
//! - [`PlayoutStateFile`]: the cursor / on-air state the engine persists for restarts.
//! - External edits are noticed by [`crate::playout::watch`], which shares the store's record of its
//!   own writes ([`Store::watch_context`]).

mod aside;
mod batch;
mod book;
mod error;
mod format;
mod fsutil;
mod journal;
mod load;
mod regular;
pub mod stall;
mod state;
pub mod torture;
mod writer;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use aside::{KEEP_CORRUPT, TRUNCATED_HEAD_BYTES, TRUNCATED_SUFFIX};
pub use error::{AlarmKind, LoadError, StoreAlarm, StoreError};
pub use format::{MAX_FILE_BYTES, SCHEMA, decode, encode};
pub use journal::JournalRecord;
pub use load::DEFAULT_PLAYLIST;
pub use regular::{FileKind, NotRegular, OpenError, not_regular, open_regular};
pub use state::{PlaylistState, PlayoutStateFile};
pub use writer::{
    FLUSH_LIMIT, SaveAck, StoreWriter, Unflushed, Whole, WriteObserver, WriteRecord, WriterOptions,
    WriterStats,
};

pub(crate) use format::{Stamp, content_hash, read_capped};
pub(crate) use fsutil::{replace_with_bytes, sync_dir, write_temp};

use crate::amcp::ChannelLayer;
use crate::config::{PlayoutConfig, StoreConfig};
use crate::playout::model::{Limits, Playlist, validate_id};

/// Suffix of the previous good version of `<id>.json`.
pub const BACKUP_SUFFIX: &str = ".backup";

/// What `open` found: the playlists to use and what the operator must be told.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Every usable playlist, sorted by id.
    pub playlists: Vec<Playlist>,
    /// Recoveries and problems, one per file concerned.
    pub alarms: Vec<StoreAlarm>,
    /// The saved playout state, if there was a usable one.
    pub state: Option<PlayoutStateFile>,
}

/// What a successful save did besides writing the new version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveOutcome {
    /// The file that was in place was not a valid playlist (a bad external edit): it was kept
    /// under this name instead of becoming the backup.
    pub set_aside: Option<PathBuf>,
}

/// What the daemon knows about one playlist file. Shared by the store and the watcher under one
/// lock, so that "rename into place + record" and "read + compare" never interleave.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileRecord {
    /// Hash of the content the daemon last wrote, loaded or handled for this file: an event whose
    /// content has this hash is not news.
    pub seen_hash: u64,
    /// Stamp of the primary when it was last known good; a different stamp means someone else
    /// wrote it since and it must be read before it may become the backup.
    pub good_stamp: Option<Stamp>,
    /// Items in the last good version (for the empty-overwrite guard).
    pub items: usize,
}

/// The shared record of playlist files, keyed by playlist id, and per id a count of the store's
/// changes to its primary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    records: Arc<Mutex<HashMap<String, FileRecord>>>,
    /// Taken alone or inside `records`, never the other way round.
    generations: Arc<Mutex<HashMap<String, u64>>>,
}

impl Ledger {
    /// A poisoned lock only means another thread panicked mid-update; the map itself is still a
    /// usable cache, and refusing all saves forever would be worse.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, FileRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes whenever the store has renamed a file into `id`'s primary place or removed it.
    /// The watcher reads a file without the lock (a read must never hold up the writer) and uses
    /// this to know whether what it read may predate one of the store's own writes.
    pub(crate) fn generation(&self, id: &str) -> u64 {
        let generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generations.get(id).copied().unwrap_or(0)
    }

    /// Called with the `records` lock held, after `id`'s primary changed on disk.
    fn bump(&self, id: &str) {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *generations.entry(id.to_owned()).or_default() += 1;
    }
}

/// Everything the watcher needs to judge and record external edits.
#[derive(Debug, Clone)]
pub struct WatchContext {
    pub(crate) dir: PathBuf,
    pub(crate) limits: Limits,
    pub(crate) ledger: Ledger,
}

impl WatchContext {
    /// The watched directory (`data/playlists`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The state of a primary file at the moment of a save.
#[derive(Debug)]
enum OnDisk {
    Missing,
    Good { items: usize },
    Bad(LoadError),
}

/// The playlist store of one data directory. Only one `Store` may own a directory at a time
/// (nothing enforces it yet: `open` removes temp files it takes for leftovers of a crash).
#[derive(Debug)]
pub struct Store {
    data_dir: PathBuf,
    playlists_dir: PathBuf,
    limits: Limits,
    default_layer: ChannelLayer,
    ledger: Ledger,
    /// The edit journal (`data/journal/`).
    journal: Mutex<journal::Journal>,
    /// The playlists as the disk has them (snapshots plus journal).
    book: Mutex<book::Book>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/playlists`, loads every playlist with recovery, and
    /// creates an empty `main` playlist when there is none at all. Only a directory that cannot be
    /// created or listed is an error; bad files become alarms in the report.
    pub fn open(
        data_dir: impl Into<PathBuf>,
        limits: Limits,
        default_channel_layer: ChannelLayer,
    ) -> Result<(Store, LoadReport), StoreError> {
        let data_dir = data_dir.into();
        let playlists_dir = data_dir.join("playlists");
        fs::create_dir_all(&playlists_dir)
            .map_err(|e| StoreError::io("create directory", &playlists_dir, e))?;
        let default_layer = ChannelLayer {
            layer: Some(default_channel_layer.layer.unwrap_or(10)),
            ..default_channel_layer
        };
        // A directory that has never held a journal is new: it gets the default playlist. One
        // whose playlists were all deleted through onair stays empty (memory equals disk).
        let fresh = fs::symlink_metadata(journal::dir_of(&data_dir)).is_err();
        let (journal, replay) = journal::Journal::open(&data_dir)?;
        let store = Store {
            data_dir,
            playlists_dir,
            limits,
            default_layer,
            ledger: Ledger::default(),
            journal: Mutex::new(journal),
            book: Mutex::new(book::Book::default()),
        };
        let mut report = load::load_all(&store, fresh)?;
        store.replay_into(&mut report, replay);
        Ok((store, report))
    }

    /// A store that holds only what the station's replicated journal gives it (cluster mode): a
    /// copy rebuilt from the journal at every start, so its playlists and journal are emptied
    /// first (never following a link), and it starts without the default playlist.
    pub fn open_replica(
        data_dir: impl Into<PathBuf>,
        limits: Limits,
        default_channel_layer: ChannelLayer,
    ) -> Result<(Store, LoadReport), StoreError> {
        let data_dir = data_dir.into();
        for dir in [data_dir.join("playlists"), journal::dir_of(&data_dir)] {
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(&dir)
                    .map_err(|e| StoreError::io("empty the replica's copy", &dir, e))?,
                Ok(_) => fs::remove_file(&dir)
                    .map_err(|e| StoreError::io("empty the replica's copy", &dir, e))?,
                Err(_) => {}
            }
        }
        // A journal directory makes it not fresh: no default playlist.
        let journal_dir = journal::dir_of(&data_dir);
        fs::create_dir_all(&journal_dir)
            .map_err(|e| StoreError::io("create directory", &journal_dir, e))?;
        Store::open(data_dir, limits, default_channel_layer)
    }

    /// [`Store::open`] with the daemon's configuration.
    pub fn from_config(
        store: &StoreConfig,
        playout: &PlayoutConfig,
    ) -> Result<(Store, LoadReport), StoreError> {
        let limits = Limits {
            max_playlists: store.max_playlists,
            max_items: store.max_items_per_playlist,
        };
        Store::open(&store.data_dir, limits, playout.default_channel_layer)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn playlists_dir(&self) -> &Path {
        &self.playlists_dir
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What [`crate::playout::watch`] needs; shares this store's record of its own writes.
    pub fn watch_context(&self) -> WatchContext {
        WatchContext {
            dir: self.playlists_dir.clone(),
            limits: self.limits,
            ledger: self.ledger.clone(),
        }
    }

    /// `data/playlists/<id>.json`
    pub fn primary_path(&self, id: &str) -> PathBuf {
        self.playlists_dir.join(format!("{id}.json"))
    }

    /// `data/playlists/<id>.json.backup`
    pub fn backup_path(&self, id: &str) -> PathBuf {
        self.playlists_dir.join(format!("{id}.json{BACKUP_SUFFIX}"))
    }

    /// Saves a playlist durably. Refuses ([`StoreError::WouldEmpty`]) to replace a playlist that
    /// has items with an empty one: use [`Store::clear`] when the operator asked for exactly that.
    ///
    /// The sequence, and why a crash (or SIGKILL) at any point leaves a loadable file:
    /// 1. serialize, re-parse and validate the bytes: a bad version is never written;
    /// 2. write them to a hidden temp file in the same directory and fsync it: the old primary is
    ///    untouched, and a leftover temp file is ignored and removed at the next start;
    /// 3. if the current primary is good (the version the store last wrote or loaded, by inode,
    ///    size and mtime; otherwise it is read and validated), hard-link it to a temp name and
    ///    rename that over `<id>.json.backup` (no data copied; renames are atomic, so the backup is
    ///    at every instant the old or the new previous version, and the primary is never missing;
    ///    the two names share an inode only until step 4 gives the primary a new one). A primary
    ///    that is not a valid playlist (a bad external edit) is instead copied aside as
    ///    `<id>.json.corrupt-<time>` (the newest [`KEEP_CORRUPT`] kept, each bounded in size) and
    ///    the backup keeps the last good version. A primary that is not a regular file (a FIFO, a
    ///    symbolic link, a directory…) is never opened, linked or replaced: the save fails with
    ///    [`StoreError::NotRegular`] and only that playlist is affected;
    /// 4. rename the temp file over `<id>.json`: atomic, so the primary is the old or the new
    ///    version, both complete and fsynced, never a partial file;
    /// 5. fsync the directory so the renames survive a power cut; only then is the save reported
    ///    done, so an acknowledged version is always on disk.
    pub fn save(&self, playlist: &Playlist) -> Result<SaveOutcome, StoreError> {
        self.write_playlist(playlist, false)
    }

    /// Like [`Store::save`], but an empty playlist may replace one with items (the operator
    /// cleared the playlist). The previous version is still kept as the backup.
    pub fn clear(&self, playlist: &Playlist) -> Result<SaveOutcome, StoreError> {
        self.write_playlist(playlist, true)
    }

    /// Saves with an explicit choice about replacing items with an empty playlist.
    pub fn save_with(
        &self,
        playlist: &Playlist,
        allow_empty: bool,
    ) -> Result<SaveOutcome, StoreError> {
        self.write_playlist(playlist, allow_empty)
    }

    fn write_playlist(
        &self,
        playlist: &Playlist,
        allow_empty: bool,
    ) -> Result<SaveOutcome, StoreError> {
        let invalid = |error| StoreError::Invalid {
            id: playlist.id.clone(),
            error,
        };
        validate_id("playlist", &playlist.id).map_err(invalid)?;
        playlist.validate(&self.limits).map_err(invalid)?;
        let verify = |reason: String| StoreError::Verify {
            id: playlist.id.clone(),
            reason,
        };
        let bytes = encode(playlist).map_err(|e| verify(e.to_string()))?;
        let back = decode(&bytes, &playlist.id, &self.limits).map_err(|e| verify(e.to_string()))?;
        if back != *playlist {
            return Err(verify("the re-read playlist differs".to_owned()));
        }
        self.commit(&playlist.id, &bytes, playlist.items.len(), allow_empty)
    }

    /// Steps 2–5 of the save sequence for already verified bytes.
    pub(crate) fn commit(
        &self,
        id: &str,
        bytes: &[u8],
        items: usize,
        allow_empty: bool,
    ) -> Result<SaveOutcome, StoreError> {
        let primary = self.primary_path(id);
        let temp = fsutil::write_temp(&self.playlists_dir, &format!("{id}.json"), bytes)?;
        let stamp = temp.stamp;
        let result = self.commit_temp(id, &primary, &temp.path, (bytes, stamp, items), allow_empty);
        if result.is_err() {
            temp.discard();
        }
        let outcome = result?;
        sync_dir(&self.playlists_dir)?;
        Ok(outcome)
    }

    fn commit_temp(
        &self,
        id: &str,
        primary: &Path,
        temp: &Path,
        (bytes, stamp, items): (&[u8], Stamp, usize),
        allow_empty: bool,
    ) -> Result<SaveOutcome, StoreError> {
        let mut ledger = self.ledger.lock();
        let record = ledger.get(id).copied();
        let on_disk = self.inspect(id, primary, record.as_ref())?;
        if record.is_none()
            && matches!(on_disk, OnDisk::Missing)
            && ledger.len() >= self.limits.max_playlists
        {
            return Err(StoreError::TooManyPlaylists {
                max: self.limits.max_playlists,
            });
        }
        let current = match on_disk {
            OnDisk::Good { items } => items,
            _ => record.map_or(0, |r| r.items),
        };
        if items == 0 && current > 0 && !allow_empty {
            return Err(StoreError::WouldEmpty {
                id: id.to_owned(),
                items: current,
            });
        }
        let mut outcome = SaveOutcome::default();
        match on_disk {
            OnDisk::Good { .. } => fsutil::replace_with_link(primary, &self.backup_path(id))?,
            OnDisk::Bad(error @ LoadError::UnsupportedSchema { .. }) => {
                // Never overwrite a newer onair's file with an older format.
                return Err(StoreError::Load {
                    path: primary.to_owned(),
                    error,
                });
            }
            OnDisk::Bad(_) => outcome.set_aside = Some(aside::keep_aside(primary, "corrupt")?),
            OnDisk::Missing => {}
        }
        fs::rename(temp, primary).map_err(|e| StoreError::io("rename into place", primary, e))?;
        self.ledger.bump(id);
        ledger.insert(
            id.to_owned(),
            FileRecord {
                seen_hash: content_hash(bytes),
                good_stamp: Some(stamp),
                items,
            },
        );
        Ok(outcome)
    }

    /// Classifies the primary; reads it only when it is not the version the store last saw good.
    /// Anything but a regular file is refused from its `symlink_metadata` alone: never opened.
    fn inspect(
        &self,
        id: &str,
        primary: &Path,
        record: Option<&FileRecord>,
    ) -> Result<OnDisk, StoreError> {
        let meta = match fs::symlink_metadata(primary) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(e) => return Err(StoreError::io("inspect", primary, e)),
        };
        let kind = FileKind::of(&meta);
        if kind != FileKind::Regular {
            return Err(StoreError::not_regular(primary, kind));
        }
        if let Some(r) = record
            && r.good_stamp == Some(Stamp::of(&meta))
        {
            return Ok(OnDisk::Good { items: r.items });
        }
        let decoded = read_capped(primary).and_then(|(bytes, _)| decode(&bytes, id, &self.limits));
        match decoded {
            Ok(p) => Ok(OnDisk::Good {
                items: p.items.len(),
            }),
            Err(LoadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(OnDisk::Missing),
            Err(LoadError::Io(e)) => Err(StoreError::Io {
                op: "read",
                path: primary.to_owned(),
                source: e,
            }),
            // Swapped in since the check above.
            Err(LoadError::NotRegular(kind)) => Err(StoreError::not_regular(primary, kind)),
            Err(e) => Ok(OnDisk::Bad(e)),
        }
    }

    /// Items of the version a save would replace (0 if none): lets the writer apply the
    /// empty-overwrite guard to a coalesced burst as if each version had been saved in turn.
    pub(crate) fn current_items(&self, id: &str) -> usize {
        let ledger = self.ledger.lock();
        let record = ledger.get(id).copied();
        match self.inspect(id, &self.primary_path(id), record.as_ref()) {
            Ok(OnDisk::Good { items }) => items,
            _ => record.map_or(0, |r| r.items),
        }
    }

    /// The operator deleted the playlist. The file is kept as `<id>.json.deleted-<time>` (rename it
    /// back to restore). The backup is removed: the kept file is the newer version, and a lone
    /// backup would bring the playlist back at the next start. Returns the kept file.
    ///
    /// Order: link the primary to its new name, remove the backup, remove the primary, fsync the
    /// directory. A crash before the last removal leaves the playlist loadable (the delete was not
    /// acknowledged); after it, only the `.deleted-` copy remains.
    pub fn delete(&self, id: &str) -> Result<Option<PathBuf>, StoreError> {
        validate_id("playlist", id).map_err(|error| StoreError::Invalid {
            id: id.to_owned(),
            error,
        })?;
        let primary = self.primary_path(id);
        let backup = self.backup_path(id);
        let mut ledger = self.ledger.lock();
        // What is there, links not followed: a FIFO or link in the primary's place is refused (it is
        // not ours to move or remove); a backup that is not a regular file is not kept as the copy.
        let kind = |p: &Path| regular::kind_at(p).map_err(|e| StoreError::io("inspect", p, e));
        let primary_kind = kind(&primary)?;
        if let Some(k) = primary_kind.filter(|k| *k != FileKind::Regular) {
            return Err(StoreError::not_regular(&primary, k));
        }
        let source = if primary_kind.is_some() {
            Some(&primary)
        } else {
            kind(&backup)?
                .filter(|k| *k == FileKind::Regular)
                .map(|_| &backup)
        };
        let kept = match source {
            Some(src) => {
                let kept = aside::move_aside_start(src, "deleted")?;
                fsutil::remove_if_exists(&backup)?;
                fsutil::remove_if_exists(&primary)?;
                self.ledger.bump(id);
                Some(kept)
            }
            None if ledger.contains_key(id) => None,
            None => return Err(StoreError::NotFound(id.to_owned())),
        };
        ledger.remove(id);
        drop(ledger);
        sync_dir(&self.playlists_dir)?;
        Ok(kept)
    }

    /// `data/state.json`
    pub fn state_path(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }

    /// Saves the playout state atomically (temp file, fsync, rename, directory fsync). No backup:
    /// a stale cursor is worse than none, and the engine re-reads the channel on start anyway.
    /// Something other than a regular file at `state.json` is refused, not replaced.
    pub fn save_state(&self, state: &PlayoutStateFile) -> Result<(), StoreError> {
        let bytes = state::encode_state(state)?;
        let path = self.state_path();
        if let Some(k) = regular::kind_at(&path)
            .map_err(|e| StoreError::io("inspect", &path, e))?
            .filter(|k| *k != FileKind::Regular)
        {
            return Err(StoreError::not_regular(&path, k));
        }
        replace_with_bytes(&path, &bytes)?;
        sync_dir(&self.data_dir)
    }

    /// A fresh empty playlist for `id` on the default channel-layer.
    pub(crate) fn empty_playlist(&self, id: &str, name: &str) -> Playlist {
        Playlist::new(id, name, self.default_layer)
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}
