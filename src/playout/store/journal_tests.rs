//! Journal tests: round trip, group appends, torn tails, damage in the middle, rotation.

use std::sync::Arc;

use super::*;
use crate::playout::model::Item;

fn rec(n: u64) -> JournalRecord {
    JournalRecord {
        playlist: "main".into(),
        revision: n,
        change: Change::ItemAdded {
            index: 0,
            item: Arc::new(Item::new(format!("i{n}"), "CLIP")),
        },
    }
}

fn lines(records: &[JournalRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        encode_line(r, &mut out).unwrap();
    }
    out
}

fn revisions(replay: &Replay) -> Vec<u64> {
    replay.records.iter().map(|r| r.revision).collect()
}

#[test]
fn appended_records_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, replay) = Journal::open(dir.path()).unwrap();
    assert!(replay.records.is_empty());
    j.append(&lines(&[rec(1), rec(2)]), 2).unwrap();
    j.append(&lines(&[rec(3)]), 1).unwrap();
    drop(j);
    let (j, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [1, 2, 3]);
    assert_eq!(j.records, 3);
    assert!(replay.problems.is_empty());
}

#[test]
fn a_torn_tail_is_cut_off_and_appending_goes_on_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    j.append(&lines(&[rec(1), rec(2)]), 2).unwrap();
    let path = j.path().to_owned();
    drop(j);
    // Half of a third line, as a crash during the write leaves it.
    let third = lines(&[rec(3)]);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&third[..third.len() / 2]).unwrap();
    drop(f);
    let (mut j, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [1, 2]);
    assert_eq!(replay.truncated, (third.len() / 2) as u64);
    assert!(replay.problems.is_empty(), "a torn tail is not damage");
    j.append(&lines(&[rec(4)]), 1).unwrap();
    drop(j);
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [1, 2, 4]);
}

#[test]
fn a_complete_last_line_with_a_bad_checksum_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    let mut bytes = lines(&[rec(1), rec(2)]);
    let n = bytes.len();
    bytes[n - 5] ^= 0x20;
    j.append(&bytes, 2).unwrap();
    drop(j);
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [1]);
    assert!(replay.truncated > 0);
}

#[test]
fn damage_in_the_middle_is_skipped_reported_and_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    let first = lines(&[rec(1)]);
    let mut bytes = first.clone();
    let mut second = lines(&[rec(2)]);
    second[12] ^= 0x01;
    bytes.extend_from_slice(&second);
    bytes.extend_from_slice(&lines(&[rec(3)]));
    j.append(&bytes, 3).unwrap();
    drop(j);
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [1, 3]);
    assert_eq!(replay.problems.len(), 1, "{:?}", replay.problems);
    assert!(replay.problems[0].contains("checksum mismatch"));
    let kept = fs::read_dir(dir_of(dir.path()))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(kept, 1);
}

#[test]
fn rotation_keeps_old_segments_until_they_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    j.append(&lines(&[rec(1)]), 1).unwrap();
    j.rotate().unwrap();
    j.append(&lines(&[rec(2)]), 1).unwrap();
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(
        revisions(&replay),
        [1, 2],
        "both segments are read, in order"
    );
    j.drop_before().unwrap();
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(
        revisions(&replay),
        [1, 2],
        "the segment before the last rotation is kept for restores from a backup"
    );
    j.rotate().unwrap();
    j.append(&lines(&[rec(3)]), 1).unwrap();
    j.drop_before().unwrap();
    let (_, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(revisions(&replay), [2, 3]);
}

#[cfg(unix)]
#[test]
fn a_fifo_segment_is_reported_and_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir_of(dir.path());
    fs::create_dir_all(&jdir).unwrap();
    let fifo = jdir.join(segment_name(7));
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let (mut j, replay) = Journal::open(dir.path()).unwrap();
    assert_eq!(replay.problems.len(), 1);
    assert!(replay.problems[0].contains("FIFO"), "{:?}", replay.problems);
    j.append(&lines(&[rec(1)]), 1).unwrap();
    assert!(j.path().ends_with(segment_name(8)));
}
