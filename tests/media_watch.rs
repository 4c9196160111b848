//! `caspar.media_dir`: a file added to (or removed from) the local media folder makes the daemon
//! rescan the media library within a few seconds, seen as the snapshot's `media.updated_ms` moving.

use std::net::SocketAddr;
use std::time::Duration;

use onair::config::Config;
use onair::daemon::Daemon;
use onair::playout::engine::EngineHandle;
use onair::sim::{Sim, SimConfig};

fn config(sim: &Sim, data: &std::path::Path, media: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.caspar.address = sim.addr().to_string();
    config.caspar.media_dir = Some(media.to_path_buf());
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.store.data_dir = data.to_path_buf();
    config
}

/// Waits until the media library was scanned after `after` (`None`: scanned at all); returns when.
async fn scanned_after(engine: &EngineHandle, after: Option<u64>, within: Duration) -> u64 {
    let mut rx = engine.watch_snapshot();
    let wait = async {
        loop {
            let updated = rx.borrow_and_update().media.updated_ms;
            if let Some(t) = updated
                && after.is_none_or(|a| t > a)
            {
                return t;
            }
            rx.changed().await.expect("engine running");
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .unwrap_or_else(|_| panic!("no media rescan after {after:?} within {within:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_the_local_media_folder_triggers_a_rescan() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(config(&sim, data.path(), media.path()))
        .await
        .expect("daemon starts");

    // The rescan on connect.
    let first = scanned_after(&daemon.engine, None, Duration::from_secs(10)).await;
    // `updated_ms` has millisecond resolution: a rescan in the same millisecond would not show.
    tokio::time::sleep(Duration::from_millis(5)).await;

    std::fs::write(media.path().join("NEW_CLIP.mov"), b"not really a movie").unwrap();
    let second = scanned_after(&daemon.engine, Some(first), Duration::from_secs(5)).await;

    // Removal counts too; wait out the follow-up rescan of the addition first so it is not mistaken
    // for the reaction to the removal.
    tokio::time::sleep(onair::media_watch::FOLLOW_UP + Duration::from_millis(500)).await;
    let settled = daemon.engine.snapshot().media.updated_ms.unwrap_or(second);
    tokio::time::sleep(Duration::from_millis(5)).await;
    std::fs::remove_file(media.path().join("NEW_CLIP.mov")).unwrap();
    scanned_after(&daemon.engine, Some(settled), Duration::from_secs(5)).await;

    daemon.shutdown().await;
}
