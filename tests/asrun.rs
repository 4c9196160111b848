//! The as-run log on a real file system: lines appended and parseable one by one, daily rotation by
//! UTC date with an injected clock, append-only across reopen, recovery from a partial last line,
//! errors (never panics) for an unwritable directory or file, and the async writer. A FIFO or a
//! symbolic link as a day's file is refused without blocking, its target untouched, and the log
//! carries on once it is gone.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onair::amcp::ChannelLayer;
use onair::playout::asrun::{
    AsRunEntry, AsRunEvent, AsRunLine, AsRunLog, AsRunWriter, EndReason, read_file, utc_date,
};
use onair::playout::store::{FileKind, not_regular};

/// 2001-02-03T23:59:59.000Z: a fixed day that is not today (`open` creates today's file).
const LATE: u64 = 981_244_799;

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
}

fn cl() -> ChannelLayer {
    ChannelLayer::new(1, 10).unwrap()
}

fn start(item: &str) -> AsRunEntry {
    AsRunEntry::start(cl(), "main", item, "CLIP1")
        .with_title(Some("Morning news".into()))
        .with_planned(250, (25, 1))
}

fn end(item: &str, by: EndReason) -> AsRunEntry {
    AsRunEntry::end(cl(), "main", item, "CLIP1", by)
        .with_planned(250, (25, 1))
        .with_actual(249, (25, 1))
}

fn lines(path: &Path) -> Vec<AsRunLine> {
    let (lines, bad) = read_file(path).expect("readable");
    assert_eq!(bad, 0, "every line parses");
    lines
}

#[test]
fn entries_are_appended_as_parseable_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/asrun");
    let mut log = AsRunLog::open(&dir).expect("opens");
    assert!(dir.is_dir(), "created");
    log.record_at(&start("it-1"), at(LATE - 10, 5)).unwrap();
    log.record_at(&end("it-1", EndReason::Auto), at(LATE, 999))
        .unwrap();
    let path = dir.join("2001-02-03.jsonl");
    assert_eq!(log.current_path(), Some(path.as_path()));

    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.ends_with('\n'));
    assert!(
        text.starts_with(r#"{"time":"2001-02-03T23:59:49.005Z","event":"start","channel_layer":"1-10","playlist":"main","item":"it-1","clip":"CLIP1","title":"Morning news""#),
        "{text}"
    );
    assert!(
        !text.contains("detail") && !text.contains("null"),
        "unknowns are left out"
    );
    let got = lines(&path);
    assert_eq!(got[0].entry, start("it-1"));
    assert_eq!(got[1].time, "2001-02-03T23:59:59.999Z");
    let e = &got[1].entry;
    assert_eq!(e.event, AsRunEvent::End);
    assert_eq!(e.ended_by, Some(EndReason::Auto));
    assert_eq!((e.planned_frames, e.planned_secs), (Some(250), Some(10.0)));
    assert_eq!((e.actual_frames, e.actual_secs), (Some(249), Some(9.96)));
    assert_eq!(e.fps, Some((25, 1)));

    // Every reason has its own spelling, and the text reads back as the same reason.
    for by in [
        EndReason::Take,
        EndReason::Next,
        EndReason::Stop,
        EndReason::Clear,
        EndReason::Error,
        EndReason::Reconcile,
        EndReason::Shutdown,
    ] {
        let entry = end("it-2", by).with_detail("why");
        log.record_at(&entry, at(LATE, 999)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.contains(&format!(r#""ended_by":"{}""#, by.as_str())));
        assert_eq!(AsRunLine::parse(last).unwrap().entry, entry);
    }
}

#[test]
fn rotates_by_utc_date() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = AsRunLog::open(tmp.path()).unwrap();
    log.record_at(&start("a"), at(LATE, 999)).unwrap();
    log.record_at(&end("a", EndReason::Take), at(LATE + 1, 0))
        .unwrap();
    log.record_at(&start("b"), at(LATE + 1, 0)).unwrap();
    let day1 = tmp.path().join("2001-02-03.jsonl");
    let day2 = tmp.path().join("2001-02-04.jsonl");
    assert_eq!(log.current_path(), Some(day2.as_path()));
    assert_eq!(lines(&day1).len(), 1);
    let d2 = lines(&day2);
    assert_eq!(d2.len(), 2);
    assert_eq!(d2[0].time, "2001-02-04T00:00:00.000Z");

    // A clock stepped back goes to that day's file, still appending.
    log.record_at(&end("b", EndReason::Stop), at(LATE, 500))
        .unwrap();
    assert_eq!(lines(&day1).len(), 2);
    assert_eq!(utc_date(at(LATE, 500)), "2001-02-03");
    log.sync().unwrap();
}

#[test]
fn reopening_appends_and_keeps_existing_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("2001-02-03.jsonl");
    {
        let mut log = AsRunLog::open(tmp.path()).unwrap();
        log.record_at(&start("a"), at(LATE - 100, 0)).unwrap();
        log.record_at(&end("a", EndReason::Auto), at(LATE - 90, 0))
            .unwrap();
    }
    let before = fs::read(&path).unwrap();
    let mut log = AsRunLog::open(tmp.path()).unwrap();
    log.record_at(&start("b"), at(LATE - 90, 0)).unwrap();
    let after = fs::read(&path).unwrap();
    assert!(after.starts_with(&before), "existing lines untouched");
    let got = lines(&path);
    assert_eq!(
        got.iter()
            .map(|l| l.entry.item.as_str())
            .collect::<Vec<_>>(),
        ["a", "a", "b"]
    );
}

#[test]
fn a_partial_last_line_costs_only_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("2001-02-03.jsonl");
    // What a crash in the middle of a write leaves behind.
    fs::write(
        &path,
        "{\"time\":\"2026-11-23T10:00:00.000Z\",\"event\":\"sta",
    )
    .unwrap();
    let mut log = AsRunLog::open(tmp.path()).unwrap();
    log.record_at(&start("a"), at(LATE, 0)).unwrap();
    let (good, bad) = read_file(&path).unwrap();
    assert_eq!((good.len(), bad), (1, 1));
    assert_eq!(good[0].entry.item, "a");
}

