//! `onair demo`: the embedded default. A CasparCG simulator on a free loopback port, a daemon against
//! it, a seeded rundown with something on air, and the console attached over the daemon's own `/ws`,
//! all in one process, so a newcomer sees onair work without CasparCG or a config file.
//!
//! The console talks to the daemon over loopback WebSocket exactly as `onair tui` does (one code
//! path). Logs of the simulator and the daemon go to an in-memory buffer shown in the console's log
//! pane, never to the terminal the console draws on. On quit the daemon and the simulator shut down
//! cleanly and a temporary data directory is removed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::{CasparConfig, Config, ServerEntry};
use crate::daemon::Daemon;
use crate::playout::engine::{NewItem, Op};
use crate::sim::media::{SimMedia, VideoFormat};
use crate::sim::{ClockMode, Dialect, Sim, SimConfig};
use crate::tui::client::ClientConfig;

/// Items the demo puts into an empty rundown.
pub const SEED_ITEMS: usize = 6;
/// How long start-up may wait for the daemon to see the simulator's media library.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running simulator (two with `--backup`) and daemon.
pub struct Demo {
    pub sim: Sim,
    /// The backup server's simulator (`onair demo --backup`).
    pub backup: Option<Sim>,
    pub daemon: Daemon,
    /// The data directory when it is a temporary one (removed on drop).
    temp: Option<tempfile::TempDir>,
    pub data_dir: PathBuf,
}

impl Demo {
    /// The console's URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.daemon.addr)
    }

    /// Shuts down the daemon (never touching playout) and then the simulator; removes a temporary
    /// data directory.
    pub async fn shutdown(self) {
        self.daemon.shutdown().await;
        self.sim.shutdown().await;
        if let Some(backup) = self.backup {
            backup.shutdown().await;
        }
        drop(self.temp);
    }
}

/// A 2.4 simulator with a real-time clock, one 1080i5000 channel and 20 virtual clips.
async fn demo_sim() -> anyhow::Result<Sim> {
    Sim::start(SimConfig {
        dialect: Dialect::V24,
        formats: vec![VideoFormat::parse("1080i5000").unwrap_or_default()],
        media: SimMedia::virtual_library(20),
        osc_port: 0,
        clock: ClockMode::Realtime,
        ..SimConfig::for_tests()
    })
    .await
    .context("cannot start the simulator")
}

/// Starts a simulator and a daemon against it on `127.0.0.1:0`, with `data` (or a fresh temporary
/// directory) as the data directory; with `backup`, a second simulator as the main's backup
/// (docs/operations.md, "Main and backup servers").
pub async fn start(data: Option<PathBuf>, backup: bool) -> anyhow::Result<Demo> {
    let sim = demo_sim().await?;
    let backup = if backup {
        Some(demo_sim().await?)
    } else {
        None
    };
    let (temp, data_dir) = match data {
        Some(dir) => (None, dir),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("onair-demo-")
                .tempdir()
                .context("cannot create a temporary data directory")?;
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    };
    let mut config = Config::default();
    let link = |sim: &Sim| CasparConfig {
        address: sim.addr().to_string(),
        ping_interval: Duration::from_millis(500),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..CasparConfig::default()
    };
    match &backup {
        None => config.caspar = link(&sim),
        Some(b) => {
            config.servers = vec![
                ServerEntry {
                    name: "main".into(),
                    backup: Some("backup".into()),
                    link: link(&sim),
                },
                ServerEntry {
                    name: "backup".into(),
                    backup: None,
                    link: link(b),
                },
            ];
        }
    }
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.store.data_dir = data_dir.clone();
    let daemon = Daemon::start(config)
        .await
        .context("cannot start the daemon")?;
    Ok(Demo {
        sim,
        backup,
        daemon,
        temp,
        data_dir,
    })
}

