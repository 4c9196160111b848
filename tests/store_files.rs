//! Files are what they claim (issue #14): a FIFO, symbolic link or directory named like a
//! playlist, backup or state file is refused with a typed error naming it, never opened blocking,
//! never followed, never replaced; saves of other playlists carry on. Rejected external edits keep
//! at most five bounded `.corrupt-*` copies. Every step that could hang runs on a thread with a
//! deadline, so a regression fails the test instead of hanging it.

#[path = "store/common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{files_with, open, sample};
use onair::playout::model::Limits;
use onair::playout::store::{
    AlarmKind, FileKind, KEEP_CORRUPT, LoadReport, MAX_FILE_BYTES, NotRegular, PlayoutStateFile,
    Store, StoreError, TRUNCATED_HEAD_BYTES, TRUNCATED_SUFFIX, decode, encode,
};

/// Runs `f` on its own thread and fails the test if it has not returned within 10 s.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
}

/// Puts a FIFO at `path` in one rename (whatever was there is replaced, as `mv` would).
fn replace_with_fifo(path: &Path) {
    let tmp = path.with_extension("fifo-tmp");
    mkfifo(&tmp);
    fs::rename(&tmp, path).unwrap();
}

/// Puts a symbolic link to `target` at `path` in one rename (`ln -sf` does the same).
fn replace_with_symlink(path: &Path, target: &Path) {
    let tmp = path.with_extension("link-tmp");
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn kind(path: &Path) -> FileKind {
    FileKind::of(&fs::symlink_metadata(path).unwrap())
}

fn not_regular(err: &StoreError) -> &NotRegular {
    match err {
        StoreError::NotRegular(n) => n,
        other => panic!("expected NotRegular, got {other:?}"),
    }
}

fn reopen(dir: &Path) -> (Store, LoadReport) {
    let dir = dir.to_owned();
    within("opening the store", move || open(&dir))
}

#[test]
fn a_fifo_named_like_a_playlist_never_blocks_and_fails_only_its_own_saves() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("main", 2, 1)).unwrap();
    store.save(&sample("news", 2, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    let fifo_new = store.primary_path("x");
    mkfifo(&fifo_new);
    replace_with_fifo(&store.primary_path("news"));

    let store = within("saving next to FIFOs", move || {
        store
            .save(&sample("main", 3, 2))
            .expect("other playlists still save");
        for id in ["news", "x"] {
            let err = store.save(&sample(id, 1, 9)).unwrap_err();
            let n = not_regular(&err);
            assert_eq!(
                (n.kind, n.path.clone()),
                (FileKind::Fifo, store.primary_path(id))
            );
            assert!(err.to_string().contains("is a FIFO"), "{err}");
            assert_eq!(err.code(), "store_not_regular");
        }
        let err = store.delete("news").unwrap_err();
        assert_eq!(not_regular(&err).kind, FileKind::Fifo);
        store
    });
    assert_eq!(
        kind(&store.primary_path("news")),
        FileKind::Fifo,
        "left alone"
    );
    assert_eq!(kind(&fifo_new), FileKind::Fifo, "left alone");
    drop(store);

    // A restart neither blocks nor recreates anything over them: news runs from its backup.
    let (store, report) = reopen(dir.path());
    let by_id = |id: &str| report.alarms.iter().find(|a| a.playlist == id).unwrap();
    assert_eq!(by_id("news").kind, AlarmKind::NotRegular);
    assert!(
        by_id("news").message.contains("is a FIFO"),
        "{:?}",
        report.alarms
    );
    assert!(
        by_id("news").message.contains("revision 1"),
        "{:?}",
        report.alarms
    );
    assert!(
        by_id("x").message.contains("not loaded"),
        "{:?}",
        report.alarms
    );
    assert_eq!(report.alarms.len(), 2, "{:?}", report.alarms);
    let ids: Vec<&str> = report.playlists.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["main", "news"]);
    assert_eq!(kind(&store.primary_path("news")), FileKind::Fifo);

    // Once the operator removes it, the playlist saves again.
    fs::remove_file(store.primary_path("news")).unwrap();
    store.save(&sample("news", 4, 3)).unwrap();
    assert_eq!(kind(&store.primary_path("news")), FileKind::Regular);
}

