//! The store's copy of every playlist as the disk has it (snapshot plus journal), and the three
//! things done with it: replay at start, group appends, compaction.
//!
//! The copy is what compaction writes as the new snapshots, so the store never needs the engine's
//! state to compact; it changes only once a write succeeded (an edit whose append failed is undone
//! here too), so it is exactly what a restart would load.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::error::{AlarmKind, StoreAlarm, StoreError};
use super::journal::{JournalRecord, Replay, encode_line};
use super::{LoadReport, Store};
use crate::playout::model::Playlist;

/// The copy, and which playlists differ from their snapshot file.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(crate) playlists: HashMap<String, Playlist>,
    /// Playlists with journal records not yet in their snapshot.
    pub(crate) dirty: BTreeSet<String>,
    /// Appends from an engine epoch below this are refused unwritten: they were made on top of an
    /// edit that failed (see [`Store::append_group`]).
    pub(crate) min_epoch: u64,
}

/// One append waiting in a group: the record and the engine epoch it was made in.
pub(crate) struct Pending {
    pub record: JournalRecord,
    pub epoch: u64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Applies the journal to the loaded snapshots: a record is applied when its revision is above
    /// the playlist's (older ones are already in the snapshot). Records that do not apply, and
    /// gaps in a playlist's revisions, are reported.
    pub(super) fn replay_into(&self, report: &mut LoadReport, replay: Replay) {
        let limits = self.limits;
        let by_id: HashMap<String, usize> = report
            .playlists
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let mut problems = replay.problems;
        let mut applied = 0usize;
        let mut dirty = BTreeSet::new();
        for JournalRecord {
            playlist,
            revision,
            change,
        } in replay.records
        {
            let Some(&i) = by_id.get(&playlist) else {
                // A playlist deleted after the record: compaction before a delete removes them,
                // so only a crash in between leaves some. Nothing to apply them to.
                continue;
            };
            let p = &mut report.playlists[i];
            if revision <= p.revision {
                continue;
            }
            if revision != p.revision + 1 {
                problems.push(format!(
                    "journal: playlist {playlist:?} jumps from revision {} to {revision} (edits in between are missing)",
                    p.revision
                ));
            }
            match p.apply(&change, revision, &limits) {
                Ok(()) => {
                    applied += 1;
                    dirty.insert(playlist);
                }
                Err(e) => problems.push(format!(
                    "journal: an edit of playlist {playlist:?} (revision {revision}) does not apply and was skipped: {e}"
                )),
            }
        }
        if applied > 0 || replay.truncated > 0 {
            tracing::info!(
                applied,
                torn_bytes = replay.truncated,
                "journal replayed onto the playlist files"
            );
        }
        for message in problems {
            report.alarms.push(StoreAlarm::new(
                "journal",
                AlarmKind::JournalDamaged,
                message,
            ));
        }
        let mut book = lock(&self.book);
        book.playlists = report
            .playlists
            .iter()
            .map(|p| (p.id.clone(), p.clone()))
            .collect();
        book.dirty = dirty;
    }

    /// Appends a group of records with one write and one `fdatasync`, and answers each: `Ok` once
    /// durable. A record from an epoch below [`Book::min_epoch`] is refused unwritten; a record
    /// that does not apply, or a failed write, fails the rest of the group and raises
    /// `min_epoch` above it, so that nothing made on top of a failed edit is ever written.
    pub(crate) fn append_group(&self, group: Vec<Pending>) -> Vec<Result<(), StoreError>> {
        let mut book = lock(&self.book);
        let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(group.len());
        let mut undo: HashMap<String, Playlist> = HashMap::new();
        let mut bytes = Vec::new();
        let mut written = Vec::new();
        let mut failed_epoch: Option<u64> = None;
        let newest_epoch = group.iter().map(|p| p.epoch).max().unwrap_or(0);
        for Pending { record, epoch } in group {
            if epoch < book.min_epoch || failed_epoch.is_some_and(|f| epoch <= f) {
                results.push(Err(StoreError::Discarded));
                continue;
            }
            let id = record.playlist.clone();
            let applied = match book.playlists.get_mut(&id) {
                None => Err(StoreError::NotFound(id.clone())),
                Some(p) => {
                    undo.entry(id.clone()).or_insert_with(|| p.clone());
                    p.apply(&record.change, record.revision, &self.limits)
                        .map_err(|error| StoreError::Rejected {
                            id: id.clone(),
                            error,
                        })
                }
            };
            let encoded = applied.and_then(|()| encode_line(&record, &mut bytes));
            match encoded {
                Ok(()) => {
                    written.push(results.len());
                    results.push(Ok(()));
                }
                Err(e) => {
                    failed_epoch = Some(epoch);
                    results.push(Err(e));
                }
            }
        }
        if !written.is_empty() {
            let mut journal = lock(&self.journal);
            let mut outcome = Ok(());
            if journal.broken {
                // A failed write left the segment in doubt: fold everything into the snapshots
                // and start a clean segment before anything new is written.
                drop(journal);
                outcome = self.compact_locked(&mut book, &undo);
                journal = lock(&self.journal);
            }
            let outcome = outcome.and_then(|()| journal.append(&bytes, written.len()));
            if let Err(e) = outcome {
                for (id, p) in undo.drain() {
                    book.playlists.insert(id, p);
                }
                for &i in &written {
                    results[i] = Err(e.clone());
                }
                failed_epoch = Some(newest_epoch);
            } else {
                book.dirty.extend(undo.into_keys());
            }
        } else {
            for (id, p) in undo.drain() {
                book.playlists.insert(id, p);
            }
        }
        if let Some(f) = failed_epoch {
            // Everything queued after a failure was made on top of it.
            book.min_epoch = book.min_epoch.max(f.saturating_add(1));
        }
        results
    }

