//! Edits reach the published state only once durable.
//!
//! An edit is validated against the *staged* playlists (the published ones plus every edit still
//! on its way to disk), queued to the store as one journal record (or a whole-playlist write),
//! and kept in order here. When the store says it is durable, the same change is applied to the
//! published playlists, sent to clients as an item-level event and answered. When it fails, it is
//! answered `store_error` and leaves no trace: the staged playlists are rebuilt from the published
//! ones and the epoch moves on, so the store refuses, unwritten, everything queued on top of the
//! failed edit (each answered with the error too).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::FuturesUnordered;

use super::*;
use crate::playout::change::Change;
use crate::playout::replica::ReplicaError;
use crate::playout::store::{JournalRecord, SaveAck, StoreError, Whole};

/// A change on its way to disk.
#[derive(Debug, Clone)]
pub(crate) enum Durable {
    /// One journal record.
    Edit {
        playlist: String,
        revision: u64,
        change: Change,
    },
    /// A new playlist.
    Create(Playlist),
    /// A playlist replaced whole (edited outside onair, then validated).
    Replace(Playlist),
    Delete(String),
    /// The playlist's file written again from the store's copy; changes nothing in memory.
    Rewrite(String),
    /// Cluster mode: the leader's playout, carried by the journal (see `replicate`); nothing
    /// for the store.
    Playout(Box<crate::playout::store::PlayoutStateFile>),
}

pub(super) struct Waiting {
    pub(super) ticket: u64,
    pub(super) epoch: u64,
    pub(super) what: Durable,
    reply: Option<Reply>,
    result: OpResult,
    /// Cluster mode: on its way to the replicated journal (`replicate`), not yet to the disk.
    pub(super) replicating: bool,
    /// Cluster mode: the journal has it, so it is the station's truth: a local write that fails
    /// raises an alarm but does not undo it.
    pub(super) replicated: bool,
    /// Handed to the store (which needs a playlist's edits in order).
    pub(super) written: bool,
    /// Its sequence in the replicated journal, once known.
    pub(super) seq: Option<u64>,
    pub(super) outcome: Option<Outcome>,
}

/// How a staged change ended.
pub(super) enum Outcome {
    Durable,
    NotSaved(StoreError),
    NotReplicated(ReplicaError),
}

/// The staged playlists and the changes on their way to disk, in order.
#[derive(Default)]
pub(crate) struct Staging {
    /// The published playlists with every waiting change applied: what new edits are checked
    /// against.
    pub(crate) playlists: BTreeMap<String, Playlist>,
    pub(super) waiting: VecDeque<Waiting>,
    pub(super) next_ticket: u64,
    /// Failures seen; every change carries it (see the module comment).
    pub(super) epoch: u64,
    /// The store's answers still to come, polled by the engine's own loop: a task per edit that
    /// waited and forwarded the answer cost a spawn and one more wake-up on every edit's path to
    /// its ack.
    pub(super) answers: FuturesUnordered<StoreAnswer>,
}

/// The store's answer to staged change `ticket`.
pub(crate) struct StoreAnswer {
    ticket: u64,
    ack: SaveAck,
}

impl Future for StoreAnswer {
    type Output = (u64, Result<(), StoreError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let ticket = self.ticket;
        Pin::new(&mut self.ack).poll(cx).map(|r| (ticket, r))
    }
}

impl Staging {
    pub(crate) fn new(playlists: &BTreeMap<String, Playlist>) -> Staging {
        Staging {
            playlists: playlists.clone(),
            ..Staging::default()
        }
    }
}

impl Engine {
    /// The staged playlist an edit addresses (`None`: the selected one).
    pub(super) fn staged(&self, id: Option<&str>) -> Result<&Playlist, EngineError> {
        let id = id
            .or(self.selected.as_deref())
            .ok_or_else(|| PlaylistError::PlaylistNotFound(String::new()))?;
        self.staging
            .playlists
            .get(id)
            .ok_or_else(|| PlaylistError::PlaylistNotFound(id.to_owned()).into())
    }

