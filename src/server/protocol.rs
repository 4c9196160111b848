//! The WebSocket protocol's messages: what clients send ([`ClientMsg`]), what the server sends
//! ([`ServerMsg`]), and how a command's name and arguments become an engine [`Op`].
//!
//! Pure serde, no I/O: the `/ws` sessions ([`super::ws`]) and the console (`onair tui`) share these
//! types, and `docs/ws-protocol.md` documents them for client authors. Every type round-trips
//! through JSON (the console decodes what the daemon encodes), so the wire format is defined once.
//!
//! - [`ops`]: `command` names and arguments → [`Command`] / [`Op`], with typed errors.

mod ops;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::playout::engine::{EngineError, Event, OpResult, ProgressMap, Snapshot};

pub use ops::{Command, OPS, parse_command, parse_op};

/// What a connection may do, decided by its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads state and runs every op.
    Operator,
    /// Reads state; of the commands, only `health` and `stats`.
    Viewer,
}

impl Role {
    /// Whether this role may run the op named `op` (decided on the name alone, so a viewer learns
    /// nothing about an op's arguments).
    pub fn may_run(self, op: &str) -> bool {
        match self {
            Role::Operator => true,
            Role::Viewer => matches!(op, "health" | "stats"),
        }
    }
}

/// A message from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Run an op; answered by exactly one [`ServerMsg::Ack`] with the same `id`.
    Command {
        id: String,
        op: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        args: Value,
    },
    /// "My state is at `since` of boot `boot_id`": the server sends the events after `since`, or a
    /// `snapshot` when it no longer has them all (or the boot id is not the current one).
    Resume { boot_id: String, since: u64 },
    /// Application-level liveness check for clients that cannot see WebSocket pings; answered by
    /// [`ServerMsg::Pong`].
    Ping,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub id: String,
    pub ok: bool,
    #[serde(flatten)]
    pub result: AckResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// What a successful command returns; which fields are set depends on the op.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

impl From<OpResult> for AckResult {
    fn from(r: OpResult) -> Self {
        AckResult {
            playlist: r.playlist,
            item: r.item,
            clips: r.clips,
            ..AckResult::default()
        }
    }
}

/// A machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<&ProtocolError> for ErrorBody {
    fn from(e: &ProtocolError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}

impl From<&EngineError> for ErrorBody {
    fn from(e: &EngineError) -> Self {
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

/// Codes of errors the session itself produces (engine errors bring their own, see
/// [`EngineError::code`]).
pub mod codes {
    /// A viewer tried an op that changes something.
    pub const FORBIDDEN: &str = "forbidden";
    /// Too many of this client's commands are still running.
    pub const BUSY: &str = "busy";
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
}

impl ProtocolError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::BadJson(_) => "bad_json",
            ProtocolError::BadRequest(_) => "bad_request",
            ProtocolError::UnknownOp(_) => "unknown_op",
        }
    }
}

/// A client message that could not be decoded, with the command `id` when one could be found, so the
/// error can be answered as an `ack` rather than a bare `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage {
    pub id: Option<String>,
    pub error: ProtocolError,
}

/// Decodes one client text frame.
pub fn decode_client(text: &str) -> Result<ClientMsg, BadMessage> {
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
    serde_json::from_value(value).map_err(|e| BadMessage {
        id,
        error: ProtocolError::BadRequest(format!("not a valid client message: {e}")),
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

/// Encodes `{"type":"progress","progress":{…}}`.
pub fn encode_progress(progress: &ProgressMap) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Borrowed::Progress { progress })
}
