//! The edit journal: every acknowledged edit is one appended, checksummed line in
//! `data/journal/<base>.log`, made durable with one `fdatasync` for all the edits that arrived
//! together (group commit). The playlist files stay the snapshots; compaction rewrites them and
//! starts a new segment, so the journal holds only what the snapshots do not.
//!
//! A line is `<crc32 as 8 hex digits> <JSON record>\n`; the checksum covers the JSON. A record
//! names its playlist and the revision the edit gives it, so replay is idempotent: a record whose
//! revision is not above the snapshot's was already compacted into it (a crash between writing
//! the snapshots and removing the old segments replays nothing twice).
//!
//! Reading tolerates what a crash or a bad disk leaves: a torn last line (no newline, or a bad
//! checksum with nothing valid after it) is cut off; a bad line followed by good ones is skipped,
//! reported, and its segment copied aside as `<segment>.corrupt-<time>` for inspection.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::aside;
use super::error::StoreError;
use super::fsutil::sync_dir;
use super::regular::{FileKind, OpenError, kind_at, open_regular};
use crate::playout::change::Change;

/// One journal record: `change` gives playlist `playlist` revision `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalRecord {
    pub playlist: String,
    pub revision: u64,
    pub change: Change,
}

/// Largest line read back; a record is an item (at most a few KB): anything longer is damage.
const MAX_LINE: usize = 1024 * 1024;

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    /// Bytes known good (everything before it was written and synced, or read back valid).
    len: u64,
    /// Records in every segment (what compaction would fold into the snapshots).
    pub(crate) records: usize,
    /// The segment appended to before the last rotation: kept one compaction longer, so that a
    /// playlist whose file is found damaged and restored from its `.backup` (the version before
    /// the last compaction) gets back every edit since.
    keep: Option<PathBuf>,
    /// The tail of the segment is in doubt (a write or sync failed): the next append must first
    /// start a new segment after compaction, so that nothing not acknowledged can come back.
    pub(crate) broken: bool,
}

/// What reading the journal found.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Records in order.
    pub records: Vec<JournalRecord>,
    /// Problems, worded for the operator (each is raised as an alarm).
    pub problems: Vec<String>,
    /// Bytes cut off torn tails.
    pub truncated: u64,
}

/// `data/journal`
pub(crate) fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// Segments in order (by the number in their name). Something other than a regular file under a
/// segment's name (a FIFO, a link) is reported in `odd` and never opened.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    segments_and_odd(dir).map(|(found, _)| found)
}

/// Segments by number, and what sits under a segment's name without being a regular file.
type Listing = (Vec<(u64, PathBuf)>, Vec<String>);

fn segments_and_odd(dir: &Path) -> Result<Listing, StoreError> {
    let mut found = Vec::new();
    let mut odd = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let path = entry.path();
        match fs::symlink_metadata(&path).map(|m| FileKind::of(&m)) {
            Ok(FileKind::Regular) => found.push((n, path)),
            Ok(kind) => odd.push(format!(
                "journal segment {} is {}, not a regular file: ignored (not opened, not followed)",
                path.display(),
                kind.describe()
            )),
            Err(_) => continue,
        }
    }
    found.sort();
    Ok((found, odd))
}

/// A number above every segment's, regular or not (a name is never reused).
fn next_number(dir: &Path) -> Result<u64, StoreError> {
    let mut max = None;
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            max = max.max(Some(n));
        }
    }
    Ok(max.map_or(0, |n| n + 1))
}

fn segment_name(n: u64) -> String {
    format!("{n:020}.log")
}

/// Encodes one record as its journal line.
pub(crate) fn encode_line(record: &JournalRecord, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let json = serde_json::to_vec(record).map_err(|e| StoreError::Verify {
        id: record.playlist.clone(),
        reason: format!("journal record not encodable: {e}"),
    })?;
    let crc = crc32fast::hash(&json);
    out.extend_from_slice(format!("{crc:08x} ").as_bytes());
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(())
}

/// A line's record, or why it is not one.
fn decode_line(line: &[u8]) -> Result<JournalRecord, String> {
    if line.len() < 10 || line[8] != b' ' {
        return Err("not a journal line".to_owned());
    }
    let crc = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("no checksum")?;
    let json = &line[9..];
    if crc32fast::hash(json) != crc {
        return Err("checksum mismatch".to_owned());
    }
    serde_json::from_slice(json).map_err(|e| format!("not a record: {e}"))
}

