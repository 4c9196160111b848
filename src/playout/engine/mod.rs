//! The playout engine: one actor owns the playlists and their playout, drives CasparCG through the
//! connection handle, and publishes state for the server and the console.
//!
//! - [`state`]: the snapshot, sequenced events and progress it publishes.
//! - [`actor`]: the loop, operator actions, edits; never waits on the network.
//! - [`runtime`]: one playlist's playout state and its transitions.
//! - [`transport`]: how each operator action maps to AMCP (docs/amcp-notes.md §4.5).
//! - [`clock`]: the runtime's clock as the schedule's, for virtual-time runs.
//! - [`observe`]: reading the channel (INFO or OSC), detecting AUTO switches, reconciling after a
//!   (re)connect.

mod actor;
mod clock;
mod observe;
mod runtime;
pub mod state;
mod transport;

use std::sync::Arc;

use serde::Deserialize;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use actor::{DriveUntil, EngineDeps, GroupDeps, SideDeps, spawn};
pub use clock::RuntimeClock;
pub use runtime::restored_playout;
pub use state::{Event, EventKind, PlaylistView, Playout, Progress, ProgressMap, Snapshot, Status};

use crate::amcp::ChannelLayer;
use crate::caspar::CommandError;
use crate::playout::fill::{EndAction, FillerMode};
use crate::playout::model::{ItemFields, PlaylistError, Transition};
use crate::playout::timing::StartMode;
use crate::protocol::timeline::Timelines;

/// An operator or client request. `playlist: None` means the selected playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    PlaylistCreate {
        name: String,
        channel_layer: Option<ChannelLayer>,
        /// A `[[servers]]` name; none: the station's first server.
        server: Option<String>,
    },
    PlaylistDelete {
        playlist: String,
    },
    PlaylistSelect {
        playlist: String,
    },
    PlaylistRename {
        playlist: Option<String>,
        name: String,
    },
    PlaylistLoop {
        playlist: Option<String>,
        enabled: bool,
    },
    /// Any of name, loop and air date (`Some(None)` clears the air date).
    PlaylistUpdate {
        playlist: Option<String>,
        name: Option<String>,
        looping: Option<bool>,
        air_date: Option<Option<String>>,
        filler: Option<Option<FillerMode>>,
        end_action: Option<EndAction>,
        /// `Some(None)` removes the logo.
        logo: Option<Option<crate::playout::graphics::Logo>>,
    },
    ItemAdd {
        playlist: Option<String>,
        item: NewItem,
        index: Option<usize>,
    },
    ItemMove {
        playlist: Option<String>,
        item: String,
        index: usize,
    },
    ItemRemove {
        playlist: Option<String>,
        item: String,
    },
    ItemUpdate {
        playlist: Option<String>,
        item: String,
        fields: ItemFields,
    },
    Cue {
        playlist: Option<String>,
        item: Option<String>,
    },
    Take {
        playlist: Option<String>,
        item: Option<String>,
    },
    Next {
        playlist: Option<String>,
    },
    Previous {
        playlist: Option<String>,
    },
    Skip {
        playlist: Option<String>,
    },
    Stop {
        playlist: Option<String>,
    },
    Pause {
        playlist: Option<String>,
    },
    Resume {
        playlist: Option<String>,
    },
    Clear {
        playlist: Option<String>,
    },
    Autoplay {
        playlist: Option<String>,
        enabled: bool,
    },
    MediaRescan,
    /// A graphics action by hand on the playlist's channel.
    Graphics {
        playlist: Option<String>,
        action: GraphicsAction,
    },
    /// Answered at once by the engine loop and changes nothing: proves the loop is alive (the
    /// systemd watchdog pings only while it answers).
    Ping,
}

/// A graphics action by hand (docs/graphics.md, "By hand").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphicsAction {
    /// Shows an item's secondary event now: off after its duration when it has one, else when
    /// cleared.
    Fire { item: String, event: String },
    /// New data for the template on `layer`.
    Update {
        layer: i32,
        data: crate::playout::graphics::TemplateData,
    },
    /// Calls `method` of the template on `layer`.
    Invoke { layer: i32, method: String },
    /// Takes what shows on `layer` off.
    Clear { layer: i32 },
    /// Takes the playlist's logo off (kept off) or puts it back.
    Logo { on: bool },
}

impl Op {
    /// Whether this is a playlist edit: checked against every edit still on its way to disk and
    /// answered once durable (see `actor::staging`). Edits queued one after another (see
    /// [`EngineHandle::queue`]) are applied in that order whether or not the previous one was
    /// answered, and those that arrive together share one journal write; other ops act on playout
    /// or published state, so a client that needs them in order waits for each answer.
    pub fn is_edit(&self) -> bool {
        match self {
            Op::PlaylistCreate { .. }
            | Op::PlaylistDelete { .. }
            | Op::PlaylistRename { .. }
            | Op::PlaylistLoop { .. }
            | Op::PlaylistUpdate { .. }
            | Op::Autoplay { .. }
            | Op::ItemAdd { .. }
            | Op::ItemMove { .. }
            | Op::ItemRemove { .. }
            | Op::ItemUpdate { .. } => true,
            Op::PlaylistSelect { .. }
            | Op::Cue { .. }
            | Op::Take { .. }
            | Op::Next { .. }
            | Op::Previous { .. }
            | Op::Skip { .. }
            | Op::Stop { .. }
            | Op::Pause { .. }
            | Op::Resume { .. }
            | Op::Clear { .. }
            | Op::Graphics { .. }
            | Op::MediaRescan
            | Op::Ping => false,
        }
    }
}

