//! The child process of the crash-consistency test (`onair store-torture --dir D`, hidden): saves
//! ever newer versions of one playlist and prints `ack N` only after version N is durable, so a
//! parent that kills it at random can check that no acknowledged version was ever lost.
//!
//! With `ONAIR_TORTURE_MODE=journal` in its environment it tortures the edit journal instead (see
//! [`run_journal`]): journal appends with several in flight (group commits), a whole-file write now
//! and then, and a forced compaction every few acks, so that kills land in all three.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use crate::amcp::{ChannelLayer, TransitionKind};
use crate::playout::model::{Item, Limits, Playlist, Transition};

use crate::playout::change::Change;

use super::{JournalRecord, PlaylistState, PlayoutStateFile, Store, StoreWriter, Whole};

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
        .map(crate::playout::model::Slot::from)
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

/// Environment variable choosing what [`run`] tortures: `journal` for [`run_journal`], anything
/// else (or nothing) for whole-file saves.
pub const MODE_VAR: &str = "ONAIR_TORTURE_MODE";

/// Runs until killed (or until stdout closes). Prints `ready <revision>` once the store is open,
/// then `ack <revision>` after each durable save.
pub fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var(MODE_VAR).is_ok_and(|m| m == "journal") {
        return run_journal(dir);
    }
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
            left_after: None,
            filler_next: None,
            graphics_start_ns: None,
            logo_off: false,
        },
    );
    state
}

fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Id of the playlist the journal torture edits.
pub const JOURNAL_PLAYLIST: &str = "journal";

/// Items the journal torture playlist always has (one more between an add and its remove).
const JOURNAL_ITEMS: u64 = 40;

/// Journal appends kept in flight, so that several share a group commit.
const JOURNAL_IN_FLIGHT: usize = 8;

/// A compaction is forced after every this many acks (while none is running)...
const COMPACT_EVERY_ACKS: u64 = 16;

/// ...and every this many revisions the playlist is written whole instead of journaled.
const PUT_EVERY: u64 = 53;

fn journal_layer() -> ChannelLayer {
    ChannelLayer {
        channel: 2,
        layer: Some(20),
    }
}

/// Base item `k`, last updated at revision `updated` (`None`: as created).
fn journal_base_item(k: u64, updated: Option<u64>) -> Item {
    Item {
        title: Some(match updated {
            Some(r) => format!("rev {r} item {k}: updated headline for the lower third"),
            None => format!("item {k}: original headline for the lower third"),
        }),
        in_point: updated.map(|r| r % 50),
        frames: Some(1500 + k),
        fps: Some((25, 1)),
        transition: Transition {
            kind: TransitionKind::Mix,
            frames: 12,
            tween: Some("EASEINSINE".to_owned()),
        },
        ..Item::new(format!("b{k}"), format!("NEWS/2024/PKG_{k:05}_FINAL"))
    }
}

fn journal_extra_item(revision: u64) -> Item {
    Item {
        title: Some(format!("added at rev {revision}")),
        ..Item::new(format!("x{revision}"), "AMB/FILLER")
    }
}

/// The edit that takes the journal torture playlist from `revision - 1` to `revision` (`revision`
/// ≥ 2; revision 1 is the playlist as first written). A cycle of four: add an item, remove it,
/// update a base item, change the settings; so every kind of record is journaled and any revision's
/// content has a closed form ([`journal_playlist`]).
pub fn journal_change(revision: u64) -> Change {
    let s = revision - 2;
    let m = s / 4;
    match s % 4 {
        0 => Change::ItemAdded {
            index: (m % (JOURNAL_ITEMS + 1)) as usize,
            item: std::sync::Arc::new(journal_extra_item(revision)),
        },
        1 => Change::ItemRemoved {
            item: format!("x{}", revision - 1),
            index: (m % (JOURNAL_ITEMS + 1)) as usize,
        },
        2 => Change::ItemUpdated {
            index: (m % JOURNAL_ITEMS) as usize,
            item: std::sync::Arc::new(journal_base_item(m % JOURNAL_ITEMS, Some(revision))),
        },
        _ => Change::PlaylistSettings {
            name: "journal torture".to_owned(),
            looping: m % 2 == 1,
            autoplay: true,
            air_date: None,
            filler: None,
            end_action: Default::default(),
            logo: None,
        },
    }
}

