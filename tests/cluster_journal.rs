//! The replicated edit journal (`onair::cluster::journal`) against a real `nats-server` with
//! JetStream on loopback: entries come back in order with the sequences their appends were
//! acknowledged at, an append that expects an old sequence is refused and stores nothing (so two
//! nodes appending at once never fork the journal, and a refused append refuses everything
//! pipelined behind it), the journal can be followed live, and compaction leaves a snapshot and
//! only the entries after it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::nats::NatsServer;
use futures_util::StreamExt;
use onair::amcp::ChannelLayer;
use onair::cluster::journal::{Entry, Journal, JournalError, Replicated, Snapshot};
use onair::playout::change::Change;
use onair::playout::model::{Item, Playlist};

const WAIT: Duration = Duration::from_secs(10);

async fn journal(server: &NatsServer, station: &str) -> Journal {
    let client = async_nats::connect(server.url()).await.expect("connects");
    Journal::open(client, station, 1)
        .await
        .expect("journal opens")
}

fn add(n: usize) -> Entry {
    Entry {
        term: 7,
        node: "a".into(),
        id: n as u64,
        change: Replicated::Edit {
            playlist: "main".into(),
            revision: n as u64 + 1,
            change: Change::ItemAdded {
                index: n,
                item: Arc::new(Item::new(format!("i{n}"), format!("CLIP{n}"))),
            },
        },
    }
}

/// Reads `n` entries from `from` on.
async fn read(j: &Journal, from: u64, n: usize) -> Vec<(u64, Entry)> {
    let follow = j.follow(from).await.expect("follows");
    tokio::time::timeout(WAIT, follow.take(n).collect::<Vec<_>>())
        .await
        .expect("entries arrive")
        .into_iter()
        .map(|r| r.expect("entry decodes"))
        .collect()
}

#[tokio::test]
async fn pipelined_appends_come_back_in_order_at_their_sequences() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let j = journal(&server, "s1").await;
    assert_eq!(j.last_seq().await.unwrap(), 0);
    let mut pending = Vec::new();
    for n in 0..20 {
        pending.push(j.append(&add(n), n as u64).await.expect("sent"));
    }
    let mut seqs = Vec::new();
    for p in pending {
        seqs.push(p.await.expect("stored"));
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    assert_eq!(j.last_seq().await.unwrap(), 20);
    let got = read(&j, 1, 20).await;
    for (n, (seq, entry)) in got.iter().enumerate() {
        assert_eq!(*seq, n as u64 + 1);
        assert_eq!(entry, &add(n));
    }
}

#[tokio::test]
async fn an_append_that_expects_an_old_sequence_is_refused_and_so_is_everything_behind_it() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = journal(&server, "s2").await;
    let b = journal(&server, "s2").await;
    for n in 0..3 {
        a.append(&add(n), n as u64).await.unwrap().await.unwrap();
    }
    // Node b has applied only up to 1: its append is refused, nothing is stored.
    let refused = b.append(&add(9), 1).await.unwrap().await;
    assert!(
        matches!(refused, Err(JournalError::Conflict { expected: 1 })),
        "{refused:?}"
    );
    assert_eq!(a.last_seq().await.unwrap(), 3);
    // Two nodes racing for the same place: exactly one wins.
    let (x, y) = tokio::join!(async { a.append(&add(3), 3).await.unwrap().await }, async {
        b.append(&add(4), 3).await.unwrap().await
    },);
    assert!(x.is_ok() != y.is_ok(), "one of {x:?} / {y:?}");
    assert_eq!(a.last_seq().await.unwrap(), 4);
    // A refused append refuses what was pipelined on top of it.
    let first = a.append(&add(5), 2).await.unwrap();
    let second = a.append(&add(6), 3).await.unwrap();
    assert!(matches!(first.await, Err(JournalError::Conflict { .. })));
    assert!(matches!(second.await, Err(JournalError::Conflict { .. })));
    assert_eq!(a.last_seq().await.unwrap(), 4);
}

#[tokio::test]
async fn a_follower_sees_entries_appended_after_it_started_following() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let leader = journal(&server, "s3").await;
    let follower = journal(&server, "s3").await;
    let mut follow = follower.follow(1).await.expect("follows");
    for n in 0..5 {
        leader
            .append(&add(n), n as u64)
            .await
            .unwrap()
            .await
            .unwrap();
        let (seq, entry) = tokio::time::timeout(WAIT, follow.next())
            .await
            .expect("the follower sees it")
            .expect("stream open")
            .expect("decodes");
        assert_eq!((seq, entry), (n as u64 + 1, add(n)));
    }
}

#[tokio::test]
async fn compaction_keeps_a_snapshot_and_only_the_entries_after_it() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let j = journal(&server, "s4").await;
    assert_eq!(j.snapshot().await.unwrap(), None);
    for n in 0..6 {
        j.append(&add(n), n as u64).await.unwrap().await.unwrap();
    }
    let mut pl = Playlist::new("main", "Main", "1-10".parse::<ChannelLayer>().unwrap());
    pl.items.push_back(Item::new("i0".into(), "CLIP0").into());
    let snapshot = Snapshot {
        seq: 4,
        playlists: vec![pl],
        playout: None,
    };
    j.compact(&snapshot).await.expect("compacts");
    assert_eq!(j.snapshot().await.unwrap(), Some(snapshot));
    // A node starting now reads the snapshot, then the entries after it: 5 and 6.
    let got = read(&j, 5, 2).await;
    assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![5, 6]);
    // The sequence goes on where it was.
    assert_eq!(j.append(&add(6), 6).await.unwrap().await.unwrap(), 7);
}

#[tokio::test]
async fn an_append_while_nats_is_down_fails_and_the_journal_survives_a_restart() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let j = journal(&server, "s5").await;
    j.append(&add(0), 0).await.unwrap().await.unwrap();
    server.kill();
    let down = async {
        match j.append(&add(1), 1).await {
            Ok(pending) => pending.await,
            Err(e) => Err(e),
        }
    };
    let result = tokio::time::timeout(WAIT, down)
        .await
        .expect("fails in time");
    assert!(matches!(result, Err(JournalError::Nats(_))), "{result:?}");
    server.restart();
    let j = journal(&server, "s5").await;
    assert_eq!(j.last_seq().await.unwrap(), 1, "the stored entry survived");
    assert_eq!(read(&j, 1, 1).await[0].1, add(0));
}