/// The fields of a new item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub clip: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub transition: Option<Transition>,
    #[serde(default, rename = "loop")]
    pub looping: bool,
    #[serde(default, rename = "in")]
    pub in_point: Option<u64>,
    #[serde(default, rename = "out")]
    pub out_point: Option<u64>,
    #[serde(default)]
    pub scheduled: Option<String>,
    #[serde(default)]
    pub start: Option<StartMode>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub graphics: Option<crate::playout::graphics::ItemGraphics>,
}

/// What a successful op returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clips: Option<usize>,
}

/// Why an op failed; `code()` is stable for clients.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error(transparent)]
    Playlist(#[from] PlaylistError),
    #[error("CasparCG: {0}")]
    Caspar(#[from] CommandError),
    #[error("not saved: {0}")]
    Store(String),
    #[error("nothing to cue")]
    NothingToCue,
    #[error("nothing left to take")]
    NothingToTake,
    #[error("there is no previous item")]
    NoPreviousItem,
    #[error("nothing to skip")]
    NothingToSkip,
    #[error("the playlist is on air; stop it before deleting")]
    PlaylistOnAir,
    #[error("the item is on air; take another item first")]
    ItemOnAir,
    /// The cause only: the client that asked says what failed ("media rescan failed: …").
    #[error("{0}")]
    MediaRescan(String),
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// Cluster mode: another daemon leads the station (docs/operations.md, "Cluster mode").
    #[error("this daemon does not lead the station: send playout commands to the leader")]
    NotLeader,
    /// A graphics action that cannot be done (no such event, nothing on the layer…).
    #[error("{0}")]
    Graphics(String),
}

impl EngineError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Playlist(e) => e.code(),
            EngineError::Caspar(CommandError::NotConnected) => "caspar_not_connected",
            EngineError::Caspar(CommandError::Server { code: 404, .. }) => "clip_not_found",
            EngineError::Caspar(_) => "caspar_error",
            EngineError::Store(_) => "store_error",
            EngineError::NothingToCue => "nothing_to_cue",
            EngineError::NothingToTake => "nothing_to_take",
            EngineError::NoPreviousItem => "no_previous_item",
            EngineError::NothingToSkip => "nothing_to_skip",
            EngineError::PlaylistOnAir => "playlist_on_air",
            EngineError::ItemOnAir => "item_on_air",
            EngineError::MediaRescan(_) => "media_rescan_failed",
            EngineError::ShuttingDown => "shutting_down",
            EngineError::NotLeader => "not_leader",
            EngineError::Graphics(_) => "graphics_error",
        }
    }
}

pub(crate) struct EngineRequest {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Result<OpResult, EngineError>>,
}

/// An op handed to the engine ([`EngineHandle::queue`]); dropping it drops only the answer.
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<OpResult, EngineError>>);

impl Queued {
    /// The op's result, when it is done (see [`EngineHandle::execute`]).
    pub async fn answer(self) -> Result<OpResult, EngineError> {
        self.0.await.unwrap_or(Err(EngineError::ShuttingDown))
    }
}

/// Cheap-clone front of the engine.
#[derive(Clone)]
pub struct EngineHandle {
    pub(crate) tx: mpsc::Sender<EngineRequest>,
    pub(crate) snapshot: watch::Receiver<Arc<Snapshot>>,
    pub(crate) events: broadcast::Sender<Arc<Event>>,
    pub(crate) progress: watch::Receiver<Arc<ProgressMap>>,
    pub(crate) timeline: watch::Receiver<Arc<Timelines>>,
}

impl EngineHandle {
    /// Runs one op; the result comes after the change is durable (edits) or CasparCG answered
    /// (playout actions).
    pub async fn execute(&self, op: Op) -> Result<OpResult, EngineError> {
        self.queue(op).await?.answer().await
    }

    /// Hands one op to the engine without waiting for its result: ops queued one after another
    /// reach the engine in that order (this waits only while the engine's queue is full).
    pub async fn queue(&self, op: Op) -> Result<Queued, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EngineRequest { op, reply })
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        Ok(Queued(rx))
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// A receiver of snapshots (every change).
    pub fn watch_snapshot(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.clone()
    }

    /// Subscribes to events. Subscribe *before* reading the snapshot you start from, then skip events
    /// whose `seq` the snapshot already contains.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// A receiver of progress (coalesced; not sequenced).
    pub fn watch_progress(&self) -> watch::Receiver<Arc<ProgressMap>> {
        self.progress.clone()
    }

    /// A receiver of the planned timelines and the station clock (derived, not sequenced; changes
    /// at most once a second).
    pub fn watch_timeline(&self) -> watch::Receiver<Arc<Timelines>> {
        self.timeline.clone()
    }
}