#[test]
fn unwritable_places_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    assert!(AsRunLog::open(file.join("asrun")).is_err());
    assert!(AsRunLog::open(&file).is_err());

    // A day whose file cannot be opened fails that record only.
    let mut log = AsRunLog::open(tmp.path().join("asrun")).unwrap();
    fs::create_dir(tmp.path().join("asrun/2001-02-03.jsonl")).unwrap();
    assert!(log.record_at(&start("a"), at(LATE, 0)).is_err());
    log.record_at(&start("b"), at(LATE + 1, 0)).unwrap();
    assert_eq!(lines(&tmp.path().join("asrun/2001-02-04.jsonl")).len(), 1);
}

#[tokio::test]
async fn the_async_writer_stamps_the_time_of_the_call() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = AsRunWriter::new(AsRunLog::open(tmp.path()).unwrap());
    let before = SystemTime::now();
    for i in 0..5 {
        writer.record(start(&format!("it-{i}"))).await.unwrap();
    }
    writer.sync().await.unwrap();
    let after = SystemTime::now();
    // The test may run across midnight UTC: read the day files from `before` to `after`.
    let mut days = vec![utc_date(before)];
    if utc_date(after) != days[0] {
        days.push(utc_date(after));
    }
    let got: Vec<AsRunLine> = days
        .iter()
        .flat_map(|d| lines(&tmp.path().join(format!("{d}.jsonl"))))
        .collect();
    let items: Vec<&str> = got.iter().map(|l| l.entry.item.as_str()).collect();
    assert_eq!(items, ["it-0", "it-1", "it-2", "it-3", "it-4"], "in order");
    let first = &got[0].time;
    assert!(first.starts_with(&utc_date(before)) || first.starts_with(&utc_date(after)));
    assert!(first.ends_with('Z') && first.len() == 24, "{first}");
}

fn kind(path: &Path) -> FileKind {
    FileKind::of(&fs::symlink_metadata(path).unwrap())
}

/// Runs `f` on its own thread and fails the test if it has not returned within 10 s.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

#[test]
fn a_fifo_as_the_days_file_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asrun");
    fs::create_dir(&dir).unwrap();
    let mode = rustix::fs::Mode::from_raw_mode(0o600);
    let today = dir.join(format!("{}.jsonl", utc_date(SystemTime::now())));
    let day = dir.join("2001-02-03.jsonl");
    for fifo in [&today, &day] {
        rustix::fs::mkfifoat(rustix::fs::CWD, fifo, mode).unwrap();
    }
    // Today's file being a FIFO does not stop the log (and so the daemon) from starting.
    let mut log = within("opening", move || AsRunLog::open(&dir).unwrap());
    let (mut log, err) = within("recording", move || {
        let err = log.record_at(&start("a"), at(LATE, 0)).unwrap_err();
        (log, err)
    });
    assert!(err.to_string().contains("is a FIFO"), "{err}");
    assert_eq!(not_regular(&err).map(|n| n.kind), Some(FileKind::Fifo));
    assert_eq!((kind(&today), kind(&day)), (FileKind::Fifo, FileKind::Fifo));
    // Once it is gone, the next line makes a fresh file.
    fs::remove_file(&day).unwrap();
    log.record_at(&start("b"), at(LATE, 1)).unwrap();
    assert_eq!(lines(&day).len(), 1);
}

#[test]
fn a_symlinked_days_file_is_refused_and_its_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.txt");
    fs::write(&target, b"precious\n").unwrap();
    let mut log = AsRunLog::open(tmp.path().join("asrun")).unwrap();
    let day = log.path_for("2001-02-03");
    std::os::unix::fs::symlink(&target, &day).unwrap();
    let err = log.record_at(&start("a"), at(LATE, 0)).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert_eq!(fs::read(&target).unwrap(), b"precious\n");
    assert_eq!(kind(&day), FileKind::Symlink);

    // A dangling link is not created through either.
    let nowhere = outside.path().join("nowhere");
    fs::remove_file(&day).unwrap();
    std::os::unix::fs::symlink(&nowhere, &day).unwrap();
    assert!(log.record_at(&start("b"), at(LATE, 1)).is_err());
    assert!(!nowhere.exists());
}

#[test]
fn a_days_file_swapped_for_a_link_while_open_is_noticed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.txt");
    fs::write(&target, b"precious\n").unwrap();
    let mut log = AsRunLog::open(tmp.path().join("asrun")).unwrap();
    log.record_at(&start("a"), at(LATE, 0)).unwrap();
    let day = log.path_for("2001-02-03");
    let parked = tmp.path().join("parked.jsonl");
    fs::rename(&day, &parked).unwrap();
    std::os::unix::fs::symlink(&target, &day).unwrap();
    // The open file is no longer the day's file: the log does not keep writing into it unseen,
    // and does not follow the link that took its name.
    let err = log.record_at(&start("b"), at(LATE, 1)).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert_eq!(fs::read(&target).unwrap(), b"precious\n");
    assert_eq!(lines(&parked).len(), 1);
    fs::remove_file(&day).unwrap();
    log.record_at(&start("c"), at(LATE, 2)).unwrap();
    let items: Vec<String> = lines(&day).into_iter().map(|l| l.entry.item).collect();
    assert_eq!(items, ["c"]);
}
