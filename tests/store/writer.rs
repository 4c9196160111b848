//! The async writer: coalescing, acknowledgement only after a durable write containing the version,
//! the empty-overwrite guard across a burst, typed failures, flush.

use std::fs;
use std::sync::{Arc, Mutex};

use onair::playout::model::Limits;
use onair::playout::store::{
    StoreError, StoreWriter, WriteObserver, WriteRecord, WriterOptions, decode,
};

use crate::common::{open, sample};

fn observed(store: onair::playout::store::Store) -> (StoreWriter, Arc<Mutex<Vec<WriteRecord>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let observer: WriteObserver =
        Arc::new(move |w: &WriteRecord| sink.lock().unwrap().push(w.clone()));
    let options = WriterOptions {
        observer: Some(observer),
        ..WriterOptions::default()
    };
    (StoreWriter::spawn_with(store, options).0, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_100_saves_is_coalesced_and_every_ack_follows_a_write_containing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (writer, log) = observed(store);
    // Queue 100 versions in order, all outstanding at once, then wait for all acks concurrently.
    let mut acks = Vec::new();
    for rev in 1..=100u64 {
        acks.push((rev, writer.submit(sample("news", 200, rev)).await.unwrap()));
    }
    let waiters = acks.into_iter().map(|(rev, ack)| {
        let log = log.clone();
        tokio::spawn(async move {
            ack.await.unwrap();
            // At the moment of the ack, a completed write must hold this version or a later one.
            let log = log.lock().unwrap();
            assert!(
                log.iter().any(|w| w.id == "news" && w.revision >= rev),
                "revision {rev} acknowledged before any write containing it: {log:?}"
            );
        })
    });
    for w in waiters.collect::<Vec<_>>() {
        w.await.unwrap();
    }
    let log = log.lock().unwrap().clone();
    assert!(log.len() < 10, "{} writes for 100 saves", log.len());
    assert_eq!(log.last().unwrap().revision, 100);
    assert_eq!(log.iter().map(|w| w.versions).sum::<usize>(), 100);
    let stats = writer.stats();
    assert_eq!(stats.saves, 100);
    assert_eq!(stats.writes as usize, log.len());
    assert_eq!(stats.coalesced as usize, 100 - log.len());
    let bytes = fs::read(dir.path().join("playlists/news.json")).unwrap();
    assert_eq!(
        decode(&bytes, "news", &Limits::default()).unwrap().revision,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_savers_need_far_fewer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (writer, log) = observed(store);
    let tasks: Vec<_> = (1..=100u64)
        .map(|rev| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.save(sample("news", 200, rev)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let writes = log.lock().unwrap().len();
    assert!(writes <= 20, "{writes} writes for 100 concurrent saves");
    assert_eq!(writer.stats().saves, 100);
}

#[tokio::test]
async fn a_burst_never_empties_a_playlist_without_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (writer, log) = observed(store);
    let a1 = writer.submit(sample("news", 5, 1)).await.unwrap();
    let a2 = writer.submit(sample("news", 0, 2)).await.unwrap(); // refused
    let a3 = writer.submit(sample("news", 6, 3)).await.unwrap();
    let a4 = writer.submit(sample("news", 0, 4)).await.unwrap(); // refused
    a1.await.unwrap();
    assert!(matches!(
        a2.await,
        Err(StoreError::WouldEmpty { items: 5, .. })
    ));
    a3.await.unwrap();
    assert!(matches!(
        a4.await,
        Err(StoreError::WouldEmpty { items: 6, .. })
    ));
    assert_eq!(log.lock().unwrap().last().unwrap().revision, 3);

    let c5 = writer.submit_clear(sample("news", 0, 5)).await.unwrap();
    let s6 = writer.submit(sample("news", 0, 6)).await.unwrap(); // empty after a clear: fine
    c5.await.unwrap();
    s6.await.unwrap();
    assert_eq!(log.lock().unwrap().last().unwrap().revision, 6);
    assert_eq!(writer.stats().refused, 2);
}

#[tokio::test]
async fn a_failed_write_is_a_typed_error_and_the_writer_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let writer = StoreWriter::spawn(store);
    writer.save(sample("news", 2, 1)).await.unwrap();

    // Invalid version: refused, nothing written.
    let mut bad = sample("news", 2, 2);
    bad.name = String::new();
    assert!(matches!(
        writer.save(bad).await,
        Err(StoreError::Invalid { .. })
    ));

    // The directory vanishes (replaced by a file): an I/O error reaches the waiter.
    let playlists = dir.path().join("playlists");
    let parked = dir.path().join("parked");
    fs::rename(&playlists, &parked).unwrap();
    fs::write(&playlists, b"not a directory").unwrap();
    let err = writer.save(sample("news", 2, 3)).await.unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    let stats = writer.stats();
    assert_eq!((stats.failures, stats.refused), (1, 1));
    assert!(stats.last_error.is_some());

    fs::remove_file(&playlists).unwrap();
    fs::rename(&parked, &playlists).unwrap();
    writer.save(sample("news", 2, 4)).await.unwrap();
    writer.flush().await.unwrap();
    let bytes = fs::read(playlists.join("news.json")).unwrap();
    assert_eq!(
        decode(&bytes, "news", &Limits::default()).unwrap().revision,
        4
    );
}

#[tokio::test]
async fn state_delete_and_flush_go_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let writer = StoreWriter::spawn(store);
    writer.save(sample("news", 1, 1)).await.unwrap();
    let state = onair::playout::store::PlayoutStateFile {
        selected: Some("news".into()),
        ..Default::default()
    };
    writer.save_state(state.clone()).await.unwrap();
    let kept = writer.delete("news").await.unwrap();
    assert!(kept.is_some());
    writer.flush().await.unwrap();
    drop(writer);
    let (_store, report) = open(dir.path());
    assert_eq!(report.state, Some(state));
    assert!(report.playlists.iter().all(|p| p.id != "news"));
}

#[tokio::test]
async fn health_clears_once_every_failed_file_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let writer = StoreWriter::spawn(store);
    writer.save(sample("news", 2, 1)).await.unwrap();
    writer.save(sample("main", 2, 1)).await.unwrap();
    assert_eq!(writer.stats().last_error, None);

    // The disk stops taking writes. (Tests may run as root, where chmod does not stop a write, so
    // the directory is swapped for a file instead: every write in it fails like a full disk.)
    let playlists = dir.path().join("playlists");
    let parked = dir.path().join("parked");
    fs::rename(&playlists, &parked).unwrap();
    fs::write(&playlists, b"not a directory").unwrap();
    assert!(writer.save(sample("news", 2, 2)).await.is_err());
    let stats = writer.stats();
    assert!(stats.last_error.is_some());
    assert_eq!(stats.failing.len(), 1);
    assert_eq!(stats.failing[0].0, "playlist news");

    // Space returns. Other files saving fine do not hide that news on disk is still old ...
    fs::remove_file(&playlists).unwrap();
    fs::rename(&parked, &playlists).unwrap();
    writer.save(sample("main", 2, 2)).await.unwrap();
    writer
        .save_state(onair::playout::store::PlayoutStateFile::default())
        .await
        .unwrap();
    assert!(writer.stats().last_error.is_some(), "news is still stale");
    // ... and its next successful write clears the failure.
    writer.save(sample("news", 2, 3)).await.unwrap();
    let stats = writer.stats();
    assert_eq!((stats.last_error, stats.failing), (None, vec![]));
    assert_eq!(stats.failures, 1, "the count of failures stays");
}
