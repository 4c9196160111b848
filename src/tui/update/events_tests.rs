//! A property of the console's reducer: whatever the daemon does (items added anywhere, changed,
//! moved, removed; playlist settings; playout; missing clips; whole playlists sent, created and
//! deleted), a console that applies the resulting events through `update` holds the daemon's
//! playlists afterwards, keeps its cursor on the same item while that item exists, and names items
//! in its log rather than showing ids.
//!
//! The daemon's side is modelled here with the model's own reducer (`Playlist::apply`) and the
//! event constructor the engine uses (`EventKind::edit`); the `missing` marks and the playout are
//! kept by this test directly, so the console's bookkeeping of them is checked, not copied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;

use super::{Effect, update};
use crate::playout::change::Change;
use crate::playout::model::Limits;
use crate::protocol::{
    ChannelLayer, Event, EventKind, Item, Playlist, PlaylistView, Playout, ServerMsg, Status,
};
use crate::tui::client::NetEvent;
use crate::tui::fixtures;
use crate::tui::layout;
use crate::tui::message::{Message, Move};
use crate::tui::model::Model;

const CLIPS: [&str; 4] = ["AMB", "CLIP1", "SHORT", "NOT_IN_LIBRARY"];
const TITLES: [&str; 3] = ["Headlines", "Weather", "Sport"];
const NAMES: [&str; 3] = ["Main", "News", "Late show"];

/// One thing that happens: the daemon changes a playlist (picked by `pl` among the current ones),
/// or the operator moves the cursor.
#[derive(Debug, Clone)]
enum Op {
    Add {
        pl: Index,
        at: Index,
        clip: usize,
        title: Option<usize>,
        missing: bool,
    },
    /// `stale`: the event's position hint is off by one.
    Update {
        pl: Index,
        which: Index,
        clip: usize,
        title: Option<usize>,
        missing: bool,
        stale: bool,
    },
    Move {
        pl: Index,
        which: Index,
        to: Index,
        stale: bool,
    },
    Remove {
        pl: Index,
        which: Index,
        stale: bool,
    },
    Settings {
        pl: Index,
        name: usize,
        looping: bool,
        autoplay: bool,
    },
    Playout {
        pl: Index,
        on_air: Option<Index>,
        next: Option<Index>,
        status: Status,
    },
    Missing {
        pl: Index,
        which: Vec<Index>,
    },
    /// The whole playlist, as the engine sends it today for every change.
    Whole {
        pl: Index,
    },
    Create {
        items: usize,
    },
    Delete {
        pl: Index,
    },
    Select {
        pl: Index,
    },
    Cursor(Move),
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Stopped),
        Just(Status::Playing),
        Just(Status::Paused),
        Just(Status::Held),
    ]
}

fn cursor() -> impl Strategy<Value = Move> {
    prop_oneof![
        Just(Move::Up),
        Just(Move::Down),
        Just(Move::PageUp),
        Just(Move::PageDown),
        Just(Move::Home),
        Just(Move::End),
    ]
}

/// A stale position hint one time in eight.
fn stale() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.125)
}

fn op() -> impl Strategy<Value = Op> {
    let title = prop::option::of(0..TITLES.len());
    prop_oneof![
        6 => (any::<Index>(), any::<Index>(), 0..CLIPS.len(), title.clone(), any::<bool>())
            .prop_map(|(pl, at, clip, title, missing)| Op::Add { pl, at, clip, title, missing }),
        3 => (any::<Index>(), any::<Index>(), 0..CLIPS.len(), title, any::<bool>(), stale())
            .prop_map(|(pl, which, clip, title, missing, stale)| Op::Update { pl, which, clip, title, missing, stale }),
        3 => (any::<Index>(), any::<Index>(), any::<Index>(), stale())
            .prop_map(|(pl, which, to, stale)| Op::Move { pl, which, to, stale }),
        3 => (any::<Index>(), any::<Index>(), stale()).prop_map(|(pl, which, stale)| Op::Remove { pl, which, stale }),
        1 => (any::<Index>(), 0..NAMES.len(), any::<bool>(), any::<bool>())
            .prop_map(|(pl, name, looping, autoplay)| Op::Settings { pl, name, looping, autoplay }),
        2 => (any::<Index>(), prop::option::of(any::<Index>()), prop::option::of(any::<Index>()), status())
            .prop_map(|(pl, on_air, next, status)| Op::Playout { pl, on_air, next, status }),
        1 => (any::<Index>(), prop::collection::vec(any::<Index>(), 0..4))
            .prop_map(|(pl, which)| Op::Missing { pl, which }),
        1 => any::<Index>().prop_map(|pl| Op::Whole { pl }),
        1 => (0usize..4).prop_map(|items| Op::Create { items }),
        1 => any::<Index>().prop_map(|pl| Op::Delete { pl }),
        1 => any::<Index>().prop_map(|pl| Op::Select { pl }),
        3 => cursor().prop_map(Op::Cursor),
    ]
}