/// Fills an empty selected rundown with [`SEED_ITEMS`] clips of the library, turns autoplay on and
/// takes the first item, so something is visibly playing. A rundown that has items is left alone
/// (a `--data` directory from an earlier run).
pub async fn seed(daemon: &Daemon) -> anyhow::Result<()> {
    let mut snapshots = daemon.engine.watch_snapshot();
    let ready = tokio::time::timeout(
        READY_WITHIN,
        snapshots.wait_for(|s| s.link.connected && !s.media.clips.is_empty()),
    )
    .await;
    let snapshot = match ready {
        Ok(Ok(s)) => s.clone(),
        Ok(Err(_)) => bail!("the engine stopped during start-up"),
        Err(_) => bail!("the daemon did not see the simulator's media library in time"),
    };
    let selected = snapshot
        .selected
        .as_ref()
        .and_then(|id| snapshot.playlists.iter().find(|p| &p.playlist.id == id))
        .or_else(|| snapshot.playlists.first());
    let Some(playlist) = selected else {
        bail!("the daemon has no playlist to seed");
    };
    if !playlist.playlist.items.is_empty() {
        return Ok(());
    }
    let id = Some(playlist.playlist.id.clone());
    // Clips with a length first: AUTO never fires behind a still, and the demo should move by itself.
    let mut clips: Vec<_> = snapshot.media.clips.iter().collect();
    clips.sort_by_key(|c| c.duration.is_none());
    let mut first = None;
    for clip in clips.iter().take(SEED_ITEMS) {
        let result = daemon
            .engine
            .execute(Op::ItemAdd {
                playlist: id.clone(),
                index: None,
                item: NewItem {
                    clip: clip.name.clone(),
                    ..NewItem::default()
                },
            })
            .await
            .with_context(|| format!("cannot add {} to the rundown", clip.name))?;
        first = first.or(result.item);
    }
    daemon
        .engine
        .execute(Op::Autoplay {
            playlist: id.clone(),
            enabled: true,
        })
        .await
        .context("cannot turn autoplay on")?;
    daemon
        .engine
        .execute(Op::Take {
            playlist: id,
            item: first,
        })
        .await
        .context("cannot take the first item")?;
    Ok(())
}

/// `onair demo --headless`: simulator and daemon only, until SIGINT/SIGTERM, for trying web clients.
pub fn headless(data: Option<PathBuf>, backup: bool) -> ExitCode {
    crate::telemetry::init(crate::telemetry::Format::Human, "warn");
    let runtime = match crate::report::runtime("onair demo") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        let demo = start(data, backup).await?;
        if let Err(e) = seed(&demo.daemon).await {
            eprintln!(
                "onair demo: could not seed the rundown: {}",
                crate::report::chain(&e)
            );
        }
        let addr = demo.daemon.addr;
        println!("onair demo (headless): simulator and daemon running; Ctrl-C to stop");
        println!("  web page:   http://{addr}/");
        println!("  WebSocket:  ws://{addr}/ws");
        println!("  health:     http://{addr}/health");
        println!("  console:    onair tui --url ws://{addr}/ws");
        println!("  check:      onair health --url http://{addr}");
        println!("  CasparCG:   {} (the simulator, AMCP)", demo.sim.addr());
        if let Some(b) = &demo.backup {
            println!(
                "  backup:     {} (a second simulator, fed the same commands)",
                b.addr()
            );
        }
        println!("  data:       {}", demo.data_dir.display());
        crate::shutdown::signal().await;
        demo.shutdown().await;
        Ok(())
    });
    crate::report::exit("onair demo", result, 1)
}

/// `onair demo`: exit 0 on quit, 2 when there is no terminal, 1 when start-up fails.
pub fn main(data: Option<PathBuf>, backup: bool) -> ExitCode {
    if let Err(message) = crate::tui::preflight("demo", None) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    let logs = crate::telemetry::init_buffer("info", 2000);
    let runtime = match crate::report::runtime("onair demo") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async move {
        let demo = start(data, backup).await?;
        if let Err(e) = seed(&demo.daemon).await {
            // The console still shows why; the operator can add items by hand.
            tracing::warn!(
                "demo: could not seed the rundown: {}",
                crate::report::chain(&e)
            );
        }
        // In the log pane: lines to paste into another terminal while the demo runs.
        let addr = demo.daemon.addr;
        tracing::info!("demo: another console: onair tui --url ws://{addr}/ws");
        tracing::info!("demo: health check: onair health --url http://{addr}");
        tracing::info!("demo: web page: http://{addr}/ (quitting ends the demo)");
        let console = ClientConfig::new(demo.ws_url(), None);
        let result = crate::tui::run(console, Some(logs), crate::tui::model::Mode::Demo).await;
        demo.shutdown().await;
        result
    });
    runtime.shutdown_timeout(Duration::from_millis(500));
    crate::report::exit("onair demo", result, 1)
}
