//! The WebSocket protocol (`/ws`): every type that crosses the socket, in one place.
//!
//! What clients send is a [`ClientMsg`]; a `command` carries a typed [`Request`], one variant per
//! op, with its arguments as a struct ([`args`]). What the server sends is a [`ServerMsg`]: the
//! [`Snapshot`] and sequenced [`Event`]s the engine publishes ([`views`], [`event`]), progress,
//! [`Ack`]s and errors with stable [`codes`]. The server (`crate::server`) and the console
//! (`crate::tui`) import wire types from here only, so what the daemon encodes is exactly what the
//! console decodes, and `docs/ws-protocol.schema.json` ([`schema`]) is generated from these types.
//!
//! Playlists, items and transitions ([`Playlist`], [`Item`], [`Transition`]) are at the same time
//! the stored model (`crate::playout::model`, with their validation and edits) and what clients see
//! inside a [`PlaylistView`]. They stay with the model, whose files they are, and are re-exported
//! here as wire types, so the playlist files and the snapshot keep one JSON shape by construction.
//! The engine's edit of an item (`ItemFields`) is not a wire type: `item.update` has its own
//! arguments ([`args::ItemUpdate`]), which are turned into an edit by the server.
//!
//! Pure serde, no I/O; the protocol knows nothing of the engine. How a [`Request`] becomes an engine
//! op is the server's business (`crate::server::ws`).
//!
//! - [`request`]: the [`Request`] enum, its op names, the role each op needs, parsing with errors
//!   that name the op and the argument.
//! - [`args`]: the arguments of each op.
//! - [`views`]: the snapshot and what it is made of; [`event`]: sequenced changes.
//! - [`codes`]: every error code a client can see.
//! - [`timeline`]: the planned timeline of the 24/7 schedule and the station clock (`timeline`
//!   messages: derived like progress, not sequenced).
//! - [`schema`]: the JSON Schema of [`ClientMsg`] and [`ServerMsg`].

pub mod args;
pub mod codes;
mod decode;
pub mod event;
pub mod link;
pub mod reduce;
pub mod request;
pub mod schema;
pub mod timeline;
pub mod views;

#[cfg(test)]
mod docs_tests;
#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod tests;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

pub use crate::amcp::{ChannelLayer, TransitionKind};
pub use crate::playout::fill::{EndAction, FillerMode};
pub use crate::playout::model::{Item, Items, Playlist, Transition};
pub use crate::playout::timing::StartMode;
pub use event::{Event, EventKind};
pub use request::Request;
pub use views::{
    Alarm, ClipView, GraphicPhase, LinkView, LiveGraphic, LiveKind, MediaView, Missing,
    PlaylistView, Playout, Progress, ProgressMap, ServerRole, ServerView, Severity, Snapshot,
    Status, TelemetrySource,
};

/// What a connection may do, decided by its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads state and runs every op.
    Operator,
    /// Reads state; of the commands, only `health` and `stats` (see `Request::role_needed`).
    Viewer,
}

impl Role {
    /// Whether this role may run the op named `op`. Decided on the name alone, so a viewer learns
    /// nothing about an op's arguments; an unknown op is an operator's (who then hears it is
    /// unknown).
    pub fn may_run(self, op: &str) -> bool {
        match self {
            Role::Operator => true,
            Role::Viewer => Request::role_needed(op) == Some(Role::Viewer),
        }
    }
}

/// A message from a client.
// Nearly every message is a command: decoded once, moved once into the dispatcher; boxing it
// would only add an allocation per command to save bytes on the rare `resume` and `ping`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Run an op; answered by exactly one `ack` with the same `id`.
    Command {
        /// Any string; the ack echoes it.
        id: String,
        /// `op` and `args`.
        #[serde(flatten)]
        request: Request,
    },
    /// "My state is at `since` of boot `boot_id`": the server sends the events after `since`, or a
    /// `snapshot` when it no longer has them all (or the boot id is not the current one).
    Resume { boot_id: String, since: u64 },
    /// Application-level liveness check for clients that cannot see WebSocket pings; answered by
    /// `pong`.
    Ping,
}

/// A `since` no daemon reaches (2^53 − 1, the largest integer JavaScript holds exactly): a
/// `resume` with it is always answered by a snapshot. A client whose copy no longer fits the events
/// (an event it cannot apply) asks for a fresh state this way; resuming from its own `seq` would
/// only replay the same event (docs/ws-protocol.md, "Applying events").
pub const SNAPSHOT_SINCE: u64 = (1 << 53) - 1;

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message of every connection.
    Hello {
        /// The onair version (`CARGO_PKG_VERSION`).
        server_version: String,
        /// Identifies this run of the daemon; `resume` only works within one boot.
        boot_id: String,
        /// The current `seq` (of the last event).
        seq: u64,
        role: Role,
    },
    /// The full state; it reflects every event up to and including `seq`.
    Snapshot { seq: u64, state: Box<Snapshot> },
    /// One change, with the next `seq` (the engine's event kind is flattened in).
    Event(Box<Event>),
    /// Elapsed/remaining times by playlist id; not sequenced, rate-limited, coalesced.
    Progress { progress: ProgressMap },
    /// Every playlist's planned timeline and the station clock; not sequenced, sent after the
    /// snapshot and when it changes, at most once a second.
    Timeline(Box<timeline::Timelines>),
    /// The answer to a `command`.
    Ack(Ack),
    /// The answer to a client's `ping`.
    Pong,
    /// The daemon is shutting down; the connection closes with code 1001 next.
    Shutdown,
    /// A message that could not be understood and had no command `id` to answer.
    Error(ErrorBody),
}

