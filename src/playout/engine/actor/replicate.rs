//! Cluster mode: edits go through the station's replicated journal (`playout::replica`) before
//! the disk. The leader appends each staged edit expecting the journal's last sequence; once the
//! journal has it (its answer, or the entry itself coming back, whichever is first) the edit is
//! written to the local store, then applied, published and answered, in order, as without a
//! cluster. Entries another node appended are applied the same way, without an answer. The loop
//! hands appends to a channel and learns their fate as messages: it never awaits the network.
//!
//! The journal's answers come in any order; the store is handed the edits in the journal's order
//! (`write_ready`). An append NATS does not confirm in time is answered as failed and kept out of
//! the state; should NATS have stored it after all (the client sends what it buffered once the
//! server is back), its entry comes back and is applied like any other: the journal is the truth.
//!
//! A node does not drive (nor take edits) before its published playlists hold the journal as it
//! was when it began reading it, and as it was when it gained the lease (`Replica::ready`,
//! `sync_with_lease`): a node that takes over has the station's playlists.
//!
//! Compaction: every `compact_every` entries the leader hands its published playlists (and its
//! last replicated playout) as of the last committed sequence to the journal, which stores them
//! and drops the entries they replace. A node that starts, or falls behind a compaction, gets the
//! snapshot as one entry (`Replicated::Reset`): its playlists become exactly the snapshot's.

use super::staging::{Durable, Outcome};
use super::*;
use crate::playout::replica::{Append, Delivered, ReplicaError, Replicated, Snapshot};
use crate::playout::store::PlayoutStateFile;

/// The engine's end of the journal.
pub(crate) struct Replica {
    appends: mpsc::Sender<Append>,
    /// The last journal sequence applied or confirmed here.
    applied: u64,
    /// The sequence the next append follows: `applied` plus the appends in flight.
    assigned: u64,
    /// The last journal sequence in the published playlists.
    committed: u64,
    /// The journal's length when this node began reading it (see `ReplicaDeps::caught_up`).
    target: watch::Receiver<Option<u64>>,
    compactions: mpsc::Sender<Snapshot>,
    compact_every: u64,
    /// The sequence of the last snapshot handed over (or of the start).
    compacted: u64,
    /// The last replicated playout committed here: what a snapshot carries.
    playout: Option<Box<PlayoutStateFile>>,
    syncs: mpsc::Sender<tokio::sync::oneshot::Sender<Result<u64, ReplicaError>>>,
    /// Where this tenure's catch-up stands (see `ReplicaDeps::syncs`).
    sync: Sync,
    /// Shown in `/health` (`cluster.journal.driving`): whether this engine drives now.
    driving: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Catching up with the journal on gaining the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Not leased: the next lease needs the journal's length first.
    Needed,
    /// Asked; no answer yet.
    Asked,
    /// The journal had this many entries after the lease was gained.
    Known(u64),
}

impl Replica {
    pub(super) fn new(deps: &crate::playout::replica::ReplicaDeps) -> Replica {
        Replica {
            appends: deps.appends.clone(),
            applied: deps.applied,
            assigned: deps.applied,
            committed: deps.applied,
            target: deps.caught_up.clone(),
            compactions: deps.compactions.clone(),
            compact_every: deps.compact_every,
            compacted: deps.applied,
            playout: None,
            syncs: deps.syncs.clone(),
            sync: Sync::Needed,
            driving: deps.driving.clone(),
        }
    }

    /// Whether the published playlists hold the whole journal as it was when this node began
    /// reading it, and as it was when this node gained the lease: before that it must not drive.
    pub(super) fn ready(&self) -> bool {
        let started = self.target.borrow().is_some_and(|t| self.committed >= t);
        started && matches!(self.sync, Sync::Known(len) if self.committed >= len)
    }

