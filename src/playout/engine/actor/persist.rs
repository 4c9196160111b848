//! Durability besides the edits (those are in `staging`): the state file, the as-run log, the
//! final flush and compaction at shutdown, and edits made to the playlist files by someone else.

use std::time::{SystemTime, UNIX_EPOCH};

use super::staging::Durable;
use super::*;
use crate::playout::asrun::{AsRunEntry, AsRunWriter, EndReason};
use crate::playout::store::{PlaylistState, PlayoutStateFile, StoreWriter};
use crate::playout::watch::ExternalChange;

/// Store, as-run and external-edit plumbing owned by the engine.
#[derive(Default)]
pub(crate) struct Persistence {
    pub(crate) store: Option<StoreWriter>,
    pub(crate) asrun: Option<mpsc::UnboundedSender<(AsRunEntry, SystemTime)>>,
    pub(crate) asrun_task: Option<tokio::task::JoinHandle<()>>,
    pub(crate) state_dirty: bool,
}

/// Starts the task that appends as-run lines in order; failures come back as alarms.
pub(crate) fn spawn_asrun(
    writer: AsRunWriter,
    internal: mpsc::UnboundedSender<Internal>,
) -> (
    mpsc::UnboundedSender<(AsRunEntry, SystemTime)>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(AsRunEntry, SystemTime)>();
    let task = tokio::spawn(async move {
        while let Some((entry, at)) = rx.recv().await {
            if let Err(e) = writer.record_at(entry, at).await {
                let msg = format!("as-run log not written: {e}");
                let _ = internal.send(Internal::Alarm(Severity::Critical, "asrun", msg));
            }
        }
        // The engine is gone: make what was written durable.
        let _ = writer.sync().await;
    });
    (tx, task)
}