/// The daemon's state as this test keeps it: playlists by id (the snapshot lists them by id), each
/// with its own set of missing items.
struct Daemon {
    seq: u64,
    playlists: BTreeMap<String, (Playlist, Playout, BTreeSet<String>)>,
    next_id: u64,
    next_playlist: u64,
}

impl Daemon {
    fn new(snapshot: &crate::protocol::Snapshot) -> Daemon {
        Daemon {
            seq: snapshot.seq,
            playlists: snapshot
                .playlists
                .iter()
                .map(|p| {
                    let missing = p.missing.iter().cloned().collect();
                    (
                        p.playlist.id.clone(),
                        (p.playlist.clone(), p.playout.clone(), missing),
                    )
                })
                .collect(),
            next_id: 0xa000,
            next_playlist: 0,
        }
    }

    fn view(&self, id: &str) -> PlaylistView {
        let (playlist, playout, missing) = &self.playlists[id];
        PlaylistView {
            playlist: playlist.clone(),
            playout: playout.clone(),
            missing: missing.iter().cloned().collect(),
        }
    }

    fn views(&self) -> Vec<PlaylistView> {
        self.playlists.keys().map(|id| self.view(id)).collect()
    }

    /// The id of the playlist `pl` picks, if there is any playlist.
    fn pick(&self, pl: &Index) -> Option<String> {
        (!self.playlists.is_empty())
            .then(|| self.playlists.keys().nth(pl.index(self.playlists.len())))
            .flatten()
            .cloned()
    }

    /// A fresh id of the generated form (`i` + 16 hex digits), which the log must never show.
    fn item_id(&mut self) -> String {
        self.next_id += 1;
        format!("i{:016x}", self.next_id)
    }

    fn item(&mut self, id: Option<String>, clip: usize, title: Option<usize>) -> Arc<Item> {
        let id = id.unwrap_or_else(|| self.item_id());
        let mut item = Item::new(id, CLIPS[clip]);
        item.title = title.map(|t| TITLES[t].to_owned());
        item.frames = Some(250 * (clip as u64 + 1));
        item.fps = Some((50, 1));
        Arc::new(item)
    }

    /// Applies `change` as the engine does and returns its event.
    fn edit(&mut self, id: &str, change: Change, missing: bool) -> EventKind {
        let (playlist, _, marks) = self.playlists.get_mut(id).expect("picked");
        let revision = playlist.revision + 1;
        playlist
            .apply(&change, revision, &Limits::default())
            .expect("the test only makes valid edits");
        match &change {
            Change::ItemAdded { item, .. } | Change::ItemUpdated { item, .. } => {
                if missing {
                    marks.insert(item.id.clone());
                } else {
                    marks.remove(&item.id);
                }
            }
            Change::ItemRemoved { item, .. } => {
                marks.remove(item);
            }
            Change::ItemMoved { .. } | Change::PlaylistSettings { .. } => {}
        }
        EventKind::edit(id, revision, &change, missing)
    }

