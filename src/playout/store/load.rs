//! Loading a data directory with recovery: bad primaries are kept aside and the backup restored;
//! when both are bad the playlist starts empty and the operator is told loudly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use super::error::{AlarmKind, LoadError, StoreAlarm, StoreError};
use super::format::{Stamp, content_hash, decode, read_capped};
use super::regular::FileKind;
use super::state::decode_state;
use super::{BACKUP_SUFFIX, FileRecord, LoadReport, Store, aside, fsutil};
use crate::playout::model::{Playlist, validate_id};
use crate::playout::store::PlayoutStateFile;

/// Id of the playlist a fresh data directory starts with.
pub const DEFAULT_PLAYLIST: &str = "main";

pub(super) fn load_all(store: &Store, fresh: bool) -> Result<LoadReport, StoreError> {
    let dir = store.playlists_dir();
    let cleaned = fsutil::clean_temp_files(dir, "")
        + fsutil::clean_temp_files(store.data_dir(), ".state.json.");
    if cleaned > 0 {
        tracing::info!(dir = %dir.display(), cleaned, "removed temp files left by an interrupted save");
    }
    let Listing {
        primaries,
        backups,
        odd,
    } = list(dir)?;
    let ids: BTreeSet<&String> = primaries
        .iter()
        .chain(backups.iter())
        .chain(odd.keys())
        .collect();
    let mut report = LoadReport::default();
    let max = store.limits().max_playlists;
    for id in &ids {
        if report.playlists.len() >= max {
            report.alarms.push(StoreAlarm::new(
                id,
                AlarmKind::TooManyPlaylists,
                format!(
                    "{}: not loaded, more than store.max_playlists = {max} playlists",
                    store.primary_path(id).display()
                ),
            ));
            continue;
        }
        let loaded = match odd.get(*id) {
            Some(kind) => load_from_backup(store, id, *kind, &mut report.alarms),
            None => load_one(store, id, primaries.contains(*id), &mut report.alarms),
        };
        if let Some(p) = loaded {
            report.playlists.push(p);
        }
    }
    if ids.is_empty() && fresh {
        // A fresh directory: one empty playlist so a client can add items at once.
        // If it cannot be written (disk full, read-only), the daemon still starts with it in
        // memory and says so; the next save tries again.
        let main = store.empty_playlist(DEFAULT_PLAYLIST, DEFAULT_PLAYLIST);
        if let Err(e) = store.clear(&main) {
            let msg = format!("cannot create the initial empty playlist: {e}");
            report.alarms.push(StoreAlarm::new(
                DEFAULT_PLAYLIST,
                AlarmKind::WriteFailed,
                msg,
            ));
        }
        report.playlists.push(main);
    }
    report.state = load_state(store, &mut report.alarms);
    Ok(report)
}

/// What `playlists/` holds, by playlist id.
struct Listing {
    /// `<id>.json` regular files.
    primaries: BTreeSet<String>,
    /// `<id>.json.backup` regular files.
    backups: BTreeSet<String>,
    /// `<id>.json` that are not regular files (FIFO, link, directory…): never opened.
    odd: BTreeMap<String, FileKind>,
}

/// Ids of `<id>.json` and of `<id>.json.backup` files; everything else is not ours to load.
fn list(dir: &Path) -> Result<Listing, StoreError> {
    let mut primaries = BTreeSet::new();
    let mut backups = BTreeSet::new();
    let mut odd = BTreeMap::new();
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // The entry's own type: a link is a link here, never its target.
        let kind = match entry.file_type() {
            Ok(t) if t.is_file() => FileKind::Regular,
            Ok(_) => {
                fs::symlink_metadata(entry.path()).map_or(FileKind::Other, |m| FileKind::of(&m))
            }
            Err(_) => continue,
        };
        if let Some(id) = name.strip_suffix(".json") {
            if validate_id("playlist", id).is_err() {
                continue;
            }
            if kind == FileKind::Regular {
                primaries.insert(id.to_owned());
            } else {
                odd.insert(id.to_owned(), kind);
            }
        } else if kind != FileKind::Regular {
            continue;
        } else if let Some(id) = name
            .strip_suffix(BACKUP_SUFFIX)
            .and_then(|n| n.strip_suffix(".json"))
            && validate_id("playlist", id).is_ok()
        {
            backups.insert(id.to_owned());
        }
    }
    Ok(Listing {
        primaries,
        backups,
        odd,
    })
}

