//! Playout: playlists and their storage, the engine that runs them on CasparCG, the as-run log and
//! the media library.

pub mod engine;
pub mod model;
