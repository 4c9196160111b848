//! Every error `code` a client can see, in an `ack`'s `error` or an `error` message.
//!
//! Codes are stable strings that clients match on. The session's own are produced by
//! [`super::ProtocolError`] and the server; the engine's come from `EngineError::code` (and
//! `PlaylistError::code`), and a test checks that each of those is listed here. The tables in
//! `docs/ws-protocol.md` ("Errors") are checked against [`SESSION`] and [`ENGINE`] too.

use schemars::{Schema, SchemaGenerator, json_schema};

/// The frame is not JSON.
pub const BAD_JSON: &str = "bad_json";
/// Not a known message type, a field missing or ill-typed, an unknown argument, a binary frame.
pub const BAD_REQUEST: &str = "bad_request";
/// No such op.
pub const UNKNOWN_OP: &str = "unknown_op";
/// A viewer tried an op only operators may run.
pub const FORBIDDEN: &str = "forbidden";
/// Too many of this client's commands are still waiting.
pub const BUSY: &str = "busy";
/// The daemon (or its engine) is stopping.
pub const SHUTTING_DOWN: &str = "shutting_down";

/// No playlist with that id (or no playlist selected).
pub const PLAYLIST_NOT_FOUND: &str = "playlist_not_found";
/// No item with that id.
pub const ITEM_NOT_FOUND: &str = "item_not_found";
/// `index` beyond the end.
pub const INDEX_OUT_OF_RANGE: &str = "index_out_of_range";
/// The playlist is full.
pub const TOO_MANY_ITEMS: &str = "too_many_items";
/// There are as many playlists as allowed.
pub const TOO_MANY_PLAYLISTS: &str = "too_many_playlists";
/// A playlist with that id exists.
pub const ALREADY_EXISTS: &str = "already_exists";
/// A value failed validation; the message names the field.
pub const INVALID: &str = "invalid";
/// CasparCG is not connected; nothing was sent.
pub const CASPAR_NOT_CONNECTED: &str = "caspar_not_connected";
/// CasparCG answered 404 for the clip.
pub const CLIP_NOT_FOUND: &str = "clip_not_found";
/// Another CasparCG error or a timeout.
pub const CASPAR_ERROR: &str = "caspar_error";
/// The change could not be saved (and was not applied).
pub const STORE_ERROR: &str = "store_error";
/// `playout.cue`: the rundown has no next item.
pub const NOTHING_TO_CUE: &str = "nothing_to_cue";
/// `playout.take`/`playout.next`: the rundown has no next item.
pub const NOTHING_TO_TAKE: &str = "nothing_to_take";
/// `playout.skip`: the rundown has no next item.
pub const NOTHING_TO_SKIP: &str = "nothing_to_skip";
/// `playout.previous` on the first item (without loop).
pub const NO_PREVIOUS_ITEM: &str = "no_previous_item";
/// `playlist.delete` of a playlist that is on air.
pub const PLAYLIST_ON_AIR: &str = "playlist_on_air";
/// `item.remove` of the item on air.
pub const ITEM_ON_AIR: &str = "item_on_air";
/// `media.rescan` did not get a media list.
pub const MEDIA_RESCAN_FAILED: &str = "media_rescan_failed";
/// Cluster mode: another daemon leads the station; this one sends no playout command.
pub const NOT_LEADER: &str = "not_leader";
/// A `graphics.*` op that cannot be done (no such event, no template on the layer…).
pub const GRAPHICS_ERROR: &str = "graphics_error";

/// Codes the session produces itself, in the order of the docs' table.
pub const SESSION: &[&str] = &[
    BAD_JSON,
    BAD_REQUEST,
    UNKNOWN_OP,
    FORBIDDEN,
    BUSY,
    SHUTTING_DOWN,
];

/// Codes of the engine's errors, in the order of the docs' table.
pub const ENGINE: &[&str] = &[
    PLAYLIST_NOT_FOUND,
    ITEM_NOT_FOUND,
    INDEX_OUT_OF_RANGE,
    TOO_MANY_ITEMS,
    TOO_MANY_PLAYLISTS,
    ALREADY_EXISTS,
    INVALID,
    CASPAR_NOT_CONNECTED,
    CLIP_NOT_FOUND,
    CASPAR_ERROR,
    STORE_ERROR,
    NOTHING_TO_CUE,
    NOTHING_TO_TAKE,
    NOTHING_TO_SKIP,
    NO_PREVIOUS_ITEM,
    PLAYLIST_ON_AIR,
    ITEM_ON_AIR,
    MEDIA_RESCAN_FAILED,
    NOT_LEADER,
    GRAPHICS_ERROR,
    SHUTTING_DOWN,
];

/// The schema of [`super::ErrorBody::code`]: any string (new codes may come), with the known ones
/// as examples for client authors.
pub(super) fn schema(_: &mut SchemaGenerator) -> Schema {
    let mut known: Vec<&str> = SESSION.to_vec();
    known.extend(ENGINE.iter().filter(|c| !SESSION.contains(c)));
    json_schema!({ "type": "string", "examples": known })
}