impl Journal {
    /// Opens `data/journal` (creating it), reads every segment in order and leaves the last one
    /// open for appending with its torn tail cut off. Damaged lines are reported, not fatal.
    pub(crate) fn open(data_dir: &Path) -> Result<(Journal, Replay), StoreError> {
        let dir = dir_of(data_dir);
        if let Some(kind) = kind_at(&dir)
            .map_err(|e| StoreError::io("inspect", &dir, e))?
            .filter(|k| *k != FileKind::Directory)
        {
            return Err(StoreError::not_regular(&dir, kind));
        }
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let mut replay = Replay::default();
        let (mut segs, odd) = segments_and_odd(&dir)?;
        replay.problems.extend(odd);
        if segs.is_empty() {
            let path = dir.join(segment_name(next_number(&dir)?));
            create_segment(&path)?;
            sync_dir(&dir)?;
            segs.push((0, path));
        }
        // Never empty here: a fresh segment was created above when there was none.
        let Some((_, path)) = segs.pop() else {
            return Err(StoreError::NotFound("journal segment".to_owned()));
        };
        for (_, older) in &segs {
            read_segment(older, &mut replay)?;
        }
        let len = read_segment(&path, &mut replay)?;
        let file = open_append(&path)?;
        let on_disk = file
            .metadata()
            .map_err(|e| StoreError::io("inspect", &path, e))?
            .len();
        if on_disk > len {
            // A torn tail: the write that made it was never acknowledged.
            file.set_len(len)
                .and_then(|()| file.sync_data())
                .map_err(|e| StoreError::io("truncate", &path, e))?;
            replay.truncated += on_disk - len;
        }
        let journal = Journal {
            dir,
            file,
            path,
            len,
            records: replay.records.len(),
            keep: None,
            broken: false,
        };
        Ok((journal, replay))
    }

    /// Appends `bytes` (whole lines) and makes them durable with one `fdatasync`. On failure the
    /// segment is cut back to what was good (best effort) and marked broken.
    pub(crate) fn append(&mut self, bytes: &[u8], records: usize) -> Result<(), StoreError> {
        let result = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.records += records;
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the pages or kept them: cut the
                // file back so the failed lines cannot be replayed, and never trust this segment
                // again (see `broken`).
                let _ = self.file.set_len(self.len);
                self.broken = true;
                Err(StoreError::io("append to journal", &self.path, e))
            }
        }
    }

    /// Starts a new, empty segment and makes it the one appended to. The old segments stay until
    /// [`Journal::drop_before`]: compaction removes them once the snapshots hold their edits.
    pub(crate) fn rotate(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(segment_name(next_number(&self.dir)?));
        create_segment(&path)?;
        sync_dir(&self.dir)?;
        self.file = open_append(&path)?;
        let old = std::mem::replace(&mut self.path, path);
        // A segment whose tail is in doubt is never kept for restores.
        self.keep = (!self.broken).then_some(old);
        self.len = 0;
        Ok(())
    }

    /// Removes every segment before the current one (their edits are in the snapshots now) but
    /// the one kept for restores from a backup (see `keep`).
    pub(crate) fn drop_before(&mut self) -> Result<(), StoreError> {
        for (_, path) in segments(&self.dir)? {
            if path != self.path && Some(&path) != self.keep.as_ref() {
                fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
            }
        }
        sync_dir(&self.dir)?;
        self.records = 0;
        self.broken = false;
        Ok(())
    }

    /// Stops keeping the segment held for restores (the next [`Journal::drop_before`] removes it):
    /// before a delete, no record of the deleted playlist may survive anywhere, or a playlist
    /// created later under the same id would inherit its edits.
    pub(crate) fn forget_kept(&mut self) {
        self.keep = None;
    }

    /// The segment being appended to.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn create_segment(path: &Path) -> Result<(), StoreError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("create journal segment", path, e))
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    open_regular(path, OpenOptions::new().append(true)).map_err(|e| match e {
        OpenError::NotRegular(n) => StoreError::not_regular(path, n.kind),
        OpenError::Io(e) => StoreError::io("open journal", path, e),
    })
}

/// Reads one segment's records into `replay`; returns the length of its valid prefix.
fn read_segment(path: &Path, replay: &mut Replay) -> Result<u64, StoreError> {
    let file = open_regular(path, OpenOptions::new().read(true)).map_err(|e| match e {
        OpenError::NotRegular(n) => StoreError::not_regular(path, n.kind),
        OpenError::Io(e) => StoreError::io("open journal", path, e),
    })?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut &file, &mut bytes).map_err(|e| StoreError::io("read", path, e))?;
    let mut good_end = 0usize;
    let mut pos = 0usize;
    let mut bad: Vec<String> = Vec::new();
    while pos < bytes.len() {
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            break; // no newline: torn
        };
        let line = &bytes[pos..pos + nl];
        let at = pos;
        pos += nl + 1;
        let decoded = if line.len() > MAX_LINE {
            Err("line too long".to_owned())
        } else {
            decode_line(line)
        };
        match decoded {
            Ok(record) => {
                replay.records.push(record);
                good_end = pos;
            }
            Err(why) => bad.push(format!("byte {at}: {why}")),
        }
    }
    // Bad lines after the last good one are the torn tail of an unacknowledged write; bad lines
    // before it are damage in the middle.
    let middle: Vec<String> = bad
        .into_iter()
        .filter(|b| {
            b.strip_prefix("byte ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n < good_end)
        })
        .collect();
    if !middle.is_empty() {
        let kept = aside::keep_aside(path, "corrupt")
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("(not copied: {e})"));
        replay.problems.push(format!(
            "journal {}: {} damaged record(s) skipped ({}); a copy is kept as {kept}",
            path.display(),
            middle.len(),
            middle.join("; ")
        ));
    }
    Ok(good_end as u64)
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