    /// Sends a staged change to disk (or, without a store, applies it at once); in cluster mode
    /// to the replicated journal first (see `replicate`).
    pub(super) async fn stage(&mut self, what: Durable, reply: Option<Reply>, result: OpResult) {
        if self.replica.is_some() && !matches!(what, Durable::Rewrite(_)) {
            if !self.may_drive() {
                // Only the leader appends to the station's journal (a file edited on another
                // node is not applied).
                let epoch = self.staging.epoch;
                self.void(
                    epoch,
                    &what,
                    "not applied: this daemon does not lead the station",
                );
                answer(reply, Err(EngineError::NotLeader));
                return;
            }
            self.replicate(what, reply, result);
            return;
        }
        if self.persistence.store.is_none() {
            self.commit(what);
            answer(reply, Ok(result));
            return;
        }
        let ticket = self.push_waiting(what, reply, result, false);
        self.write_local(ticket).await;
    }

    /// Queues a staged change in order; its ticket.
    pub(super) fn push_waiting(
        &mut self,
        what: Durable,
        reply: Option<Reply>,
        result: OpResult,
        replicating: bool,
    ) -> u64 {
        let ticket = self.staging.next_ticket;
        self.staging.next_ticket += 1;
        self.staging.waiting.push_back(Waiting {
            ticket,
            epoch: self.staging.epoch,
            what,
            reply,
            result,
            replicating,
            replicated: false,
            written: false,
            seq: None,
            outcome: None,
        });
        ticket
    }

    /// Hands waiting change `ticket` to the store; the engine's loop polls its answer
    /// (`Staging::answers`) and passes it to [`Engine::on_durable`].
    pub(super) async fn write_local(&mut self, ticket: u64) {
        let Some(w) = self.staging.waiting.iter_mut().find(|w| w.ticket == ticket) else {
            return;
        };
        w.written = true;
        let (what, epoch) = (w.what.clone(), w.epoch);
        let Some(store) = self.persistence.store.clone() else {
            self.on_durable(ticket, Ok(()));
            return;
        };
        let queued: Result<SaveAck, StoreError> = match what {
            Durable::Edit {
                playlist,
                revision,
                change,
            } => {
                let record = JournalRecord {
                    playlist,
                    revision,
                    change,
                };
                store.append(record, epoch).await
            }
            Durable::Create(p) | Durable::Replace(p) => store.whole(Whole::Put(p), epoch).await,
            Durable::Delete(id) => store.whole(Whole::Delete(id), epoch).await,
            Durable::Rewrite(id) => store.whole(Whole::Rewrite(id), epoch).await,
            Durable::Playout(_) => {
                self.on_durable(ticket, Ok(()));
                return;
            }
        };
        match queued {
            Ok(ack) => self.staging.answers.push(StoreAnswer { ticket, ack }),
            Err(e) => self.on_durable(ticket, Err(e)),
        }
    }

    /// The store answered change `ticket`: apply (or drop) every change answered so far, in order.
    pub(super) fn on_durable(&mut self, ticket: u64, result: Result<(), StoreError>) {
        let mut replicated_but_unsaved = None;
        if let Some(w) = self.staging.waiting.iter_mut().find(|w| w.ticket == ticket) {
            w.outcome = Some(match result {
                Ok(()) => Outcome::Durable,
                // The journal is the station's truth: the local copy is behind, nothing more.
                Err(e) if w.replicated => {
                    replicated_but_unsaved = Some(e);
                    Outcome::Durable
                }
                Err(e) => Outcome::NotSaved(e),
            });
        }
        if let Some(e) = replicated_but_unsaved {
            self.raise(
                Severity::Warning,
                "store",
                format!("the local copy of a replicated edit was not saved: {e}"),
            );
        }
        self.settle();
    }

    /// The staged playlists: the published ones plus every change the journal already has.
    pub(super) fn restage(&mut self) {
        self.staging.playlists = self.playlists.clone();
        for w in self.staging.waiting.iter().filter(|w| w.replicated) {
            if let Err(e) = apply_to(&mut self.staging.playlists, &w.what, &self.limits) {
                tracing::error!(error = %e, "a replicated edit no longer applies to the staged state");
            }
        }
    }

