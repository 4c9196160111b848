//! Helpers shared by the store tests: realistic playlists and directory probes.

#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};

use onair::amcp::{ChannelLayer, TransitionKind};
use onair::playout::model::{Item, Limits, Playlist, Transition};
use onair::playout::store::{LoadReport, Store};

pub fn layer() -> ChannelLayer {
    ChannelLayer {
        channel: 1,
        layer: Some(10),
    }
}

pub fn open(dir: &Path) -> (Store, LoadReport) {
    Store::open(dir, Limits::default(), layer()).expect("open store")
}

/// A playlist with `items` realistic items (clip, title, transition) at `revision`.
pub fn sample(id: &str, items: usize, revision: u64) -> Playlist {
    let mut p = Playlist::new(id, format!("Playlist {id}"), layer());
    p.items = (0..items)
        .map(|k| Item {
            title: Some(format!("Story {k} of revision {revision}")),
            frames: Some(1500),
            fps: Some((25, 1)),
            transition: Transition {
                kind: TransitionKind::Mix,
                frames: 25,
                tween: Some("LINEAR".to_owned()),
            },
            ..Item::new(format!("i{k:05}"), format!("NEWS/CLIP_{k:05}"))
        })
        .map(onair::playout::model::Slot::from)
        .collect();
    p.revision = revision;
    p
}

/// Files anywhere under `dir` whose name starts with `prefix`.
pub fn files_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with(prefix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
