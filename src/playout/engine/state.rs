//! What the engine publishes: the full snapshot, sequenced events, and unsequenced progress.
//!
//! These are wire types, defined with the rest of the WebSocket protocol in [`crate::protocol`];
//! they are re-exported here so the engine names them as it always has. Every state change is an
//! [`Event`] with the next `seq`; a snapshot carries the `seq` of the last event it contains, so a
//! client can join the event stream without a gap. Progress is ephemeral and published on its own
//! channel.

pub use crate::protocol::{
    Alarm, ClipView, Event, EventKind, LinkView, MediaView, Missing, PlaylistView, Playout,
    Progress, ProgressMap, ServerRole, ServerView, Severity, Snapshot, Status, TelemetrySource,
};