    /// Applies (or drops) every change answered so far, in order.
    pub(super) fn settle(&mut self) {
        while self
            .staging
            .waiting
            .front()
            .is_some_and(|w| w.outcome.is_some())
        {
            let Some(w) = self.staging.waiting.pop_front() else {
                break;
            };
            match w.outcome {
                Some(Outcome::Durable) => {
                    if let (Some(seq), Some(r)) = (w.seq, self.replica.as_mut()) {
                        r.committed(&w.what, seq);
                    }
                    self.commit(w.what);
                    answer(w.reply, Ok(w.result));
                }
                Some(Outcome::NotSaved(e)) => self.dropped(w.epoch, w.what, e, w.reply),
                Some(Outcome::NotReplicated(e)) if matches!(w.what, Durable::Playout(_)) => {
                    // The next save supersedes it; nothing was staged on top of it.
                    tracing::debug!(error = %e, "playout state not replicated");
                }
                Some(Outcome::NotReplicated(e)) => {
                    let error = match e {
                        ReplicaError::Conflict => EngineError::NotLeader,
                        ReplicaError::Unavailable(why) => EngineError::Store(format!(
                            "not confirmed by the replicated journal ({why}); not applied, \
                             unless NATS stored it after all: then it is applied when its entry \
                             comes back"
                        )),
                    };
                    self.void(w.epoch, &w.what, &error.to_string());
                    answer(w.reply, Err(error));
                }
                None => {}
            }
        }
        if self.replica.is_some() {
            // Catching up with the journal may be what this node waited for to drive.
            self.on_drive_change();
            self.maybe_compact();
        }
    }

    /// A change that did not reach the disk: nothing of it stays.
    fn dropped(&mut self, epoch: u64, what: Durable, error: StoreError, reply: Option<Reply>) {
        if let Durable::Rewrite(id) = &what {
            // Nothing was staged on top of a rewrite: only the file is behind.
            let message = format!("{}{error}", rewrite_alarm(id));
            self.raise(Severity::Critical, "store", message);
            answer(reply, Err(EngineError::Store(error.to_string())));
            return;
        }
        self.void(epoch, &what, &format!("not saved, so not applied: {error}"));
        answer(reply, Err(EngineError::Store(error.to_string())));
    }

    /// A change that failed: on the first failure of its epoch, everything staged on top of it is
    /// void too (the staged playlists go back to the published ones) and an alarm says why.
    fn void(&mut self, epoch: u64, what: &Durable, why: &str) {
        if epoch != self.staging.epoch {
            return;
        }
        self.staging.epoch += 1;
        // What the journal already has still comes (cluster mode): it stays staged.
        self.restage();
        let what = match what {
            Durable::Edit { playlist, .. } => format!("edit of playlist {playlist:?}"),
            Durable::Create(p) => format!("new playlist {:?}", p.id),
            Durable::Replace(p) => format!("playlist {:?} (edited outside onair)", p.id),
            Durable::Delete(id) => format!("delete of playlist {id:?}"),
            Durable::Rewrite(id) => format!("playlist file {id:?}"),
            Durable::Playout(_) => "playout state".to_owned(),
        };
        self.raise(Severity::Critical, "store", format!("{what} {why}"));
    }

    /// A durable change reaches the published state and the clients.
    fn commit(&mut self, what: Durable) {
        match what {
            Durable::Edit {
                playlist,
                revision,
                change,
            } => self.commit_edit(&playlist, revision, &change),
            Durable::Create(p) => {
                let id = p.id.clone();
                self.playlists.insert(id.clone(), p);
                self.playout.entry(id.clone()).or_default();
                self.recompute_missing(&id);
                self.side_missing();
                self.publish_playlist(&id);
                if self.selected.is_none() {
                    self.selected = Some(id.clone());
                    self.persistence.state_dirty = true;
                    self.publish(EventKind::Selected { playlist: id });
                }
            }
            Durable::Replace(p) => {
                let id = p.id.clone();
                self.playlists.insert(id.clone(), p);
                self.playout.entry(id.clone()).or_default();
                self.recompute_missing(&id);
                self.side_missing();
                self.publish_playlist(&id);
                self.rearm(&id);
            }
            Durable::Delete(id) => {
                self.commit_delete(&id);
                self.side_missing();
            }
            Durable::Playout(state) => self.adopt_playout(&state),
            Durable::Rewrite(id) => {
                let prefix = rewrite_alarm(&id);
                let stale: Vec<u64> = self
                    .alarms
                    .iter()
                    .filter(|a| a.kind == "store" && a.message.starts_with(&prefix))
                    .map(|a| a.id)
                    .collect();
                for id in stale {
                    self.alarms.retain(|a| a.id != id);
                    self.publish(EventKind::AlarmCleared { id });
                }
            }
        }
    }