/// `<id>.json` is not a regular file: it is left alone (not opened, not replaced, not moved), and
/// the playlist runs from its backup when that is good, so the rundown stays available. Saves of
/// this playlist fail, loudly, until the operator removes the thing in the way.
fn load_from_backup(
    store: &Store,
    id: &str,
    kind: FileKind,
    alarms: &mut Vec<StoreAlarm>,
) -> Option<Playlist> {
    let primary = store.primary_path(id);
    let backup = store.backup_path(id);
    let problem = format!(
        "{} is {kind}, not a regular file: refused (not opened, not followed), left untouched",
        primary.display()
    );
    let (msg, loaded) = match read_playlist(store, &backup, id) {
        Ok((p, _, _)) => (
            format!(
                "{problem}; using {} (revision {}); saves of this playlist fail until it is removed",
                backup.display(),
                p.revision
            ),
            Some(p),
        ),
        Err(e) => (
            format!(
                "{problem}; backup {}: {e}; playlist not loaded",
                backup.display()
            ),
            None,
        ),
    };
    alarms.push(StoreAlarm::new(id, AlarmKind::NotRegular, msg));
    loaded
}

fn record(store: &Store, id: &str, bytes: &[u8], stamp: Stamp, items: usize) {
    store.ledger().lock().insert(
        id.to_owned(),
        FileRecord {
            seen_hash: content_hash(bytes),
            good_stamp: Some(stamp),
            items,
        },
    );
}

fn read_playlist(
    store: &Store,
    path: &Path,
    id: &str,
) -> Result<(Playlist, Vec<u8>, Stamp), LoadError> {
    let (bytes, stamp) = read_capped(path)?;
    let p = decode(&bytes, id, &store.limits())?;
    Ok((p, bytes, stamp))
}

fn load_one(
    store: &Store,
    id: &str,
    has_primary: bool,
    alarms: &mut Vec<StoreAlarm>,
) -> Option<Playlist> {
    let primary = store.primary_path(id);
    let backup = store.backup_path(id);
    let primary_problem = if has_primary {
        match read_playlist(store, &primary, id) {
            Ok((p, bytes, stamp)) => {
                record(store, id, &bytes, stamp, p.items.len());
                return Some(p);
            }
            Err(e) if !e.is_corrupt() => {
                let kind = match e {
                    LoadError::UnsupportedSchema { .. } => AlarmKind::UnsupportedSchema,
                    _ => AlarmKind::Unreadable,
                };
                let msg = format!(
                    "{}: {e}; not loaded, file left untouched",
                    primary.display()
                );
                alarms.push(StoreAlarm::new(id, kind, msg));
                return None;
            }
            Err(e) => e.to_string(),
        }
    } else {
        "is missing".to_owned()
    };
    match read_playlist(store, &backup, id) {
        Ok((p, _, _)) => Some(restore(store, p, &primary_problem, alarms)),
        Err(e) if !has_primary => {
            let msg = format!(
                "{}: {e}; there is no {}; left untouched, playlist not loaded",
                backup.display(),
                primary.display()
            );
            alarms.push(StoreAlarm::new(id, AlarmKind::Unreadable, msg));
            None
        }
        Err(e) => start_empty(store, id, &primary_problem, &e, alarms),
    }
}