/// The answer to one command: `ok: true` with the result fields, or `ok: false` with `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    pub id: String,
    pub ok: bool,
    #[serde(flatten)]
    pub result: AckResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// What a successful command returns; which fields are set depends on the op.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AckResult {
    /// The playlist the op addressed or created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    /// The item the op added, changed or played.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `media.rescan`: clips in the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clips: Option<usize>,
    /// The state's `seq` once the op was done; every event up to it was sent before this ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// `health`: the `/health` document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Value>,
    /// `stats`: the counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Value>,
}

/// A machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Stable; match on it. The known codes are listed as examples; new ones may be added.
    #[schemars(schema_with = "codes::schema")]
    pub code: String,
    /// For people.
    pub message: String,
    /// `not_leader` in cluster mode: the daemon that leads the station, as this one last saw it
    /// (absent when none is known). Send the command there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderRef>,
}

/// The daemon that leads a station (cluster mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaderRef {
    /// Its node name (`cluster.node`).
    pub node: String,
    /// Its HTTP/WebSocket address (`host:port`), when it published one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its WebSocket URL (`ws://host:port/ws`), with `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            leader: None,
        }
    }
}

impl From<&ProtocolError> for ErrorBody {
    fn from(e: &ProtocolError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}

impl Ack {
    /// A successful answer.
    pub fn ok(id: impl Into<String>, result: AckResult) -> Self {
        Ack {
            id: id.into(),
            ok: true,
            result,
            error: None,
        }
    }

    /// A failed answer.
    pub fn err(id: impl Into<String>, error: ErrorBody) -> Self {
        Ack {
            id: id.into(),
            ok: false,
            result: AckResult::default(),
            error: Some(error),
        }
    }
}

/// Why a client message or command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    BadJson(String),
    /// Valid JSON, but not a message we know, or a command with missing or ill-typed arguments.
    #[error("{0}")]
    BadRequest(String),
    /// A `command` whose `op` does not exist.
    #[error("unknown op {0:?}")]
    UnknownOp(String),
    /// A `command` the connection's role may not run (the op's name).
    #[error("{0:?} needs the operator role")]
    Forbidden(String),
}

impl ProtocolError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::BadJson(_) => codes::BAD_JSON,
            ProtocolError::BadRequest(_) => codes::BAD_REQUEST,
            ProtocolError::UnknownOp(_) => codes::UNKNOWN_OP,
            ProtocolError::Forbidden(_) => codes::FORBIDDEN,
        }
    }
}

/// A client message that could not be decoded or may not be run, with the command `id` when one
/// could be found, so the error can be answered as an `ack` rather than a bare `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage {
    pub id: Option<String>,
    pub error: ProtocolError,
}

/// A client message before its command is parsed: the role is checked on the op's name first, and
/// the name and arguments are parsed by [`Request::parse`], whose errors name the op and the
/// argument (serde's own would not, and would not tell an unknown op from a bad argument).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Envelope {
    Command {
        id: String,
        op: String,
        #[serde(default)]
        args: Value,
    },
    Resume {
        boot_id: String,
        since: u64,
    },
    Ping,
}

/// Decodes one client text frame from a connection with `role`.
pub fn decode_client(text: &str, role: Role) -> Result<ClientMsg, BadMessage> {
    let value: Value = serde_json::from_str(text).map_err(|e| BadMessage {
        id: None,
        error: ProtocolError::BadJson(e.to_string()),
    })?;
    // Recover the id first: a command with bad fields is still answerable by its id.
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|_| value.get("type").and_then(Value::as_str) == Some("command"))
        .map(str::to_owned);
    let envelope = serde_json::from_value(value).map_err(|e| BadMessage {
        id,
        error: ProtocolError::BadRequest(format!("not a valid client message: {e}")),
    })?;
    Ok(match envelope {
        Envelope::Command { id, op, args } => {
            let request = if role.may_run(&op) {
                Request::parse(&op, args)
            } else {
                Err(ProtocolError::Forbidden(op))
            };
            match request {
                Ok(request) => ClientMsg::Command { id, request },
                Err(error) => {
                    return Err(BadMessage {
                        id: Some(id),
                        error,
                    });
                }
            }
        }
        Envelope::Resume { boot_id, since } => ClientMsg::Resume { boot_id, since },
        Envelope::Ping => ClientMsg::Ping,
    })
}

/// Encodes a message as JSON text.
pub fn encode(msg: &ServerMsg) -> Result<String, serde_json::Error> {
    serde_json::to_string(msg)
}

/// Borrowed twins of the frequent or large server messages, so sessions encode the engine's shared
/// `Arc<Snapshot>`/`Arc<Event>` without cloning them; same wire shape as [`ServerMsg`].
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Borrowed<'a> {
    Snapshot { seq: u64, state: &'a Snapshot },
    Event(&'a Event),
    Progress { progress: &'a ProgressMap },
    Timeline(&'a timeline::Timelines),
}

/// Encodes `{"type":"snapshot","seq":…,"state":…}`.
pub fn encode_snapshot(state: &Snapshot) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Borrowed::Snapshot {
        seq: state.seq,
        state,
    })
}

/// Encodes `{"type":"event","seq":…,"kind":…,…}`.
pub fn encode_event(event: &Event) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Borrowed::Event(event))
}

/// Encodes `{"type":"timeline","planned_ms":…,"station":…,"playlists":{…}}`.
pub fn encode_timeline(timelines: &timeline::Timelines) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Borrowed::Timeline(timelines))
}

/// Encodes `{"type":"progress","progress":{…}}`.
pub fn encode_progress(progress: &ProgressMap) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Borrowed::Progress { progress })
}
