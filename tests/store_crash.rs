//! Crash consistency: a child process (`onair store-torture`) saves ever newer versions of a
//! playlist and prints `ack N` after each durable save; the parent SIGKILLs it at random moments
//! and checks after every kill that the store opens, the playlist is whole, and no acknowledged
//! version was lost.
//!
//! `ONAIR_CRASH_KILLS` sets the number of kills (default 200; raise it for a long run).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use onair::amcp::ChannelLayer;
use onair::playout::model::Limits;
use onair::playout::store::Store;
use onair::playout::store::torture::{TORTURE_PLAYLIST, check_torture_playlist};

/// What one child printed before it died.
#[derive(Default)]
struct ChildRun {
    ready: bool,
    max_ack: u64,
    acks: u64,
}

fn kills() -> usize {
    std::env::var("ONAIR_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// Starts a child, kills it after `delay`, and returns what it acknowledged.
fn run_child(dir: &Path, delay: Duration) -> ChildRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onair"))
        .arg("store-torture")
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the torture child");
    let stdout = child.stdout.take().expect("child stdout");
    // Reads until EOF, which comes when the child is dead: every ack it flushed is counted.
    let reader = thread::spawn(move || {
        let mut run = ChildRun::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("ready ") {
                run.ready = true;
            } else if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().expect("ack number");
                assert!(
                    n > run.max_ack,
                    "acks out of order: {n} after {}",
                    run.max_ack
                );
                run.max_ack = n;
                run.acks += 1;
            }
        }
        run
    });
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
        let run = run_child(dir.path(), delay);
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
