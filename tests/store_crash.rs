//! Crash consistency: a child process (`onair store-torture`) saves ever newer versions of a
//! playlist and prints `ack N` after each durable save; the parent SIGKILLs it at random moments
//! and checks after every kill that the store opens, the playlist is whole, and no acknowledged
//! version was lost.
//!
//! The second test does the same to the edit journal (`ONAIR_TORTURE_MODE=journal`): the child
//! appends journal records with several in flight (group commits), writes the playlist whole now and
//! then, and forces a compaction every few acks, so kills land in all three; after each kill the
//! store must open and hold every acknowledged edit.
//!
//! `ONAIR_CRASH_KILLS` sets the number of kills of each test (default 200; 1,000 for a long run).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use onair::amcp::ChannelLayer;
use onair::playout::model::Limits;
use onair::playout::store::Store;
use onair::playout::store::torture::{
    JOURNAL_PLAYLIST, MODE_VAR, TORTURE_PLAYLIST, check_journal_playlist, check_torture_playlist,
};

/// What one child printed before it died.
#[derive(Default)]
struct ChildRun {
    ready: bool,
    max_ack: u64,
    acks: u64,
    /// Forced compactions the child asked for, and those it saw finish.
    compactions: u64,
    compacted: u64,
}

fn kills() -> usize {
    std::env::var("ONAIR_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// When the delay before a kill starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// At the spawn: start-up (open, replay, recovery) is part of the window.
    Spawn,
    /// When the child says it is ready (or after 10 s), so that a start-up slowed by a long
    /// journal or a loaded machine does not eat the window.
    Ready,
}

/// Starts a child (`mode` for [`MODE_VAR`]), kills it `delay` after `from`, and returns what it
/// acknowledged.
fn run_child(dir: &Path, mode: &str, from: Clock, delay: Duration) -> ChildRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .arg("store-torture")
        .arg("--dir")
        .arg(dir)
        .env(MODE_VAR, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the torture child");
    let stdout = child.stdout.take().expect("child stdout");
    // Reads until EOF, which comes when the child is dead: every ack it flushed is counted.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut run = ChildRun::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("ready ") {
                run.ready = true;
                let _ = ready_tx.send(());
            } else if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().expect("ack number");
                assert!(
                    n > run.max_ack,
                    "acks out of order: {n} after {}",
                    run.max_ack
                );
                run.max_ack = n;
                run.acks += 1;
            } else if line.starts_with("compacting ") {
                run.compactions += 1;
            } else if line.starts_with("compacted ") {
                run.compacted += 1;
            }
        }
        run
    });
    if from == Clock::Ready {
        let _ = ready_rx.recv_timeout(Duration::from_secs(10));
    }
    thread::sleep(delay);
    child.kill().expect("SIGKILL the child"); // SIGKILL on Unix: no chance to clean up
    let status = child.wait().expect("reap the child");
    let run = reader.join().expect("reader thread");
    assert!(
        !status.success(),
        "the child exited by itself ({status}) instead of being killed"
    );
    run
}

fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("playlists"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn random_sigkills_never_lose_an_acknowledged_save() {
    let kills = kills();
    let dir = tempfile::tempdir().unwrap();
    let layer = ChannelLayer {
        channel: 1,
        layer: Some(10),
    };
    let started = Instant::now();
    let (mut last_ack, mut total_acks, mut mid_run, mut leftovers) = (0u64, 0u64, 0usize, 0usize);
    let (mut unloadable, mut lost, mut alarms) = (0usize, 0usize, Vec::new());
    for i in 0..kills {
        // Mostly while saves are in flight, sometimes during start-up (open, recovery, cleanup).
        let delay = Duration::from_millis(if i % 10 == 0 {
            fastrand::u64(0..8)
        } else {
            fastrand::u64(8..40)
        });
        let run = run_child(dir.path(), "saves", Clock::Spawn, delay);
        mid_run += usize::from(run.ready);
        total_acks += run.acks;
        last_ack = last_ack.max(run.max_ack);
        leftovers += temp_files(dir.path());

        match Store::open(dir.path(), Limits::default(), layer) {
            Err(e) => {
                eprintln!("kill {i}: the store does not open: {e}");
                unloadable += 1;
            }
            Ok((_store, report)) => {
                alarms.extend(
                    report
                        .alarms
                        .into_iter()
                        .map(|a| format!("kill {i}: {a:?}")),
                );
                match report.playlists.iter().find(|p| p.id == TORTURE_PLAYLIST) {
                    None if last_ack > 0 => {
                        eprintln!("kill {i}: the playlist is gone (last ack {last_ack})");
                        unloadable += 1;
                    }
                    None => {}
                    Some(p) => {
                        if let Err(e) = check_torture_playlist(p) {
                            eprintln!("kill {i}: {e}");
                            unloadable += 1;
                        }
                        if p.revision < last_ack {
                            eprintln!(
                                "kill {i}: revision {} < acknowledged {last_ack}",
                                p.revision
                            );
                            lost += 1;
                        }
                    }
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "crash test exceeded its time bound after {i} kills"
        );
    }
    eprintln!(
        "crash test: {kills} kills ({mid_run} after start-up) in {:.1?}, {total_acks} acks, last ack {last_ack}, {leftovers} leftover temp files cleaned, unloadable {unloadable}, lost {lost}",
        started.elapsed()
    );
    assert_eq!(unloadable, 0, "unloadable files");
    assert_eq!(lost, 0, "lost acknowledged edits");
    assert!(
        alarms.is_empty(),
        "a kill must not even need recovery: {alarms:#?}"
    );
    assert!(
        mid_run >= kills / 2,
        "only {mid_run} of {kills} kills landed after start-up"
    );
    assert!(total_acks > 0, "the child never acknowledged a save");
}

/// The journal segments in `data/journal`: how many, the highest number (it rises at every
/// rotation), and whether the last one ends in a torn line.
fn journal_files(dir: &Path) -> (usize, u64, bool) {
    let mut segments: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir.join("journal"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name.strip_suffix(".log")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    segments.sort();
    let torn = segments
        .last()
        .and_then(|(_, p)| std::fs::read(p).ok())
        .is_some_and(|b| b.last().is_some_and(|&c| c != b'\n'));
    let top = segments.last().map_or(0, |(n, _)| *n);
    (segments.len(), top, torn)
}

#[test]
fn random_sigkills_during_group_commits_and_compactions_never_lose_an_acknowledged_edit() {
    let kills = kills();
    let dir = tempfile::tempdir().unwrap();
    let layer = ChannelLayer {
        channel: 2,
        layer: Some(20),
    };
    let started = Instant::now();
    let (mut last_ack, mut total_acks, mut mid_run) = (0u64, 0u64, 0usize);
    // Where the kills landed: during a forced compaction (asked for, not reported done; split by
    // whether the journal had been rotated, i.e. the kill came while the snapshot was written or
    // the old segments removed), else with appends in flight (the child always keeps some); and
    // what the disk showed.
    let (mut in_compaction, mut after_rotation, mut in_commit) = (0usize, 0usize, 0usize);
    let (mut compactions, mut segments_left, mut torn_tails, mut temp_left) = (0u64, 0, 0, 0);
    let (mut unloadable, mut lost, mut alarms) = (0usize, 0usize, Vec::new());
    for i in 0..kills {
        // One kill in ten from the spawn (during open and replay), the others at random while the
        // child works, timed from its `ready`.
        let (from, delay) = if i % 10 == 0 {
            (Clock::Spawn, fastrand::u64(0..8))
        } else {
            (Clock::Ready, fastrand::u64(0..60))
        };
        let (_, top_before, _) = journal_files(dir.path());
        let run = run_child(dir.path(), "journal", from, Duration::from_millis(delay));
        mid_run += usize::from(run.ready);
        total_acks += run.acks;
        compactions += run.compacted;
        last_ack = last_ack.max(run.max_ack);
        let (segments, top, torn) = journal_files(dir.path());
        if run.ready {
            if run.compactions > run.compacted {
                in_compaction += 1;
                after_rotation += usize::from(top > top_before && segments > 1);
            } else {
                in_commit += 1;
            }
        }
        segments_left += usize::from(segments > 1);
        torn_tails += usize::from(torn);
        temp_left += temp_files(dir.path());

        match Store::open(dir.path(), Limits::default(), layer) {
            Err(e) => {
                eprintln!("kill {i}: the store does not open: {e}");
                unloadable += 1;
            }
            Ok((_store, report)) => {
                alarms.extend(
                    report
                        .alarms
                        .into_iter()
                        .map(|a| format!("kill {i}: {a:?}")),
                );
                match report.playlists.iter().find(|p| p.id == JOURNAL_PLAYLIST) {
                    None if last_ack > 0 => {
                        eprintln!("kill {i}: the playlist is gone (last ack {last_ack})");
                        unloadable += 1;
                    }
                    None => {}
                    Some(p) => {
                        if let Err(e) = check_journal_playlist(p) {
                            eprintln!("kill {i}: {e}");
                            unloadable += 1;
                        }
                        if p.revision < last_ack {
                            eprintln!(
                                "kill {i}: revision {} < acknowledged {last_ack}",
                                p.revision
                            );
                            lost += 1;
                        }
                    }
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "crash test exceeded its time bound after {i} kills"
        );
    }
    eprintln!(
        "journal crash test: {kills} kills in {:.1?} ({mid_run} after start-up: {in_commit} with appends in flight, {in_compaction} during a forced compaction, {after_rotation} of them after its rotation; on disk after the kill: {segments_left} times old segments not yet removed, {torn_tails} torn tails, {temp_left} temp files), {total_acks} acks, last ack {last_ack}, {compactions} forced compactions completed, unloadable {unloadable}, lost {lost}",
        started.elapsed()
    );
    assert_eq!(unloadable, 0, "unloadable or inconsistent store");
    assert_eq!(lost, 0, "lost acknowledged edits");
    assert!(
        alarms.is_empty(),
        "a kill must not even need recovery: {alarms:#?}"
    );
    assert!(
        mid_run >= kills / 2,
        "only {mid_run} of {kills} kills landed after start-up"
    );
    assert!(total_acks > 0, "the child never acknowledged an edit");
    assert!(
        kills < 50 || in_compaction > 0,
        "no kill landed during a compaction"
    );
}