    /// Whether the engine drives now (for `/health`).
    pub(super) fn driving_now(&self, now: bool) {
        self.driving
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Change `what` of journal sequence `seq` reached the published playlists.
    pub(super) fn committed(&mut self, what: &Durable, seq: u64) {
        self.committed = self.committed.max(seq);
        if let Durable::Playout(state) = what {
            self.playout = Some(state.clone());
        }
    }

    /// A receiver that sees when the journal's length becomes known.
    pub(super) fn target(&self) -> watch::Receiver<Option<u64>> {
        self.target.clone()
    }
}

/// The journal's form of a staged change (a rewrite of a file is local and never replicated).
fn replicated(what: &Durable) -> Option<Replicated> {
    Some(match what {
        Durable::Edit {
            playlist,
            revision,
            change,
        } => Replicated::Edit {
            playlist: playlist.clone(),
            revision: *revision,
            change: change.clone(),
        },
        Durable::Create(p) | Durable::Replace(p) => Replicated::Put {
            playlist: p.clone(),
        },
        Durable::Delete(id) => Replicated::Delete {
            playlist: id.clone(),
        },
        Durable::Playout(state) => Replicated::Playout {
            state: (**state).clone(),
        },
        Durable::Rewrite(_) => return None,
    })
}

/// The staged form of a journal entry; a `Put` of a playlist not staged here is a creation. A
/// snapshot (`Reset`) is every change that makes the staged playlists the snapshot's.
fn durables(change: Replicated, staged: &BTreeMap<String, Playlist>) -> Vec<Durable> {
    let put = |playlist: Playlist| {
        if staged.contains_key(&playlist.id) {
            Durable::Replace(playlist)
        } else {
            Durable::Create(playlist)
        }
    };
    match change {
        Replicated::Edit {
            playlist,
            revision,
            change,
        } => vec![Durable::Edit {
            playlist,
            revision,
            change,
        }],
        Replicated::Put { playlist } => vec![put(playlist)],
        Replicated::Delete { playlist } => vec![Durable::Delete(playlist)],
        Replicated::Playout { state } => vec![Durable::Playout(Box::new(state))],
        Replicated::Reset { playlists, playout } => {
            let kept: std::collections::BTreeSet<&str> =
                playlists.iter().map(|p| p.id.as_str()).collect();
            let mut out: Vec<Durable> = staged
                .keys()
                .filter(|id| !kept.contains(id.as_str()))
                .map(|id| Durable::Delete(id.clone()))
                .collect();
            out.extend(
                playlists
                    .into_iter()
                    .filter(|p| staged.get(&p.id) != Some(p))
                    .map(put),
            );
            out.extend(playout.map(Durable::Playout));
            out
        }
    }
}

impl Engine {
    /// The lease was gained or lost (cluster mode): on gaining it, ask the journal how long it is
    /// now, and drive only once that much is applied here.
    pub(super) fn sync_with_lease(&mut self, leased: bool) {
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        if !leased {
            r.sync = Sync::Needed;
            return;
        }
        if r.sync != Sync::Needed {
            return;
        }
        r.sync = Sync::Asked;
        let (done, answer) = tokio::sync::oneshot::channel();
        if r.syncs.try_send(done).is_err() {
            // The journal's task is gone or swamped: asked again at the next renewal.
            r.sync = Sync::Needed;
            return;
        }
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = answer
                .await
                .unwrap_or_else(|_| Err(ReplicaError::Unavailable("no answer".to_owned())));
            let _ = internal.send(Internal::Synced { result });
        });
    }

    /// The journal's length after this node gained the lease.
    pub(super) fn on_synced(&mut self, result: Result<u64, ReplicaError>) {
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        if r.sync != Sync::Asked {
            // The lease was lost meanwhile: this answer belongs to no tenure.
            return;
        }
        match result {
            Ok(len) => {
                tracing::debug!(
                    len,
                    committed = r.committed,
                    "cluster: journal length on gaining the lease"
                );
                r.sync = Sync::Known(len);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cluster: the journal's length is not known; asking again");
                r.sync = Sync::Needed;
            }
        }
        self.on_drive_change();
    }

    /// Appends a staged change to the journal; it is written, applied and answered once the
    /// journal has it.
    pub(super) fn replicate(&mut self, what: Durable, reply: Option<Reply>, result: OpResult) {
        let Some(change) = replicated(&what) else {
            return;
        };
        let ticket = self.push_waiting(what, reply, result, true);
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        let after = r.assigned;
        let append = Append {
            id: ticket,
            change,
            after,
            done,
        };
        if let Err(e) = r.appends.try_send(append) {
            // A full queue means NATS has not answered hundreds of appends: the edit is refused,
            // as any edit the journal cannot take.
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "too many edits waiting for NATS",
                mpsc::error::TrySendError::Closed(_) => "the link to NATS is gone",
            };
            self.on_not_replicated(ticket, ReplicaError::Unavailable(why.to_owned()));
            return;
        }
        r.assigned += 1;
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = answer
                .await
                .unwrap_or_else(|_| Err(ReplicaError::Unavailable("no answer".to_owned())));
            let _ = internal.send(Internal::Replicated { ticket, result });
        });
    }

    /// The journal answered the append of change `ticket`.
    pub(super) async fn on_replicated(&mut self, ticket: u64, result: Result<u64, ReplicaError>) {
        match result {
            Ok(seq) => self.confirmed(ticket, seq).await,
            Err(e) => {
                let still_waiting = self
                    .staging
                    .waiting
                    .iter()
                    .any(|w| w.ticket == ticket && w.replicating);
                if !still_waiting {
                    // Its entry already came back: it is in the journal whatever the answer says.
                    return;
                }
                if let Some(r) = self.replica.as_mut() {
                    // Every append in flight behind it expected it, so they fail too; the next
                    // one follows what was applied.
                    r.assigned = r.applied;
                }
                tracing::warn!(ticket, error = %e, "edit not replicated");
                self.on_not_replicated(ticket, e);
            }
        }
    }

    /// Change `ticket` is in the journal at `seq`: now to the disk.
    async fn confirmed(&mut self, ticket: u64, seq: u64) {
        if let Some(r) = self.replica.as_mut() {
            r.applied = r.applied.max(seq);
            r.assigned = r.assigned.max(seq);
        }
        let Some(w) = self
            .staging
            .waiting
            .iter_mut()
            .find(|w| w.ticket == ticket && w.replicating)
        else {
            return;
        };
        // In the journal: the station's truth from now on.
        w.replicating = false;
        w.replicated = true;
        w.seq = Some(seq);
        self.write_ready().await;
    }

    /// An entry of the journal, in order.
    pub(super) async fn on_entry(&mut self, entry: Delivered) {
        if let Some(ticket) = entry.mine
            && self
                .staging
                .waiting
                .iter()
                .any(|w| w.ticket == ticket && w.replicating)
        {
            self.confirmed(ticket, entry.seq).await;
            return;
        }
        // Another node's entry, or one of ours whose append was answered as failed (NATS took it
        // after all, once it was back): the journal is the truth, so it is applied.
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        if entry.seq <= r.applied {
            return;
        }
        r.applied = entry.seq;
        r.assigned = entry.seq;
        // Our appends still on their way expected the journal to end before this entry: they
        // are refused, and nothing of them stays staged.
        self.doom_replicating();
        if matches!(entry.change, Replicated::Reset { .. }) {
            tracing::info!(
                seq = entry.seq,
                "cluster: the station's playlists from a snapshot"
            );
        }
        for what in durables(entry.change, &self.staging.playlists) {
            if let Err(e) =
                super::staging::apply_to(&mut self.staging.playlists, &what, &self.limits)
            {
                self.raise(
                    Severity::Critical,
                    "cluster",
                    format!("journal entry {} does not apply here: {e}", entry.seq),
                );
                continue;
            }
            self.push_waiting(what, None, OpResult::default(), false);
            if let Some(w) = self.staging.waiting.back_mut() {
                w.replicated = true;
                w.seq = Some(entry.seq);
            }
        }
        self.write_ready().await;
    }

    /// The leader, every `compact_every` committed entries: hands the journal a snapshot of its
    /// published playlists as of the last committed sequence (they are persistent structures, so
    /// the copy is cheap; the journal's task serialises it). A snapshot the journal's task has
    /// no room for is skipped; the next one comes `compact_every` entries later.
    pub(super) fn maybe_compact(&mut self) {
        let driving = self.driving;
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        if !driving || r.compact_every == 0 || r.committed < r.compacted + r.compact_every {
            return;
        }
        r.compacted = r.committed;
        let snapshot = Snapshot {
            seq: r.committed,
            playlists: self.playlists.values().cloned().collect(),
            playout: r.playout.clone(),
        };
        if r.compactions.try_send(snapshot).is_err() {
            tracing::debug!("a compaction is still on its way: this one is skipped");
        }
    }

    /// Hands the store every waiting change the journal has, in order, up to the first one still
    /// on its way there (cluster mode: the journal's answers come in any order, the store needs
    /// each playlist's edits in order).
    pub(super) async fn write_ready(&mut self) {
        let mut ready = Vec::new();
        for w in self.staging.waiting.iter_mut() {
            if w.replicating {
                break;
            }
            if !w.written && w.outcome.is_none() {
                ready.push(w.ticket);
            }
        }
        for ticket in ready {
            self.write_local(ticket).await;
        }
    }

    /// The replicated journal refused change `ticket` (cluster mode).
    pub(super) fn on_not_replicated(&mut self, ticket: u64, error: ReplicaError) {
        if let Some(w) = self.staging.waiting.iter_mut().find(|w| w.ticket == ticket) {
            w.replicating = false;
            w.outcome = Some(Outcome::NotReplicated(error));
        }
        self.settle();
    }

    /// Another node appended to the journal: every edit of ours still on its way there expected
    /// the journal to end before that entry, so the journal refuses it. They are answered so now
    /// (`not_leader`) and the staged playlists go back to the published ones plus what the
    /// journal already has.
    pub(super) fn doom_replicating(&mut self) {
        if !self.staging.waiting.iter().any(|w| w.replicating) {
            return;
        }
        for w in self.staging.waiting.iter_mut().filter(|w| w.replicating) {
            w.replicating = false;
            w.outcome = Some(Outcome::NotReplicated(ReplicaError::Conflict));
        }
        // A new epoch first: the refused edits void nothing more when they are settled.
        self.staging.epoch += 1;
        self.restage();
        self.raise(
            Severity::Warning,
            "cluster",
            "another daemon wrote to the station's journal: edits on their way were refused"
                .to_owned(),
        );
        self.settle();
    }

    /// Cluster mode, the leader: its playout goes to the journal whenever it is saved, so a node
    /// that takes over knows what is on air (answered by nobody; a refused one is superseded by
    /// the next).
    pub(super) fn replicate_playout(&mut self, state: &crate::playout::store::PlayoutStateFile) {
        if self.replica.is_some() && self.driving {
            self.replicate(
                Durable::Playout(Box::new(state.clone())),
                None,
                OpResult::default(),
            );
        }
    }

    /// The leader's playout from the journal: a node that does not drive takes it as its own, as
    /// a restarted daemon takes its state file, so that it shows what is on air and, when it takes
    /// over, reconciles from it (adopting what plays, never restarting it).
    pub(super) fn adopt_playout(&mut self, state: &crate::playout::store::PlayoutStateFile) {
        if self.driving {
            return;
        }
        let views = crate::playout::engine::restored_playout(Some(state));
        for (id, view) in views {
            if !self.playlists.contains_key(&id) {
                continue;
            }
            if let Some(next) = state.playlists.get(&id).and_then(|p| p.filler_next) {
                self.scheduler.filler_seq.insert(id.clone(), next);
            }
            if let Some((item, start)) = state
                .playlists
                .get(&id)
                .and_then(|p| Some((p.on_air.clone()?, p.graphics_start_ns?)))
            {
                self.graphics.anchors.insert(
                    id.clone(),
                    super::graphics::Anchor {
                        item,
                        start_ns: start,
                    },
                );
            }
            if state.playlists.get(&id).is_some_and(|p| p.logo_off) {
                self.graphics.logo_off.insert(id.clone());
            } else {
                self.graphics.logo_off.remove(&id);
            }
            *self.runtime(&id) = Runtime::restored(view);
            self.publish_playout(&id);
        }
        self.persistence.state_dirty = true;
    }
}