    /// Records a playlist written whole (created, replaced): the copy follows the file.
    pub(crate) fn book_put(&self, playlist: &Playlist) {
        let mut book = lock(&self.book);
        book.dirty.remove(&playlist.id);
        book.playlists.insert(playlist.id.clone(), playlist.clone());
    }

    /// Deletes a playlist ([`Store::delete`]) after compacting away every journal record of it:
    /// a playlist created later under the same id must not inherit its edits.
    pub(crate) fn delete_journaled(
        &self,
        id: &str,
    ) -> Result<Option<std::path::PathBuf>, StoreError> {
        self.compact_all()?;
        let kept = self.delete(id)?;
        let mut book = lock(&self.book);
        book.dirty.remove(id);
        book.playlists.remove(id);
        Ok(kept)
    }

    /// Whether a change made in `epoch` may still be written (no failure since).
    pub(crate) fn epoch_current(&self, epoch: u64) -> bool {
        epoch >= lock(&self.book).min_epoch
    }

    /// A change made in `epoch` failed: refuse what was made on top of it.
    pub(crate) fn poison(&self, epoch: u64) {
        let mut book = lock(&self.book);
        book.min_epoch = book.min_epoch.max(epoch.saturating_add(1));
    }

    /// Writes the copy of playlist `id` as its file again.
    pub(crate) fn rewrite(&self, id: &str) -> Result<(), StoreError> {
        let playlist = lock(&self.book).playlists.get(id).cloned();
        match playlist {
            Some(p) => {
                self.save_with(&p, true)?;
                lock(&self.book).dirty.remove(id);
                Ok(())
            }
            None => Err(StoreError::NotFound(id.to_owned())),
        }
    }

    /// Journal records not yet folded into the snapshots.
    pub(crate) fn journal_records(&self) -> usize {
        lock(&self.journal).records
    }

    /// Compacts and removes every older segment, the one kept for restores included (see
    /// [`super::journal::Journal::forget_kept`]): done before a playlist is deleted.
    pub(crate) fn compact_all(&self) -> Result<usize, StoreError> {
        let n = self.compact()?;
        let mut journal = lock(&self.journal);
        journal.forget_kept();
        journal.drop_before()?;
        Ok(n)
    }

    /// Writes every playlist changed since the last compaction as its snapshot file and drops the
    /// journal segments they make redundant.
    pub(crate) fn compact(&self) -> Result<usize, StoreError> {
        let mut book = lock(&self.book);
        let n = book.dirty.len();
        self.compact_locked(&mut book, &HashMap::new())?;
        Ok(n)
    }

    /// Compaction with the book held. `pending` holds the versions to write for playlists that an
    /// unfinished group has already changed in the book (their edits are not durable yet).
    fn compact_locked(
        &self,
        book: &mut Book,
        pending: &HashMap<String, Playlist>,
    ) -> Result<(), StoreError> {
        {
            let mut journal = lock(&self.journal);
            if journal.records == 0 && !journal.broken {
                return Ok(());
            }
            // New edits go to a fresh segment; the old ones are removed only once every snapshot
            // holds their edits, so a crash at any step loses nothing.
            journal.rotate()?;
        }
        let ids: Vec<String> = book.dirty.iter().cloned().collect();
        for id in &ids {
            let version = pending.get(id).or_else(|| book.playlists.get(id));
            if let Some(p) = version {
                self.save_with(p, true)?;
            }
            book.dirty.remove(id);
        }
        lock(&self.journal).drop_before()
    }
}
