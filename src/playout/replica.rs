//! Cluster mode as the engine sees it (docs/operations.md, "Cluster mode"): the station's edits go
//! through a replicated journal that every daemon applies in the same order. The daemon connects
//! the engine to NATS JetStream (`cluster::replica`); the engine only hands appends to a channel
//! and receives the journal's entries from another, so its loop never awaits the network.
//!
//! The leader appends an edit expecting the journal's last sequence (the journal refuses an append
//! from a node that is behind), and applies it, answers and publishes it only once the journal
//! has stored it. Every other node applies the entries as they come. So memory equals the journal
//! on every node; the local store keeps a copy for the console and for a quick look at the files.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

use crate::playout::change::Change;
use crate::playout::model::Playlist;
use crate::playout::store::PlayoutStateFile;

/// One durable change of the station's playlists, as the journal carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Replicated {
    /// An edit of one playlist, giving it `revision`.
    Edit {
        playlist: String,
        revision: u64,
        change: Change,
    },
    /// A playlist created or replaced whole.
    Put { playlist: Playlist },
    /// A playlist deleted.
    Delete { playlist: String },
    /// The leader's playout (what is on air per playlist, where each resumes): what a node that
    /// takes over adopts from, as a restarted daemon does from its state file.
    Playout { state: PlayoutStateFile },
    /// Never appended: a compaction [`Snapshot`] delivered in place of the entries it replaced
    /// (to a node starting, or one that fell behind a compaction). The station's playlists are
    /// exactly these from then on.
    Reset {
        playlists: Vec<Playlist>,
        playout: Option<Box<PlayoutStateFile>>,
    },
}

/// The station as of journal sequence `seq` (everything up to and including it applied): what
/// compaction stores so that a node starts without reading the entries it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub seq: u64,
    pub playlists: Vec<Playlist>,
    /// The leader's last replicated playout at `seq`, if it had saved one.
    #[serde(default)]
    pub playout: Option<Box<PlayoutStateFile>>,
}

impl Snapshot {
    /// The snapshot as an entry at its sequence.
    pub fn into_delivered(self) -> Delivered {
        Delivered {
            seq: self.seq,
            change: Replicated::Reset {
                playlists: self.playlists,
                playout: self.playout,
            },
            mine: None,
        }
    }
}

/// Why an append was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplicaError {
    /// The journal is past the sequence the append expected: another node appended (this one is
    /// behind, or no longer leads). Nothing was stored.
    #[error("the journal moved on: another node appended")]
    Conflict,
    /// The journal did not answer in time or refused for another reason.
    #[error("the replicated journal: {0}")]
    Unavailable(String),
}

/// An append: `change` to follow journal sequence `after`; `done` gets the sequence it was
/// stored at. `id` comes back with the entry (see [`Delivered::mine`]).
#[derive(Debug)]
pub struct Append {
    pub id: u64,
    pub change: Replicated,
    pub after: u64,
    pub done: oneshot::Sender<Result<u64, ReplicaError>>,
}

/// One entry of the journal, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub seq: u64,
    pub change: Replicated,
    /// The append's `id` when this engine (this very process) appended it: the entry is the
    /// confirmation of its own edit, which it may see before the journal's answer to the append.
    pub mine: Option<u64>,
}

/// The engine's end of the journal.
#[derive(Debug)]
pub struct ReplicaDeps {
    /// Where appends go, in order.
    pub appends: mpsc::Sender<Append>,
    /// Every entry of the journal after `applied`, in order (this node's own appends too).
    pub entries: mpsc::Receiver<Delivered>,
    /// The journal sequence the engine's starting playlists include.
    pub applied: u64,
    /// The journal's last sequence when this node began reading it (`None` until known): the
    /// engine does not drive before it has applied that much, so a node that takes over has the
    /// station's playlists, not a part of them.
    pub caught_up: watch::Receiver<Option<u64>>,
    /// Where the engine asks for the journal's length when it gains the lease: it drives only
    /// once it has applied that much (so a node that takes over from a leader that was ahead of
    /// it, by the last entries before a hand-over, first applies them).
    pub syncs: mpsc::Sender<oneshot::Sender<Result<u64, ReplicaError>>>,
    /// Where the leader hands a [`Snapshot`] of its playlists to compact the journal, every
    /// `compact_every` entries (0: never).
    pub compactions: mpsc::Sender<Snapshot>,
    pub compact_every: u64,
    /// Set by the engine while it drives (holds the lease and has the journal applied up to its
    /// length): `/health` shows it, since holding the lease alone does not mean driving yet.
    pub driving: std::sync::Arc<std::sync::atomic::AtomicBool>,
}
