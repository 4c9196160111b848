//! A stuck file system (issue #14): a write that never returns must not keep the daemon from
//! exiting. The writer's flush gives up after its bound and names what may not be on disk; the
//! daemon's shutdown completes within 2 s with its store writer blocked; the runtime then exits
//! without waiting for the blocked thread, and the abandoned writer logs what it was writing.
//!
//! The file system is stalled with [`Stall`], which blocks the writer's blocking-pool thread before
//! it touches the disk, exactly where a hung `write` or `fsync` would hold it.

#[path = "store/common.rs"]
mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{open, sample};
use onair::config::Config;
use onair::daemon::Daemon;
use onair::playout::engine::{NewItem, Op};
use onair::playout::store::stall::Stall;
use onair::playout::store::{StoreError, StoreWriter};
use onair::sim::{Sim, SimConfig};

/// Everything logged in this test binary (both tests log; each looks for its own lines).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the only subscriber in this binary");
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged(logs: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_gives_up_after_its_bound_and_names_what_may_not_be_on_disk() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let writer = StoreWriter::spawn(store);
    let stall = Stall::new(dir.path());
    let ack = writer.submit(sample("stuck", 2, 7)).await.unwrap();
    assert!(
        tokio::task::block_in_place(|| stall.wait_stalled(Duration::from_secs(10))),
        "the writer reached the stalled disk"
    );

    let started = Instant::now();
    let err = writer
        .flush_within(Duration::from_millis(300))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(1), "flush waited {waited:?}");
    let StoreError::Stalled { pending, .. } = &err else {
        panic!("expected Stalled, got {err:?}")
    };
    assert!(pending.contains("playlist stuck (revision 7)"), "{pending}");
    assert_eq!(err.code(), "store_stalled");
    assert!(logged(&logs).contains("playlist stuck (revision 7)"));

    // The disk answers again: the write completes and is acknowledged as usual.
    stall.release();
    ack.await.unwrap();
    writer.flush().await.unwrap();
    assert!(writer.unflushed().is_empty());
}

fn daemon_config(sim: &Sim, data: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.caspar.address = sim.addr().to_string();
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.store.data_dir = data.to_path_buf();
    config
}

#[test]
fn shutdown_completes_within_two_seconds_with_the_store_writer_stuck() {
    let logs = logs();
    let data = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stall = runtime.block_on(async {
        let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
        let daemon = Daemon::start(daemon_config(&sim, data.path()))
            .await
            .expect("daemon");
        let stall = Stall::new(data.path());
        // An operator's edit: its save reaches the stuck disk and never returns.
        let engine = daemon.engine.clone();
        let edit = tokio::spawn(async move {
            let item = NewItem {
                clip: "CLIP1".to_owned(),
                title: None,
                transition: None,
                looping: false,
                in_point: None,
                out_point: None,
                scheduled: None,
                start: None,
                at: None,
                graphics: None,
            };
            let op = Op::ItemAdd {
                playlist: None,
                item,
                index: None,
            };
            engine.execute(op).await
        });
        assert!(
            tokio::task::block_in_place(|| stall.wait_stalled(Duration::from_secs(10))),
            "the writer reached the stalled disk"
        );
        // The stalled batch may be an earlier state save: make sure the engine has taken the edit
        // (and so queued its journal record) before shutting down, so the log has it to name.
        // Ops are handled in order: once a later op is answered, the edit was staged.
        daemon
            .engine
            .execute(Op::PlaylistSelect {
                playlist: "main".to_owned(),
            })
            .await
            .expect("select answered");
        assert!(
            daemon.engine.snapshot().playlists[0]
                .playlist
                .items
                .is_empty(),
            "an edit that is not durable is not applied"
        );

        let started = Instant::now();
        daemon.shutdown().await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
        // Never acknowledged as done: still waiting, or answered with an error as the engine ended.
        if edit.is_finished() {
            let result = edit.await.expect("edit task");
            assert!(
                result.is_err(),
                "the edit was never acknowledged: {result:?}"
            );
        }
        sim.shutdown().await;
        stall
    });

    // What `onair serve` does after its shutdown: the blocked thread does not hold up the exit.
    let started = Instant::now();
    runtime.shutdown_timeout(Duration::from_millis(100));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "runtime shutdown took {took:?}"
    );
    let text = logged(&logs);
    let line = text
        .lines()
        .find(|l| l.contains("store writer abandoned"))
        .unwrap_or_else(|| panic!("no abandonment line in:\n{text}"));
    assert!(line.contains("playlist main"), "{line}");

    // Let the abandoned thread finish so the test process ends cleanly.
    stall.release();
}