/// The primary is bad or missing and the backup good: write the backup's playlist as the primary
/// through the normal save (which keeps a bad primary aside first).
fn restore(store: &Store, p: Playlist, problem: &str, alarms: &mut Vec<StoreAlarm>) -> Playlist {
    let primary = store.primary_path(&p.id);
    let backup = store.backup_path(&p.id);
    let msg = match store.clear(&p) {
        Ok(outcome) => {
            let kept = outcome
                .set_aside
                .map(|a| format!("; the bad file was kept as {}", a.display()))
                .unwrap_or_default();
            format!(
                "{} {problem}{kept}; restored revision {} from {}",
                primary.display(),
                p.revision,
                backup.display()
            )
        }
        Err(e) => {
            let msg = format!(
                "{} {problem}; using {} (revision {}) but could not write it back: {e}",
                primary.display(),
                backup.display(),
                p.revision
            );
            alarms.push(StoreAlarm::new(&p.id, AlarmKind::WriteFailed, msg.clone()));
            msg
        }
    };
    alarms.push(StoreAlarm::new(&p.id, AlarmKind::RecoveredFromBackup, msg));
    p
}

/// Primary and backup are both bad: keep both aside and start the playlist empty.
fn start_empty(
    store: &Store,
    id: &str,
    primary_problem: &str,
    backup_error: &LoadError,
    alarms: &mut Vec<StoreAlarm>,
) -> Option<Playlist> {
    let primary = store.primary_path(id);
    let backup = store.backup_path(id);
    let mut kept = Vec::new();
    let backup_exists =
        !matches!(backup_error, LoadError::Io(e) if e.kind() == io::ErrorKind::NotFound);
    if backup_exists {
        // Kept aside and removed, or the next save would make the new empty primary the backup.
        let aside = aside::keep_aside(&backup, "corrupt")
            .and_then(|aside| fsutil::remove_if_exists(&backup).map(|()| aside));
        match aside {
            Ok(aside) => kept.push(aside.display().to_string()),
            Err(e) => {
                let msg = format!(
                    "{} {primary_problem}; backup {}: {backup_error}; cannot keep the backup aside ({e}); playlist not loaded, files left untouched",
                    primary.display(),
                    backup.display()
                );
                alarms.push(StoreAlarm::new(id, AlarmKind::BothUnreadable, msg));
                return None;
            }
        }
    }
    let empty = store.empty_playlist(id, id);
    let written = store.clear(&empty);
    if let Ok(outcome) = &written {
        kept.extend(outcome.set_aside.iter().map(|a| a.display().to_string()));
    }
    let kept = if kept.is_empty() {
        String::new()
    } else {
        format!("; kept as {}", kept.join(" and "))
    };
    let backup_problem = if backup_exists {
        format!("backup {}: {backup_error}", backup.display())
    } else {
        "there is no backup".to_owned()
    };
    let mut msg = format!(
        "PLAYLIST {id} STARTS EMPTY: {} {primary_problem}; {backup_problem}{kept}",
        primary.display()
    );
    if let Err(e) = written {
        msg.push_str(&format!("; the empty playlist could not be written: {e}"));
    }
    alarms.push(StoreAlarm::new(id, AlarmKind::BothUnreadable, msg));
    Some(empty)
}

/// The state file, or `None` (absent, or bad: then it is quarantined with an alarm).
fn load_state(store: &Store, alarms: &mut Vec<StoreAlarm>) -> Option<PlayoutStateFile> {
    let path = store.state_path();
    let error = match read_capped(&path).and_then(|(bytes, _)| decode_state(&bytes)) {
        Ok(state) => return Some(state),
        Err(LoadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(LoadError::NotRegular(kind)) => {
            let msg = format!(
                "{} is {kind}, not a regular file: refused (not opened, not followed), left untouched; starting without saved playout state, and it is not saved until that is removed",
                path.display()
            );
            alarms.push(StoreAlarm::new("state", AlarmKind::NotRegular, msg));
            return None;
        }
        Err(e) => e,
    };
    let quarantined = aside::keep_aside(&path, "corrupt")
        .and_then(|aside| fsutil::remove_if_exists(&path).map(|()| aside));
    let msg = match quarantined {
        Ok(aside) => format!(
            "{}: {error}; kept as {}, starting without saved playout state",
            path.display(),
            aside.display()
        ),
        Err(e) => format!(
            "{}: {error}; could not set it aside ({e}); starting without saved playout state",
            path.display()
        ),
    };
    alarms.push(StoreAlarm::new("state", AlarmKind::StateQuarantined, msg));
    None
}