    /// What the daemon does for `op`, as the event it sends (none for a cursor move or an edit that
    /// does not apply to the playlist as it is, such as moving in an empty one).
    fn run(&mut self, op: &Op) -> Option<EventKind> {
        let ids = |p: &Playlist| p.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        let nth = |p: &Playlist, which: &Index| {
            (!p.items.is_empty()).then(|| p.items[which.index(p.items.len())].id.clone())
        };
        // The item `which` picks and its position, which item events carry as a hint; now and then
        // a stale hint (one off), which must not matter: the item is found by id then.
        let at = |p: &Playlist, which: &Index, stale: bool| {
            let len = p.items.len();
            (len > 0).then(|| {
                let at = which.index(len);
                let hint = if stale { (at + 1) % (len + 1) } else { at };
                (p.items[at].id.clone(), hint)
            })
        };
        Some(match op {
            Op::Add {
                pl,
                at,
                clip,
                title,
                missing,
            } => {
                let id = self.pick(pl)?;
                let len = self.playlists[&id].0.items.len();
                let item = self.item(None, *clip, *title);
                let index = at.index(len + 1);
                self.edit(&id, Change::ItemAdded { index, item }, *missing)
            }
            Op::Update {
                pl,
                which,
                clip,
                title,
                missing,
                stale,
            } => {
                let id = self.pick(pl)?;
                let (target, index) = at(&self.playlists[&id].0, which, *stale)?;
                let item = self.item(Some(target), *clip, *title);
                self.edit(&id, Change::ItemUpdated { index, item }, *missing)
            }
            Op::Move {
                pl,
                which,
                to,
                stale,
            } => {
                let id = self.pick(pl)?;
                let p = &self.playlists[&id].0;
                let (item, from) = at(p, which, *stale)?;
                let index = to.index(p.items.len());
                self.edit(&id, Change::ItemMoved { item, from, index }, false)
            }
            Op::Remove { pl, which, stale } => {
                let id = self.pick(pl)?;
                let (item, index) = at(&self.playlists[&id].0, which, *stale)?;
                self.edit(&id, Change::ItemRemoved { item, index }, false)
            }
            Op::Settings {
                pl,
                name,
                looping,
                autoplay,
            } => {
                let id = self.pick(pl)?;
                let change = Change::PlaylistSettings {
                    name: NAMES[*name].to_owned(),
                    looping: *looping,
                    autoplay: *autoplay,
                    air_date: None,
                    filler: None,
                    end_action: Default::default(),
                    logo: None,
                };
                self.edit(&id, change, false)
            }
            Op::Playout {
                pl,
                on_air,
                next,
                status,
            } => {
                let id = self.pick(pl)?;
                let (p, playout, _) = self.playlists.get_mut(&id).expect("picked");
                let on_air = on_air.as_ref().and_then(|w| nth(p, w));
                *playout = Playout {
                    status: *status,
                    on_air_since_ms: on_air.is_some().then_some(fixtures::WALL_MS),
                    on_air,
                    cued: None,
                    armed_auto: false,
                    next: next.as_ref().and_then(|w| nth(p, w)),
                    left_after: None,
                };
                EventKind::Playout {
                    playlist: id,
                    playout: playout.clone(),
                }
            }
            Op::Missing { pl, which } => {
                let id = self.pick(pl)?;
                let (p, _, marks) = self.playlists.get_mut(&id).expect("picked");
                let all = ids(p);
                *marks = which
                    .iter()
                    .filter(|_| !all.is_empty())
                    .map(|w| all[w.index(all.len())].clone())
                    .collect();
                EventKind::Missing {
                    playlist: id,
                    missing: marks.iter().cloned().collect(),
                }
            }
            Op::Whole { pl } => {
                let id = self.pick(pl)?;
                EventKind::Playlist {
                    playlist: Box::new(self.view(&id)),
                }
            }
            Op::Create { items } => {
                self.next_playlist += 1;
                let id = format!("p{}", self.next_playlist);
                let mut playlist = Playlist::new(
                    id.clone(),
                    format!("Extra {}", self.next_playlist),
                    ChannelLayer {
                        channel: 2,
                        layer: Some(10),
                    },
                );
                playlist.items = (0..*items)
                    .map(|k| self.item(None, k % 3, None).into())
                    .collect();
                let fresh = (playlist, Playout::default(), BTreeSet::new());
                self.playlists.insert(id.clone(), fresh);
                EventKind::Playlist {
                    playlist: Box::new(self.view(&id)),
                }
            }
            Op::Delete { pl } => {
                let id = self.pick(pl)?;
                self.playlists.remove(&id);
                EventKind::PlaylistRemoved { playlist: id }
            }
            Op::Select { pl } => EventKind::Selected {
                playlist: self.pick(pl)?,
            },
            Op::Cursor(_) => return None,
        })
    }
}

/// The viewed playlist's id and the item under the cursor.
fn cursor_on(m: &Model) -> (Option<String>, Option<String>) {
    (
        m.playlist().map(|p| p.playlist.id.clone()),
        m.selected_id.clone(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_console_follows_the_daemon_through_any_edits(
        n in 0usize..12,
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut m = fixtures::live_model(80, 24, n);
        let mut daemon = Daemon::new(&m.state);
        let rows = layout::rundown_rows(m.area(), m.status_rows());
        for op in &ops {
            if let Op::Cursor(step) = op {
                update(&mut m, Message::Move(*step));
                continue;
            }
            let Some(kind) = daemon.run(op) else { continue };
            daemon.seq += 1;
            let (viewed, selected) = cursor_on(&m);
            let msg = ServerMsg::Event(Box::new(Event { seq: daemon.seq, kind }));
            let effects: Vec<Effect> = update(&mut m, Message::Net(NetEvent::Server(Box::new(msg))));
            prop_assert!(effects.is_empty(), "{op:?} asked the daemon for {effects:?}");
            // The cursor stays on its item while the item exists in the playlist shown.
            let still = m.playlist().is_some_and(|p| {
                Some(&p.playlist.id) == viewed.as_ref()
                    && selected.as_deref().is_some_and(|s| p.playlist.item(s).is_some())
            });
            if still {
                prop_assert_eq!(&m.selected_id, &selected, "after {:?}", op);
            }
            let len = m.items().len();
            if len > 0 {
                let window = m.rundown.window(len, rows);
                prop_assert!(window.contains(&m.rundown.selected), "cursor off screen after {op:?}");
                prop_assert_eq!(
                    m.selected_id.as_deref(),
                    m.items().get(m.rundown.selected).map(|i| i.id.as_str())
                );
            }
        }
        prop_assert!(m.is_live());
        prop_assert_eq!(m.seq, daemon.seq);
        prop_assert_eq!(&m.state.playlists, &daemon.views());
        for line in &m.log.lines {
            prop_assert!(
                !line.text.contains("(removed item)") && !line.text.contains("i000000000000a"),
                "the log shows an id: {}", line.text
            );
        }
    }
}
