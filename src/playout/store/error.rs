//! The store's errors and alarms: typed for code, worded for operators (every message names the file).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use super::regular::{FileKind, NotRegular};
use crate::playout::model::PlaylistError;

/// Why the contents of one file could not be used. Cloneable so that every waiter of a coalesced
/// write, and every consumer of a watcher event, can get its own copy.
#[derive(Debug, Clone, Error)]
pub enum LoadError {
    /// The file could not be read at all (permissions, I/O error): not a content problem, so the
    /// file is left where it is.
    #[error("cannot read: {0}")]
    Io(Arc<io::Error>),
    /// A FIFO, link, directory, socket or device where the file should be: never opened, never
    /// followed, left where it is.
    #[error("is {0}, not a regular file: refused (not opened, not followed), left untouched")]
    NotRegular(FileKind),
    #[error("larger than {max} bytes ({size} bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("not a playlist file: {0}")]
    Parse(String),
    /// Written by a newer onair: never read (and so never silently downgraded).
    #[error(
        "schema {found} is newer than this onair understands (schema {supported}); upgrade onair or restore an older file"
    )]
    UnsupportedSchema { found: u64, supported: u64 },
    #[error("invalid playlist: {0}")]
    Invalid(PlaylistError),
    #[error("the playlist id {found:?} does not match the file name (expected {expected:?})")]
    IdMismatch { found: String, expected: String },
}

impl LoadError {
    /// True when the content itself is bad (as opposed to unreadable or from a newer version):
    /// such a file is set aside and the backup used.
    pub fn is_corrupt(&self) -> bool {
        !matches!(
            self,
            LoadError::Io(_) | LoadError::NotRegular(_) | LoadError::UnsupportedSchema { .. }
        )
    }
}

/// A failed store operation.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// The playlist handed to `save` does not validate: nothing was written.
    #[error("playlist {id:?} not saved: {error}")]
    Invalid { id: String, error: PlaylistError },
    /// The serialized bytes did not read back as the same playlist: nothing was written.
    #[error("playlist {id:?} not saved: the serialized file does not read back ({reason})")]
    Verify { id: String, reason: String },
    /// A file could not be used.
    #[error("{path}: {error}")]
    Load { path: PathBuf, error: LoadError },
    /// Something that is not a regular file is where the file should be: nothing was written, and
    /// it stays until the operator removes it.
    #[error("{0}; nothing written, remove or rename it")]
    NotRegular(NotRegular),
    /// `save` of an empty playlist over one with items; use `clear` when that is what was asked.
    #[error(
        "refusing to replace playlist {id:?} ({items} items) with an empty one; clearing must be asked for explicitly"
    )]
    WouldEmpty { id: String, items: usize },
    #[error("too many playlists ({max}); delete one first")]
    TooManyPlaylists { max: usize },
    #[error("no playlist {0:?} in the store")]
    NotFound(String),
    /// The writer task is gone (the daemon is shutting down, or it crashed).
    #[error("the store writer has stopped")]
    WriterGone,
    /// The writer did not finish within the time given (a stuck file system); what it was still
    /// doing may not be on disk.
    #[error("the store writer did not finish within {waited_ms} ms; may not be on disk: {pending}")]
    Stalled { waited_ms: u64, pending: String },
    /// An edit made on top of an earlier one that could not be saved: not written, not applied.
    #[error(
        "not saved: an earlier edit could not be saved, so this one (made on top of it) was dropped"
    )]
    Discarded,
    /// A journal record that does not apply to the playlist as the store has it (a bug, or a
    /// playlist replaced meanwhile): not written.
    #[error("edit of playlist {id:?} not saved: {error}")]
    Rejected { id: String, error: PlaylistError },
}

impl StoreError {
    pub(crate) fn not_regular(path: &Path, kind: FileKind) -> Self {
        StoreError::NotRegular(NotRegular {
            path: path.to_owned(),
            kind,
        })
    }

    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.to_owned(),
            source: Arc::new(source),
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "store_io",
            StoreError::Invalid { .. } => "invalid",
            StoreError::Verify { .. } => "store_verify",
            StoreError::Load { .. } => "store_load",
            StoreError::NotRegular(_) => "store_not_regular",
            StoreError::WouldEmpty { .. } => "would_empty",
            StoreError::TooManyPlaylists { .. } => "too_many_playlists",
            StoreError::NotFound(_) => "playlist_not_found",
            StoreError::WriterGone => "store_stopped",
            StoreError::Stalled { .. } => "store_stalled",
            StoreError::Discarded => "store_discarded",
            StoreError::Rejected { .. } => "invalid",
        }
    }
}

/// What an alarm is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// The primary file was bad (or missing) and the backup was restored.
    RecoveredFromBackup,
    /// Primary and backup were both bad: the playlist starts empty (the files are kept aside).
    BothUnreadable,
    /// A file could not be read (I/O, permissions): the playlist is not loaded, the file is untouched.
    Unreadable,
    /// A file from a newer onair: not loaded, untouched.
    UnsupportedSchema,
    /// An edit made outside onair was invalid; the last good version stays in use.
    RejectedExternalEdit,
    /// A save failed; the previous version is still on disk.
    WriteFailed,
    /// The state file was bad: set aside and ignored.
    StateQuarantined,
    /// More playlist files than `store.max_playlists`: the extra ones are not loaded.
    TooManyPlaylists,
    /// A FIFO, symbolic link, directory, socket or device is where a file should be: refused
    /// without opening or following it, left untouched.
    NotRegular,
    /// The edit journal had damaged records or edits that did not apply: skipped, kept aside.
    JournalDamaged,
}

/// Something the operator must hear about (logs, health, metrics, TUI, WebSocket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreAlarm {
    /// Playlist id (`state` for the state file).
    pub playlist: String,
    pub kind: AlarmKind,
    /// A sentence for humans naming the file and the problem.
    pub message: String,
}

impl StoreAlarm {
    pub(crate) fn new(playlist: &str, kind: AlarmKind, message: String) -> Self {
        StoreAlarm {
            playlist: playlist.to_owned(),
            kind,
            message,
        }
    }
}
