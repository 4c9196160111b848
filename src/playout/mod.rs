//! Playout: playlists and their storage, the engine that runs them on CasparCG, the as-run log and
//! the media library.

pub mod asrun;
pub mod change;
pub mod engine;
pub mod fill;
pub mod graphics;
pub mod graphics_timing;
pub mod items;
pub mod media;
pub mod model;
pub mod replica;
pub mod store;
pub mod text;
pub mod timing;
pub mod watch;
