//! External edits: a valid file written by rename (as editors do) is `Updated`, an invalid one is
//! `Rejected` with the last good version still loadable, a removal is `Removed`, and the store's
//! own writes produce no event. Every wait is bounded; "no event" is proven by ordering (the own
//! write first, then an external one, and the first event must be the external one).
//! A FIFO or a symbolic link named like a playlist is rejected without being opened or followed,
//! and the watcher never holds up the store's saves meanwhile.

#[path = "store/common.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{files_with, open, sample};
use onair::playout::store::{AlarmKind, FileKind, LoadError, encode};
use onair::playout::watch::{ExternalChange, PlaylistWatcher};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Writes like an editor: a new file next to the target, then a rename over it.
fn write_by_rename(dir: &Path, id: &str, bytes: &[u8]) {
    let playlists = dir.join("playlists");
    let tmp = playlists.join(format!("{id}.json~edit"));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, playlists.join(format!("{id}.json"))).unwrap();
}

async fn next(rx: &mut mpsc::Receiver<ExternalChange>) -> ExternalChange {
    timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no watcher event within 5 s")
        .expect("the watcher channel closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_edits_are_loaded_and_invalid_ones_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("main", 3, 1)).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let watcher = PlaylistWatcher::start(store.watch_context(), tx).unwrap();

    let edited = sample("main", 4, 2);
    write_by_rename(dir.path(), "main", &encode(&edited).unwrap());
    match next(&mut rx).await {
        ExternalChange::Updated(p) => assert_eq!(p, edited),
        other => panic!("expected Updated, got {other:?}"),
    }

    write_by_rename(dir.path(), "main", b"{\"schema\": 1, \"playlist\": [");
    match next(&mut rx).await {
        ExternalChange::Rejected { id, error } => {
            assert_eq!(id, "main");
            assert!(error.to_string().contains("not a playlist file"), "{error}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    // The last good version (the accepted edit) is what a restart loads; the bad file is kept.
    drop(watcher);
    drop(store);
    let (_store, report) = open(dir.path());
    let main = report.playlists.iter().find(|p| p.id == "main").unwrap();
    assert_eq!(*main, edited);
    assert_eq!(report.alarms.len(), 1, "{:?}", report.alarms);
    assert_eq!(report.alarms[0].kind, AlarmKind::RecoveredFromBackup);
    assert_eq!(files_with(dir.path(), "main.json.corrupt-").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_own_writes_produce_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (tx, mut rx) = mpsc::channel(16);
    let _watcher = PlaylistWatcher::start(store.watch_context(), tx).unwrap();

    // Own writes: a save of an existing playlist, a new one, and a delete.
    store.save(&sample("main", 5, 10)).unwrap();
    store.save(&sample("main", 6, 11)).unwrap();
    store.save(&sample("scratch", 1, 1)).unwrap();
    store.delete("scratch").unwrap();
    // Then someone else's write: it must be the first event.
    let external = sample("other", 2, 1);
    write_by_rename(dir.path(), "other", &encode(&external).unwrap());
    match next(&mut rx).await {
        ExternalChange::Updated(p) => assert_eq!(p, external),
        other => panic!("expected the external Updated first, got {other:?}"),
    }

    // An external removal is reported; a save after an accepted edit is again the store's own.
    store.save(&sample("other", 3, 2)).unwrap();
    fs::remove_file(dir.path().join("playlists/other.json")).unwrap();
    match next(&mut rx).await {
        ExternalChange::Removed(id) => assert_eq!(id, "other"),
        other => panic!("expected Removed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_temp_and_kept_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (tx, mut rx) = mpsc::channel(16);
    let _watcher = PlaylistWatcher::start(store.watch_context(), tx).unwrap();
    let playlists = dir.path().join("playlists");
    for name in [
        "main.json.backup",
        "main.json.corrupt-20260101T000000Z",
        "main.json.deleted-20260101T000000Z",
        ".main.json.1.2.tmp",
        "notes.txt",
    ] {
        fs::write(playlists.join(name), b"garbage").unwrap();
    }
    let external = sample("late", 1, 1);
    write_by_rename(dir.path(), "late", &encode(&external).unwrap());
    match next(&mut rx).await {
        ExternalChange::Updated(p) => assert_eq!(p.id, "late"),
        other => panic!("expected Updated(late) first, got {other:?}"),
    }
}

fn kind(path: &Path) -> FileKind {
    FileKind::of(&fs::symlink_metadata(path).unwrap())
}

async fn expect_refused(rx: &mut mpsc::Receiver<ExternalChange>, want: &str, what: FileKind) {
    match next(rx).await {
        ExternalChange::Rejected {
            id,
            error: LoadError::NotRegular(kind),
        } => assert_eq!((id.as_str(), kind), (want, what)),
        other => panic!("expected {want} rejected as {what}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_and_links_are_rejected_unopened_and_never_hold_up_saves() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("main", 2, 1)).unwrap();
    store.save(&sample("news", 2, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let _watcher = PlaylistWatcher::start(store.watch_context(), tx).unwrap();
    let playlists = dir.path().join("playlists");
    let mode = rustix::fs::Mode::from_raw_mode(0o600);

    // A new name (the issue's `mkfifo data/playlists/x.json`), then one replacing a playlist.
    rustix::fs::mkfifoat(rustix::fs::CWD, playlists.join("x.json"), mode).unwrap();
    expect_refused(&mut rx, "x", FileKind::Fifo).await;
    rustix::fs::mkfifoat(rustix::fs::CWD, playlists.join("news.fifo"), mode).unwrap();
    fs::rename(playlists.join("news.fifo"), playlists.join("news.json")).unwrap();
    expect_refused(&mut rx, "news", FileKind::Fifo).await;

    // The watcher holds no lock the store needs: saves go on (bounded, so a hang fails the test).
    let store = timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            store.save(&sample("main", 3, 2)).unwrap();
            store
        }),
    )
    .await
    .expect("a save next to a FIFO must not block")
    .unwrap();

    // A link replacing a playlist: rejected, its target neither read into the daemon nor written.
    let target = outside.path().join("elsewhere.json");
    let target_bytes = encode(&sample("main", 9, 9)).unwrap();
    fs::write(&target, &target_bytes).unwrap();
    std::os::unix::fs::symlink(&target, playlists.join("main.link")).unwrap();
    fs::rename(playlists.join("main.link"), playlists.join("main.json")).unwrap();
    expect_refused(&mut rx, "main", FileKind::Symlink).await;
    assert!(
        store.save(&sample("main", 4, 3)).is_err(),
        "not saved through the link"
    );
    assert_eq!(fs::read(&target).unwrap(), target_bytes);
    assert_eq!(kind(&store.backup_path("main")), FileKind::Regular);

    // Removing the FIFO is an ordinary removal of a playlist the daemon has.
    fs::remove_file(playlists.join("news.json")).unwrap();
    match next(&mut rx).await {
        ExternalChange::Removed(id) => assert_eq!(id, "news"),
        other => panic!("expected Removed(news), got {other:?}"),
    }
}
