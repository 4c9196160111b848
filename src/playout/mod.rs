//! Playout: playlists and their storage, the engine that runs them on CasparCG, the as-run log and
//! the media library.

pub mod asrun;
pub mod engine;
pub mod media;
#[allow(clippy::collapsible_if, clippy::manual_is_multiple_of)] // see the note in lib.rs
pub mod model;
pub mod store;
pub mod watch;