/// The journal torture playlist at `revision` (≥ 1): what every edit up to it, applied in order,
/// gives.
pub fn journal_playlist(revision: u64) -> Playlist {
    let mut p = Playlist::new(JOURNAL_PLAYLIST, "journal torture", journal_layer());
    // The last update of base item k was at revision 4m + 4 for the largest m ≡ k (mod items)
    // with 4m + 4 ≤ revision.
    let last_m = (revision >= 4).then(|| (revision - 4) / 4);
    p.items = (0..JOURNAL_ITEMS)
        .map(|k| {
            let updated = last_m
                .filter(|&top| top >= k)
                .map(|top| 4 * (top - (top - k) % JOURNAL_ITEMS) + 4);
            crate::playout::model::Slot::from(journal_base_item(k, updated))
        })
        .collect();
    if revision >= 2 && (revision - 2).is_multiple_of(4) {
        let at = ((revision - 2) / 4 % (JOURNAL_ITEMS + 1)) as usize;
        p.items.insert(at, journal_extra_item(revision).into());
    }
    // Settings changed at revisions 4m + 5.
    p.looping = revision >= 5 && ((revision - 5) / 4) % 2 == 1;
    p.revision = revision;
    p
}

/// Checks that a loaded journal torture playlist is exactly its revision's content.
pub fn check_journal_playlist(p: &Playlist) -> Result<(), String> {
    if p.revision >= 1 && *p == journal_playlist(p.revision) {
        Ok(())
    } else {
        Err(format!(
            "journal playlist at revision {} does not match what the child wrote for it",
            p.revision
        ))
    }
}

/// One durable step in flight: a journal record or a whole-file write.
type Step = (u64, super::SaveAck);

/// The journal torture (`ONAIR_TORTURE_MODE=journal`): runs until killed. Prints `ready
/// <revision>` once the store is open, `ack <revision>` after each durable edit (in order), and
/// `compacting <n>` / `compacted <n>` around each forced compaction. Edits go through
/// [`StoreWriter::append`] with [`JOURNAL_IN_FLIGHT`] unanswered (one `fdatasync` per group), every
/// [`PUT_EVERY`]th revision through [`StoreWriter::whole`] (a whole-file write in order with the
/// appends), and a compaction ([`StoreWriter::compact`]) runs concurrently with them every
/// [`COMPACT_EVERY_ACKS`] acks.
pub fn run_journal(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (store, report) = Store::open(dir, Limits::default(), journal_layer())?;
        let start = report
            .playlists
            .iter()
            .find(|p| p.id == JOURNAL_PLAYLIST)
            .map_or(0, |p| p.revision);
        let writer = StoreWriter::spawn(store);
        say(&format!("ready {start}"))?;
        let mut next = start + 1;
        if start == 0 {
            writer
                .whole(Whole::Put(journal_playlist(1)), 0)
                .await?
                .await?;
            say("ack 1")?;
            next = 2;
        }
        let mut queue: VecDeque<Step> = VecDeque::new();
        let mut compaction: Option<tokio::task::JoinHandle<std::io::Result<()>>> = None;
        let mut compactions = 0u64;
        let mut acks = 0u64;
        loop {
            while queue.len() < JOURNAL_IN_FLIGHT {
                let ack = if next % PUT_EVERY == 0 {
                    writer.whole(Whole::Put(journal_playlist(next)), 0).await?
                } else {
                    let record = JournalRecord {
                        playlist: JOURNAL_PLAYLIST.to_owned(),
                        revision: next,
                        change: journal_change(next),
                    };
                    writer.append(record, 0).await?
                };
                queue.push_back((next, ack));
                next += 1;
            }
            let Some((revision, ack)) = queue.pop_front() else {
                continue;
            };
            ack.await?;
            say(&format!("ack {revision}"))?;
            acks += 1;
            if let Some(done) = compaction.take_if(|c| c.is_finished()) {
                done.await??;
            }
            if acks.is_multiple_of(COMPACT_EVERY_ACKS) && compaction.is_none() {
                compactions += 1;
                let (writer, n) = (writer.clone(), compactions);
                compaction = Some(tokio::spawn(async move {
                    say(&format!("compacting {n}"))?;
                    writer.compact().await.map_err(std::io::Error::other)?;
                    say(&format!("compacted {n}"))
                }));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_playlist_of_a_revision_is_every_change_up_to_it_applied_in_order() {
        let limits = Limits::default();
        let mut p = journal_playlist(1);
        assert!(check_journal_playlist(&p).is_ok());
        // Past several wraps of the base items and the insert positions.
        for revision in 2..=(JOURNAL_ITEMS * 4 * 3 + 7) {
            p.apply(&journal_change(revision), revision, &limits)
                .unwrap_or_else(|e| panic!("revision {revision}: {e}"));
            assert_eq!(p, journal_playlist(revision), "revision {revision}");
        }
        let mut wrong = p.clone();
        wrong.revision += 1;
        assert!(check_journal_playlist(&wrong).is_err());
    }
}
