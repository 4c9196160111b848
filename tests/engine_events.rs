//! Model-based check of the item-level events (issue #14): for any sequence of edits, applying
//! the event stream to the first snapshot with the clients' reducer (`protocol::reduce`) gives
//! exactly the engine's fresh snapshot, and the store reopened after the engine stops holds
//! exactly the published playlists (memory equals disk). Runs the real engine, journal and
//! simulator; failed ops are part of the space and must leave no event behind.

use std::sync::Arc;
use std::time::Duration;

use onair::caspar::CasparHandle;
use onair::config::CasparConfig;
use onair::playout::engine::{self, EngineDeps, NewItem, Op, Snapshot};
use onair::playout::model::{ItemFields, Limits};
use onair::playout::store::{Store, StoreWriter};
use onair::protocol::{Event, reduce};
use onair::sim::{Sim, SimConfig};
use proptest::prelude::*;
use tokio::sync::broadcast::error::TryRecvError;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
enum Action {
    Add { clip: u8, index: Option<u8> },
    Update { pick: u8, title: Option<u8> },
    Move { pick: u8, to: u8 },
    Remove { pick: u8 },
    Rename { name: u8 },
    Loop(bool),
    Autoplay(bool),
    Create,
    Delete { pick: u8 },
    Select { pick: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0u8..4, proptest::option::of(0u8..12)).prop_map(|(clip, index)| Action::Add { clip, index }),
        3 => (any::<u8>(), proptest::option::of(0u8..3)).prop_map(|(pick, title)| Action::Update { pick, title }),
        2 => (any::<u8>(), 0u8..12).prop_map(|(pick, to)| Action::Move { pick, to }),
        2 => any::<u8>().prop_map(|pick| Action::Remove { pick }),
        1 => (0u8..3).prop_map(|name| Action::Rename { name }),
        1 => any::<bool>().prop_map(Action::Loop),
        1 => any::<bool>().prop_map(Action::Autoplay),
        1 => Just(Action::Create),
        1 => any::<u8>().prop_map(|pick| Action::Delete { pick }),
        1 => any::<u8>().prop_map(|pick| Action::Select { pick }),
    ]
}

const CLIPS: [&str; 4] = ["CLIP1", "CLIP2", "SHORT", "NOT_IN_LIBRARY"];
const NAMES: [&str; 3] = ["News", "Late show", "Promos"];

/// The op an action stands for, picking items and playlists from the current state.
fn op(action: &Action, state: &Snapshot) -> Op {
    let selected = state
        .selected
        .as_deref()
        .and_then(|id| state.playlists.iter().find(|p| p.playlist.id == id));
    let item = |pick: u8| {
        selected
            .filter(|p| !p.playlist.items.is_empty())
            .map(|p| {
                p.playlist.items[pick as usize % p.playlist.items.len()]
                    .id
                    .clone()
            })
            .unwrap_or_else(|| "nothing".into())
    };
    let playlist = |pick: u8| {
        let n = state.playlists.len();
        if n > 0 {
            state.playlists[pick as usize % n].playlist.id.clone()
        } else {
            "none".into()
        }
    };
    match *action {
        Action::Add { clip, index } => Op::ItemAdd {
            playlist: None,
            item: NewItem {
                clip: CLIPS[clip as usize].into(),
                ..NewItem::default()
            },
            index: index.map(usize::from),
        },
        Action::Update { pick, title } => Op::ItemUpdate {
            playlist: None,
            item: item(pick),
            fields: ItemFields {
                title: Some(title.map(|t| format!("title {t}"))),
                clip: title.map(|t| CLIPS[t as usize].to_owned()),
                ..ItemFields::default()
            },
        },
        Action::Move { pick, to } => Op::ItemMove {
            playlist: None,
            item: item(pick),
            index: usize::from(to),
        },
        Action::Remove { pick } => Op::ItemRemove {
            playlist: None,
            item: item(pick),
        },
        Action::Rename { name } => Op::PlaylistRename {
            playlist: None,
            name: NAMES[name as usize].into(),
        },
        Action::Loop(enabled) => Op::PlaylistLoop {
            playlist: None,
            enabled,
        },
        Action::Autoplay(enabled) => Op::Autoplay {
            playlist: None,
            enabled,
        },
        Action::Create => Op::PlaylistCreate {
            name: "Extra".into(),
            channel_layer: None,
            server: None,
        },
        Action::Delete { pick } => Op::PlaylistDelete {
            playlist: playlist(pick),
        },
        Action::Select { pick } => Op::PlaylistSelect {
            playlist: playlist(pick),
        },
    }
}

/// What must match: everything but the unsequenced progress.
fn comparable(s: &Snapshot) -> Snapshot {
    Snapshot {
        progress: Default::default(),
        ..s.clone()
    }
}

async fn run_case(actions: Vec<Action>) -> Result<(), TestCaseError> {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits::default();
    let cl = "1-10".parse().unwrap();
    let (store, report) = Store::open(dir.path(), limits, cl).unwrap();
    let writer = StoreWriter::spawn(store);
    let (caspar, _) = CasparHandle::spawn(CasparConfig {
        address: sim.addr().to_string(),
        ping_timeout: Duration::from_secs(5),
        ..CasparConfig::default()
    });
    let shutdown = CancellationToken::new();
    let (engine, task) = engine::spawn(EngineDeps {
        store: Some(writer),
        ..EngineDeps::new(caspar, report.playlists, shutdown.clone())
    });
    // The media library first, so that `missing` is decided (its own events are reduced too).
    let mut rx = engine.watch_snapshot();
    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.borrow_and_update().media.clips.is_empty() {
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("media library");
    let mut events = engine.subscribe();
    let first = engine.snapshot();
    for a in &actions {
        let state = engine.snapshot();
        let _ = engine.execute(op(a, &state)).await;
    }
    let last = engine.snapshot();
    let mut copy = (*first).clone();
    loop {
        let e: Arc<Event> = match events.try_recv() {
            Ok(e) => e,
            Err(TryRecvError::Empty) => break,
            Err(e) => return Err(TestCaseError::fail(format!("events lost: {e}"))),
        };
        if e.seq <= copy.seq || e.seq > last.seq {
            continue;
        }
        reduce::apply(&mut copy, &e).map_err(|err| TestCaseError::fail(format!("{err}: {e:?}")))?;
    }
    prop_assert_eq!(copy.seq, last.seq);
    prop_assert_eq!(comparable(&copy), comparable(&last));

    // Memory equals disk: what a restart loads is what was published.
    shutdown.cancel();
    task.await.unwrap();
    let (_, reopened) = Store::open(dir.path(), limits, cl).unwrap();
    let published: Vec<_> = last.playlists.iter().map(|v| v.playlist.clone()).collect();
    prop_assert_eq!(reopened.playlists, published);
    sim.shutdown().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn events_replayed_on_the_first_snapshot_give_the_last(actions in proptest::collection::vec(action(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(actions))?;
    }
}
