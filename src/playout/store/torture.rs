//! The child process of the crash-consistency test (`onair store-torture --dir D`, hidden): saves
//! ever newer versions of one playlist and prints `ack N` only after version N is durable, so a
//! parent that kills it at random can check that no acknowledged version was ever lost.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use crate::amcp::{ChannelLayer, TransitionKind};
use crate::playout::model::{Item, Limits, Playlist, Transition};

use super::{PlaylistState, PlayoutStateFile, Store, StoreWriter};

/// Id of the playlist the torture test rewrites.
pub const TORTURE_PLAYLIST: &str = "torture";

/// Saves kept in flight at once, so bursts coalesce as they would under real load.
const IN_FLIGHT: usize = 4;

/// Version `revision` of the torture playlist: its size and every item's title derive from the
/// revision, so a file that mixed two versions would be detected.
pub fn torture_playlist(revision: u64) -> Playlist {
    let mut p = Playlist::new(
        TORTURE_PLAYLIST,
        "torture",
        ChannelLayer {
            channel: 1,
            layer: Some(10),
        },
    );
    let items = 1 + revision % 97;
    p.items = (0..items)
        .map(|k| Item {
            title: Some(format!("rev {revision} item {k}")),
            transition: Transition {
                kind: TransitionKind::Mix,
                frames: 12,
                tween: Some("LINEAR".to_owned()),
            },
            frames: Some(1500 + k),
            fps: Some((25, 1)),
            ..Item::new(format!("r{revision}k{k}"), format!("AMB/CLIP_{k:04}"))
        })
        .map(std::sync::Arc::new)
        .collect();
    p.revision = revision;
    p
}

/// Checks that a loaded torture playlist is exactly one whole version.
pub fn check_torture_playlist(p: &Playlist) -> Result<(), String> {
    let expected = torture_playlist(p.revision);
    if *p == expected {
        Ok(())
    } else {
        Err(format!(
            "revision {} does not match what the child wrote for it",
            p.revision
        ))
    }
}

/// Runs until killed (or until stdout closes). Prints `ready <revision>` once the store is open,
/// then `ack <revision>` after each durable save.
pub fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let layer = ChannelLayer {
            channel: 1,
            layer: Some(10),
        };
        let (store, report) = Store::open(dir, Limits::default(), layer)?;
        let start = report
            .playlists
            .iter()
            .find(|p| p.id == TORTURE_PLAYLIST)
            .map_or(0, |p| p.revision);
        let writer = StoreWriter::spawn(store);
        say(&format!("ready {start}"))?;
        let mut queue = VecDeque::new();
        let mut next = start + 1;
        loop {
            while queue.len() < IN_FLIGHT {
                queue.push_back((next, writer.submit(torture_playlist(next)).await?));
                next += 1;
            }
            let Some((revision, ack)) = queue.pop_front() else {
                continue;
            };
            ack.await?;
            say(&format!("ack {revision}"))?;
            if revision % 10 == 0 {
                writer.save_state(torture_state(revision)).await?;
            }
        }
    })
}

fn torture_state(revision: u64) -> PlayoutStateFile {
    let mut state = PlayoutStateFile {
        selected: Some(TORTURE_PLAYLIST.to_owned()),
        ..PlayoutStateFile::default()
    };
    state.playlists.insert(
        TORTURE_PLAYLIST.to_owned(),
        PlaylistState {
            cursor: Some(format!("r{revision}k0")),
            on_air: None,
            on_air_since: Some(revision),
        },
    );
    state
}

fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