impl Engine {
    /// Saves the playout state file (cursor, on-air item) in the background.
    pub(super) fn save_state(&mut self) {
        if !std::mem::take(&mut self.persistence.state_dirty) {
            return;
        }
        let state = self.state_file();
        self.replicate_playout(&state);
        let Some(store) = self.persistence.store.clone() else {
            return;
        };
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            if let Err(e) = store.save_state(state).await {
                let msg = format!("playout state not saved: {e}");
                let _ = internal.send(Internal::Alarm(Severity::Warning, "store", msg));
            }
        });
    }

    /// At shutdown: the state file and every queued save on disk, the as-run log synced.
    /// Bounded in time: a stuck file system must not keep the daemon from exiting (the writer
    /// logs what may not be on disk), so each step has its own limit inside the shutdown grace.
    pub(super) async fn persist_all(&mut self) {
        const STEP: Duration = Duration::from_millis(500);
        if let Some(store) = self.persistence.store.clone() {
            match tokio::time::timeout(STEP, store.save_state(self.state_file())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "engine: playout state not saved at shutdown")
                }
                Err(_) => tracing::error!(
                    "engine: playout state not saved at shutdown: the store did not answer within {STEP:?}"
                ),
            }
            if let Err(e) = store.flush_within(STEP).await {
                tracing::error!(error = %e, "engine: final save failed");
            }
            // The playlist files catch up with the journal, so they read as the rundown is.
            match tokio::time::timeout(STEP, store.compact()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "engine: journal not compacted at shutdown (it keeps every edit)")
                }
                Err(_) => tracing::error!(
                    "engine: journal not compacted within {STEP:?} at shutdown (it keeps every edit)"
                ),
            }
        }
        self.persistence.asrun = None;
        if let Some(task) = self.persistence.asrun_task.take()
            && tokio::time::timeout(STEP, task).await.is_err()
        {
            tracing::error!("engine: the as-run log was not synced within {STEP:?} at shutdown");
        }
    }

    fn state_file(&self) -> PlayoutStateFile {
        let playlists = self
            .playout
            .iter()
            .map(|(id, p)| {
                let st = PlaylistState {
                    cursor: p.next().map(str::to_owned),
                    on_air: p.on_air().map(str::to_owned),
                    on_air_since: p.on_air_since_ms(),
                    left_after: p.left_after().map(str::to_owned),
                    filler_next: self.scheduler.filler_seq.get(id).copied(),
                    graphics_start_ns: self
                        .graphics
                        .anchors
                        .get(id)
                        .filter(|a| p.on_air() == Some(a.item.as_str()))
                        .map(|a| a.start_ns),
                    logo_off: self.graphics.logo_off.contains(id),
                };
                (id.clone(), st)
            })
            .collect();
        PlayoutStateFile {
            selected: self.selected.clone(),
            playlists,
            ..PlayoutStateFile::default()
        }
    }

    /// Appends an as-run line for an item start or end that happened at `at_ms` (Unix ms).
    /// The as-run `start` of an item, with its planned start and lateness when the schedule
    /// started it at a fixed time.
    pub(super) fn as_run_start(
        &self,
        id: &str,
        item: &str,
        scheduled: Option<(super::fire::PlannedStart, i64)>,
        at_ms: u64,
    ) {
        let Some(tx) = &self.persistence.asrun else {
            return;
        };
        let Some(entry) = self.as_run_entry(id, item, None, None) else {
            return;
        };
        let entry = match scheduled {
            Some((p, late)) => {
                entry.with_fixed_start(super::fire::start_mode(p.hard), p.at_ns, late)
            }
            None => entry,
        };
        let at = UNIX_EPOCH + Duration::from_millis(at_ms);
        let _ = tx.send((entry, at));
    }

    pub(super) fn as_run(
        &self,
        id: &str,
        item: &str,
        ended_by: Option<&str>,
        actual_secs: Option<f64>,
        at_ms: u64,
    ) {
        let Some(tx) = &self.persistence.asrun else {
            return;
        };
        let Some(entry) = self.as_run_entry(id, item, ended_by, actual_secs) else {
            return;
        };
        let at = UNIX_EPOCH + Duration::from_millis(at_ms);
        let _ = tx.send((entry, at));
    }

    fn as_run_entry(
        &self,
        id: &str,
        item: &str,
        ended_by: Option<&str>,
        actual_secs: Option<f64>,
    ) -> Option<AsRunEntry> {
        let pl = self.playlists.get(id)?;
        let it = pl.item(item)?;
        let entry = match ended_by {
            None => AsRunEntry::start(pl.channel_layer, &pl.id, &it.id, &it.clip),
            Some(how) => {
                let mut e =
                    AsRunEntry::end(pl.channel_layer, &pl.id, &it.id, &it.clip, end_reason(how));
                if let Some(secs) = actual_secs {
                    e = e.with_actual_secs(secs);
                }
                e
            }
        };
        let mut entry = entry.with_title(it.title.clone());
        entry.filler = pl.filler.is_some();
        // With several servers, the line says where it played: the group's servers in step.
        if let Some(r) = self.route_of(pl)
            && self.sides.len() > 1
        {
            entry.servers = self.groups[r.group]
                .sides
                .iter()
                .map(|&i| &self.sides[i].view)
                .filter(|v| v.connected && v.in_step)
                .map(|v| v.name.clone())
                .collect();
        }
        Some(match (it.frames, it.fps) {
            (Some(f), Some(fps)) => entry.with_planned(f, fps),
            _ => entry,
        })
    }

    /// A playlist file changed on disk by someone else (editor, script, rsync).
    pub(super) async fn on_external(&mut self, change: ExternalChange) {
        match change {
            ExternalChange::Updated(mut pl) => {
                let id = pl.id.clone();
                tracing::info!(playlist = %id, "playlist edited outside onair: loading it");
                // Above every revision the journal may hold for it, so replay never applies an
                // older edit on top of this version.
                let staged = self.staging.playlists.get(&id).map_or(0, |p| p.revision);
                pl.revision = pl.revision.max(staged + 1);
                if let Err(error) = self.check_server(&pl) {
                    self.raise(Severity::Warning, "store", format!("edit of playlist {id:?} outside onair rejected ({error}); the last good version stays"));
                    if self.staging.playlists.contains_key(&id) {
                        self.stage(Durable::Rewrite(id), None, OpResult::default())
                            .await;
                    }
                    return;
                }
                let media = self.media_of(&pl);
                for item in &mut pl.items {
                    fill_shared(&media, item);
                }
                self.staging.playlists.insert(id.clone(), pl.clone());
                let result = OpResult {
                    playlist: Some(id),
                    ..OpResult::default()
                };
                self.stage(Durable::Replace(pl), None, result).await;
            }
            ExternalChange::Rejected { id, error } => {
                self.raise(Severity::Warning, "store", format!("edit of playlist {id:?} outside onair rejected ({error}); the last good version stays"));
                // Writing the good version back sets the bad file aside as .corrupt-*. A file
                // that is no playlist of ours (a stray `x.json`) is left alone.
                if self.staging.playlists.contains_key(&id) {
                    self.stage(Durable::Rewrite(id), None, OpResult::default())
                        .await;
                }
            }
            ExternalChange::Removed(id) => {
                if self.playlists.contains_key(&id) {
                    self.raise(Severity::Warning, "store", format!("playlist file {id:?} was removed outside onair; written back (delete it through onair)"));
                    self.stage(Durable::Rewrite(id), None, OpResult::default())
                        .await;
                }
            }
        }
    }
}

fn end_reason(how: &str) -> EndReason {
    match how {
        "auto" => EndReason::Auto,
        "next" => EndReason::Next,
        "stop" => EndReason::Stop,
        "clear" => EndReason::Clear,
        "error" => EndReason::Error,
        "reconcile" => EndReason::Reconcile,
        "shutdown" => EndReason::Shutdown,
        "hard" => EndReason::Hard,
        "soft" => EndReason::Soft,
        _ => EndReason::Take,
    }
}
