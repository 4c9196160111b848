//! The state as clients see it: the [`Snapshot`] and its parts (playlists with their playout, the
//! CasparCG link, the media library, alarms) and the unsequenced [`Progress`].
//!
//! The engine builds these and publishes them; a snapshot carries the `seq` of the last event it
//! contains, so a client can join the event stream ([`super::event`]) without a gap. Progress
//! (elapsed and remaining time, many times a second) is not part of that stream: it is ephemeral,
//! may be coalesced for slow clients, and is published on its own channel.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Playlist;

/// Whether a playlist is playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing of this playlist is on air.
    #[default]
    Stopped,
    Playing,
    Paused,
    /// The server does not show what the engine expects (after a restart with recovery `hold`, or an
    /// outside change); waiting for the operator.
    Held,
}

/// Playout state of one playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Playout {
    pub status: Status,
    /// The item on air.
    pub on_air: Option<String>,
    /// Wall-clock start of the on-air item, milliseconds since the Unix epoch.
    pub on_air_since_ms: Option<u64>,
    /// The item loaded in the background (cued or armed for autoplay).
    pub cued: Option<String>,
    /// Whether the cued item will start by itself when the on-air item ends (`LOADBG … AUTO`).
    pub armed_auto: bool,
    /// The item the next `take` plays when nothing is cued.
    pub next: Option<String>,
    /// Set when another playlist on the layer (the filler, the next day's rundown) took over:
    /// the item that was on air then. The schedule resumes after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_after: Option<String>,
}

/// Elapsed and remaining time of a playlist's on-air item and rundown, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Progress {
    pub elapsed: f64,
    pub remaining: f64,
    pub duration: f64,
    /// Remaining time of the whole rundown from now (on-air remainder plus every later item).
    pub rundown_remaining: f64,
    /// False when telemetry stopped arriving: the numbers are not live.
    pub fresh: bool,
}

/// Progress of every playing playlist, by playlist id.
pub type ProgressMap = BTreeMap<String, Progress>;

/// Ids of items whose clip is missing, sorted by id.
pub type Missing = imbl::Vector<String>;

/// A playlist as clients see it: the data, its playout, and which items' clips are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlaylistView {
    #[serde(flatten)]
    pub playlist: Playlist,
    pub playout: Playout,
    /// Ids of items whose clip the media library does not have, sorted.
    // Persistent, like the items: a copy for each snapshot is O(1) however many clips are missing.
    #[schemars(with = "Vec<String>")]
    pub missing: Missing,
}

/// The AMCP link as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct LinkView {
    pub connected: bool,
    pub server_version: Option<String>,
    /// Human description of the current state ("connected", "connecting (attempt 3)", "down: …").
    pub state: String,
    pub telemetry: TelemetrySource,
    /// Each CasparCG server of the station (the main, and its backup when one is configured),
    /// with what it plays compared with the other side.
    #[serde(default)]
    pub servers: Vec<ServerView>,
}

/// Which side of a main/backup pair a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    #[default]
    Main,
    Backup,
}

/// One CasparCG server as the operator sees it (docs/operations.md, "Main and backup servers").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct ServerView {
    /// The server's name in the configuration (`main` for the `[caspar]` section).
    pub name: String,
    pub role: ServerRole,
    /// The main server of its group: its own name on a main, its main's on a backup. Playlists
    /// name the group they play on in `server`.
    #[serde(default)]
    pub group: String,
    /// `HOST:PORT` of its AMCP port.
    pub address: String,
    pub connected: bool,
    /// Human description of the link ("connected", "connecting (attempt 3)", "down: …").
    pub state: String,
    pub server_version: Option<String>,
    /// Whether the engine follows this server's telemetry (the main while it is up, else the backup).
    pub lead: bool,
    /// Whether it plays what the station plays: connected, brought to the other side's state after
    /// a reconnect, and no playout command failed on it since.
    pub in_step: bool,
    /// Why it is not in step ("being brought to the main's state", "LOADBG failed: …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// On a backup: its position minus the main's, in frames, on the layer where they differ most
    /// (from both sides' telemetry); `None` while it cannot be measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_frames: Option<i64>,
    /// How long the last catch-up after a reconnect took, in milliseconds (from connected to in
    /// step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync_ms: Option<u64>,
    /// Clips the rundowns use that this server's media library lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Where position information comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TelemetrySource {
    #[default]
    None,
    Osc,
    InfoPolling,
}

/// A clip of the media library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClipView {
    pub name: String,
    pub kind: String,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
}

/// The media library as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct MediaView {
    pub clips: Vec<ClipView>,
    /// Unix milliseconds of the last successful CLS.
    pub updated_ms: Option<u64>,
    /// Why the last rescan failed, if it did.
    pub error: Option<String>,
}

/// How serious an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

/// A condition an operator must know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Alarm {
    pub id: u64,
    pub severity: Severity,
    /// Stable kind for filtering (`store`, `caspar`, `playout`, `media`, `reconcile`).
    pub kind: String,
    pub message: String,
    pub raised_ms: u64,
}

/// The full state, as sent on connect and after a resync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Snapshot {
    /// The `seq` of the last event reflected here.
    pub seq: u64,
    pub selected: Option<String>,
    pub playlists: Vec<PlaylistView>,
    pub link: LinkView,
    /// Shared: the library can hold thousands of clips and the snapshot is rebuilt at every event.
    pub media: std::sync::Arc<MediaView>,
    pub alarms: Vec<Alarm>,
    pub progress: ProgressMap,
    /// What onair has on each graphics layer, by server, channel and layer (docs/graphics.md).
    #[serde(default)]
    pub graphics: Vec<LiveGraphic>,
}

/// A graphic on a layer, put there by onair (or found there on reconciling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveGraphic {
    /// The server (group) it is on; left out with one server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub channel: u16,
    pub layer: i32,
    pub playlist: String,
    /// The item whose event it is; left out for the logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The event's id, or `logo`.
    pub name: String,
    /// The still's clip or the template's name.
    pub label: String,
    /// `still` or `template`: only a template takes `graphics.update` and `graphics.invoke`.
    pub kind: LiveKind,
    /// A template's data as it is on air (the last `graphics.update` CasparCG took); left out
    /// for a still and a template without data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<crate::playout::graphics::TemplateData>,
    pub phase: GraphicPhase,
    /// Fired by an operator by hand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}

/// What a live graphic is (mixer changes are not listed: they show nothing of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveKind {
    Still,
    Template,
}

/// Where a graphic is: loaded ahead (not visible), on air, or a template playing its
/// out-animation before it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphicPhase {
    Prepared,
    On,
    Stopped,
}