#[test]
fn a_symlinked_primary_is_never_followed_and_the_backup_never_becomes_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("main", 2, 1)).unwrap();
    store.save(&sample("main", 3, 2)).unwrap();
    // A valid playlist elsewhere: following the link would have accepted it as the primary.
    let target = outside.path().join("target.json");
    let target_bytes = encode(&sample("main", 5, 7)).unwrap();
    fs::write(&target, &target_bytes).unwrap();
    let primary = store.primary_path("main");
    let backup = store.backup_path("main");
    replace_with_symlink(&primary, &target);

    let store = within("saving over a link", move || {
        let err = store.save(&sample("main", 4, 3)).unwrap_err();
        assert_eq!(not_regular(&err).kind, FileKind::Symlink);
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        store
    });
    assert_eq!(
        kind(&backup),
        FileKind::Regular,
        "the backup is never a link"
    );
    let kept = decode(&fs::read(&backup).unwrap(), "main", &Limits::default()).unwrap();
    assert_eq!(
        kept.revision, 1,
        "the backup still holds the last good previous version"
    );
    assert_eq!(fs::read(&target).unwrap(), target_bytes, "target untouched");
    assert_eq!(kind(&primary), FileKind::Symlink, "not replaced silently");
    drop(store);

    let (store, report) = reopen(dir.path());
    assert_eq!(report.alarms.len(), 1, "{:?}", report.alarms);
    assert_eq!(report.alarms[0].kind, AlarmKind::NotRegular);
    assert!(report.alarms[0].message.contains("symbolic link"));
    let main = report.playlists.iter().find(|p| p.id == "main").unwrap();
    assert_eq!(
        main.revision, 1,
        "from the backup, not from the link's target"
    );
    assert_eq!(kind(&backup), FileKind::Regular);
    assert_eq!(fs::read(&target).unwrap(), target_bytes);

    fs::remove_file(&primary).unwrap();
    store.save(&sample("main", 4, 3)).unwrap();
    assert_eq!(kind(&primary), FileKind::Regular);
    assert_eq!(fs::read(&target).unwrap(), target_bytes);
}

#[test]
fn a_directory_in_a_playlists_place_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    fs::create_dir(store.primary_path("odd")).unwrap();
    let err = store.save(&sample("odd", 1, 1)).unwrap_err();
    assert_eq!(not_regular(&err).kind, FileKind::Directory);
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn rejected_garbage_edits_keep_at_most_five_bounded_copies() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    store.save(&sample("news", 3, 1)).unwrap();
    store.save(&sample("news", 3, 2)).unwrap();
    let primary = store.primary_path("news");
    let mut last = PathBuf::new();
    for i in 0..20u8 {
        // 1 MB of garbage, different each time, written in place as a careless script would.
        fs::write(&primary, vec![b'a' + i % 26; 1024 * 1024]).unwrap();
        let outcome = store.save(&sample("news", 3, u64::from(i) + 3)).unwrap();
        last = outcome.set_aside.expect("the bad file is kept aside");
    }
    let kept = files_with(dir.path(), "news.json.corrupt-");
    assert_eq!(kept.len(), KEEP_CORRUPT, "{kept:?}");
    for k in &kept {
        let len = fs::metadata(k).unwrap().len();
        assert!(len <= MAX_FILE_BYTES, "{k:?} is {len} bytes");
    }
    assert!(kept.contains(&last), "the newest copy is kept");
    assert_eq!(fs::read(&last).unwrap(), vec![b'a' + 19; 1024 * 1024]);
    // No garbage ever became the backup: it is still the last good version before them.
    let backup = fs::read(store.backup_path("news")).unwrap();
    let backup = decode(&backup, "news", &Limits::default()).unwrap();
    assert_eq!(backup.revision, 1);

    // A file too large to be a playlist keeps only its head, in a name that says so.
    let f = fs::File::create(&primary).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap(); // sparse: costs no disk
    drop(f);
    let outcome = store.save(&sample("news", 3, 30)).unwrap();
    let aside = outcome.set_aside.unwrap();
    assert!(
        aside.to_string_lossy().ends_with(TRUNCATED_SUFFIX),
        "{aside:?}"
    );
    assert_eq!(fs::metadata(&aside).unwrap().len(), TRUNCATED_HEAD_BYTES);
    assert_eq!(
        files_with(dir.path(), "news.json.corrupt-").len(),
        KEEP_CORRUPT
    );
}

#[test]
fn a_state_file_that_is_not_a_regular_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let state = store.state_path();
    drop(store);
    mkfifo(&state);
    let (store, report) = reopen(dir.path());
    assert!(report.state.is_none());
    let alarm = report
        .alarms
        .iter()
        .find(|a| a.playlist == "state")
        .unwrap();
    assert_eq!(alarm.kind, AlarmKind::NotRegular);
    assert!(alarm.message.contains("is a FIFO"), "{}", alarm.message);
    let store = within("saving the state", move || {
        let err = store.save_state(&PlayoutStateFile::default()).unwrap_err();
        assert_eq!(not_regular(&err).kind, FileKind::Fifo);
        store
    });
    assert_eq!(kind(&store.state_path()), FileKind::Fifo);
    fs::remove_file(&state).unwrap();
    store.save_state(&PlayoutStateFile::default()).unwrap();
}