    fn commit_edit(&mut self, id: &str, revision: u64, change: &Change) {
        let limits = self.limits;
        let Some(p) = self.playlists.get_mut(id) else {
            tracing::error!(playlist = id, "durable edit of a playlist that is gone");
            return;
        };
        // The clip one item stops using, for the sides' missing clips.
        let old = match change {
            Change::ItemUpdated { index, .. } | Change::ItemRemoved { index, .. } => {
                p.items.get(*index).map(|i| i.clip.clone())
            }
            _ => None,
        };
        if let Err(e) = p.apply(change, revision, &limits) {
            // The store applied the same change to the same version: this cannot differ.
            tracing::error!(playlist = id, error = %e, "durable edit does not apply in memory");
            return;
        }
        let missing = match change {
            Change::ItemAdded { item, .. } | Change::ItemUpdated { item, .. } => {
                let media = self.media_of(&self.playlists[id]);
                let missing = !media.is_empty() && media.missing(&item.clip);
                self.set_missing(id, &item.id, missing);
                missing
            }
            Change::ItemRemoved { item, .. } => {
                self.set_missing(id, item, false);
                false
            }
            _ => false,
        };
        let new = match change {
            Change::ItemAdded { item, .. } | Change::ItemUpdated { item, .. } => {
                Some(item.clip.clone())
            }
            _ => None,
        };
        self.side_clip_changed(id, old, new);
        self.publish(EventKind::edit(id, revision, change, missing));
        self.rearm(id);
    }

    fn commit_delete(&mut self, id: &str) {
        self.playlists.remove(id);
        self.playout.remove(id);
        self.missing.remove(id);
        self.persistence.state_dirty = true;
        self.progress.remove(id);
        // The snapshot published with the removal must not name it as selected.
        let was_selected = self.selected.as_deref() == Some(id);
        if was_selected {
            self.selected = None;
        }
        self.publish(EventKind::PlaylistRemoved {
            playlist: id.to_owned(),
        });
        if was_selected {
            self.selected = self.playlists.keys().next().cloned();
            if let Some(s) = self.selected.clone() {
                self.publish(EventKind::Selected { playlist: s });
            }
        }
    }

    /// Records whether `item`'s clip is missing from the library (kept sorted by id).
    fn set_missing(&mut self, id: &str, item: &str, missing: bool) {
        let list = self.missing.entry(id.to_owned()).or_default();
        match (list.binary_search_by(|m| m.as_str().cmp(item)), missing) {
            (Ok(at), false) => {
                list.remove(at);
            }
            (Err(at), true) => list.insert(at, item.to_owned()),
            _ => {}
        }
    }

    /// Recomputes which items of playlist `id` lack their clip; true when that changed.
    pub(super) fn recompute_missing(&mut self, id: &str) -> bool {
        let pl = self.playlists.get(id);
        let media = pl.map(|pl| self.media_of(pl)).unwrap_or_default();
        let mut list: Missing = match pl {
            Some(pl) if !media.is_empty() => pl
                .items
                .iter()
                .filter(|i| media.missing(&i.clip))
                .map(|i| i.id.clone())
                .collect(),
            _ => Missing::new(),
        };
        list.sort();
        let old = self.missing.insert(id.to_owned(), list);
        old.as_ref() != self.missing.get(id)
    }
}

/// The start of the alarm raised while a playlist's file cannot be written back (cleared when it
/// is).
fn rewrite_alarm(id: &str) -> String {
    format!("playlist file {id:?} could not be written back: ")
}

fn answer(reply: Option<Reply>, result: Result<OpResult, EngineError>) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

/// Applies a staged change to a set of playlists (the staged ones), as `commit` does to the
/// published ones.
pub(super) fn apply_to(
    playlists: &mut BTreeMap<String, Playlist>,
    what: &Durable,
    limits: &Limits,
) -> Result<(), PlaylistError> {
    match what {
        Durable::Edit {
            playlist,
            revision,
            change,
        } => playlists
            .get_mut(playlist)
            .ok_or_else(|| PlaylistError::PlaylistNotFound(playlist.clone()))?
            .apply(change, *revision, limits),
        Durable::Create(p) | Durable::Replace(p) => {
            playlists.insert(p.id.clone(), p.clone());
            Ok(())
        }
        Durable::Delete(id) => {
            playlists.remove(id);
            Ok(())
        }
        Durable::Rewrite(_) | Durable::Playout(_) => Ok(()),
    }
}
