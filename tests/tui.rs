//! The console against a real daemon (`Daemon::start`) and simulator over real WebSockets, without a
//! terminal: the client task feeds `update` the way the run loop does. Covers hello/snapshot, a take
//! acked and shown on air, a dropped connection resumed without a snapshot, a daemon restart (new
//! boot, fresh snapshot), the run loop on `TestBackend`, and `onair demo`'s start-up and seeding.
//!
//! A small TCP proxy sits between console and daemon so tests can cut connections, refuse new ones,
//! or point the console at a restarted daemon, all without touching the daemon's own sockets.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use onair::config::Config;
use onair::daemon::Daemon;
use onair::playout::engine::{NewItem, Op};
use onair::protocol::{ClientMsg, Role, ServerMsg};
use onair::sim::{Sim, SimConfig};
use onair::tui::client::{self, ClientConfig, ClientHandle, NetEvent};
use onair::tui::message::Message;
use onair::tui::model::{Link, Model};
use onair::tui::update::{Effect, update};
use onair::tui::{Io, run_loop, view, wall_ms};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

const TIMEOUT: Duration = Duration::from_secs(15);

fn daemon_config(sim: &Sim, data: &Path) -> Config {
    let mut config = Config::default();
    config.caspar.address = sim.addr().to_string();
    config.caspar.ping_interval = Duration::from_millis(500);
    config.caspar.backoff_initial = Duration::from_millis(10);
    config.caspar.backoff_max = Duration::from_millis(100);
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.store.data_dir = data.to_path_buf();
    config
}

/// A TCP proxy in front of the daemon that can cut every connection and refuse new ones.
struct Proxy {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    refuse: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let upstream = Arc::new(Mutex::new(upstream));
        let refuse = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (up, no, cuts) = (upstream.clone(), refuse.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if no.load(Ordering::SeqCst) {
                    continue; // dropped: the console's handshake fails
                }
                let target = *up.lock().expect("upstream lock");
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            upstream,
            refuse,
            cut,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Closes every proxied connection now.
    fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    fn refuse(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }

    fn point_at(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("upstream lock") = upstream;
    }
}

/// The console without a terminal: a model, the client task, and the loop's dispatch by hand.
struct Console {
    model: Model,
    net: mpsc::Receiver<NetEvent>,
    client: ClientHandle,
    cancel: CancellationToken,
    snapshots: usize,
}

impl Console {
    fn start(url: &str) -> Console {
        let mut config = ClientConfig::new(url, None);
        config.backoff_initial = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(200);
        let cancel = CancellationToken::new();
        let (client, net, _task) = client::spawn(config, cancel.clone());
        Console {
            model: Model::new(url, Instant::now(), wall_ms()),
            net,
            client,
            cancel,
            snapshots: 0,
        }
    }

    /// What the run loop does with a message: update, then carry out the effects.
    fn dispatch(&mut self, msg: Message) -> Vec<Effect> {
        self.model.now = Instant::now();
        self.model.wall_ms = wall_ms();
        let effects = update(&mut self.model, msg);
        for effect in &effects {
            if let Effect::Send(out) = effect {
                let id = match out {
                    ClientMsg::Command { id, .. } => Some(id.clone()),
                    _ => None,
                };
                if let Err(reason) = self.client.send(out.clone()) {
                    update(
                        &mut self.model,
                        Message::Net(NetEvent::SendFailed { id, reason }),
                    );
                }
            }
        }
        self.client.set_position(self.model.position());
        effects
    }

    /// Applies connection events until `cond` holds.
    async fn until(&mut self, what: &str, cond: impl Fn(&Model) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !cond(&self.model) {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match tokio::time::timeout(left, self.net.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => panic!("the client task ended while waiting for {what}"),
                Err(_) => {
                    let log: Vec<_> = self.model.log.lines.iter().map(|l| &l.text).collect();
                    panic!(
                        "timed out waiting for {what}; link {:?}; log {log:#?}",
                        self.model.link
                    )
                }
            };
            if let NetEvent::Server(msg) = &event
                && matches!(**msg, ServerMsg::Snapshot { .. })
            {
                self.snapshots += 1;
            }
            self.dispatch(Message::Net(event));
        }
    }

    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        terminal.draw(|f| view::view(&self.model, f)).expect("draw");
        terminal.backend().to_string()
    }
}

fn on_air(m: &Model) -> Option<&str> {
    m.playlist()?.playout.on_air.as_deref()
}

#[tokio::test]
async fn hello_snapshot_take_acked_and_on_air() {
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().expect("temp dir");
    let daemon = Daemon::start(daemon_config(&sim, data.path()))
        .await
        .expect("daemon");
    let mut c = Console::start(&format!("ws://{}/ws", daemon.addr));
    c.until("the daemon's state and media", |m| {
        m.is_live() && m.state.link.connected && !m.state.media.clips.is_empty()
    })
    .await;
    assert_eq!(c.model.session.role, Some(Role::Operator));
    assert!(c.model.session.boot_id.is_some());
    assert_eq!(c.snapshots, 1);

    // Insert the library's first clip into the empty rundown, then take it.
    let effects = c.dispatch(Message::Insert);
    assert_eq!(effects.len(), 1, "{:?}", c.model.notice);
    c.until("the inserted item", |m| {
        m.items().len() == 1 && m.pending.is_empty()
    })
    .await;
    let item = c.model.items()[0].id.clone();
    assert_eq!(c.model.selected_id.as_deref(), Some(item.as_str()));
    let effects = c.dispatch(Message::TakeSelected);
    let [Effect::Send(ClientMsg::Command { request, .. })] = effects.as_slice() else {
        panic!("a command: {effects:?}")
    };
    assert_eq!(request.name(), "playout.take");
    c.until("the item on air and the take acked", |m| {
        on_air(m) == Some(item.as_str()) && m.pending.is_empty()
    })
    .await;
    assert!(c.model.notice.is_none(), "no failure: {:?}", c.model.notice);
    assert!(c.screen().contains("ON AIR"), "{}", c.screen());

    // A command the daemon refuses: its error reaches the status line and the log.
    c.dispatch(Message::Previous);
    c.until("the refusal", |m| m.pending.is_empty()).await;
    let notice = c.model.notice.clone().expect("a failure notice");
    assert!(
        notice
            .text
            .starts_with("previous failed: there is no previous item"),
        "{}",
        notice.text
    );
    assert!(c.model.log.lines.iter().any(|l| l.text == notice.text));

    c.cancel.cancel();
    daemon.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_shows_reconnecting_then_resumes_without_a_snapshot() {
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().expect("temp dir");
    let daemon = Daemon::start(daemon_config(&sim, data.path()))
        .await
        .expect("daemon");
    let proxy = Proxy::start(daemon.addr).await;
    let mut c = Console::start(&proxy.url());
    c.until("live", |m| m.is_live() && !m.state.media.clips.is_empty())
        .await;
    let boot = c.model.session.boot_id.clone();

    proxy.refuse(true);
    proxy.cut_all();
    c.until("reconnecting", |m| matches!(m.link, Link::Down { .. }))
        .await;
    assert!(!c.model.is_live());
    let screen = c.screen();
    assert!(screen.contains("reconnecting"), "{screen}");
    // While disconnected a command is refused here, never queued.
    assert!(c.dispatch(Message::Next).is_empty());
    assert!(
        c.model
            .notice
            .as_ref()
            .is_some_and(|n| n.text.contains("not connected")),
        "{:?}",
        c.model.notice
    );

    // Something changes while the console is away.
    daemon
        .engine
        .execute(Op::ItemAdd {
            playlist: None,
            index: None,
            item: NewItem {
                clip: "CLIP2".into(),
                ..NewItem::default()
            },
        })
        .await
        .expect("item added");
    proxy.refuse(false);
    c.until("live again with the change", |m| {
        m.is_live() && m.items().iter().any(|i| i.clip == "CLIP2")
    })
    .await;
    assert_eq!(c.model.session.boot_id, boot);
    assert_eq!(
        c.snapshots, 1,
        "the missed event was replayed, not resent as a snapshot"
    );
    assert!(c.screen().contains("● connected"));

    c.cancel.cancel();
    daemon.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_daemon_restart_means_a_new_boot_and_a_fresh_snapshot() {
    let sim = Sim::start(SimConfig::for_tests()).await.expect("sim");
    let data = tempfile::tempdir().expect("temp dir");
    let daemon = Daemon::start(daemon_config(&sim, data.path()))
        .await
        .expect("daemon");
    let proxy = Proxy::start(daemon.addr).await;
    let mut c = Console::start(&proxy.url());
    c.until("live", |m| m.is_live()).await;
    let old_boot = c.model.session.boot_id.clone();

    daemon.shutdown().await;
    c.until("reconnecting", |m| matches!(m.link, Link::Down { .. }))
        .await;
    assert!(
        c.model
            .log
            .lines
            .iter()
            .any(|l| l.text.contains("shutting down")),
        "the daemon's shutdown message is shown"
    );
    let restarted = Daemon::start(daemon_config(&sim, data.path()))
        .await
        .expect("daemon restarts");
    proxy.point_at(restarted.addr);
    c.until("live on the new boot", |m| {
        m.is_live() && m.session.boot_id != old_boot
    })
    .await;
    assert_eq!(c.snapshots, 2);

    c.cancel.cancel();
    restarted.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_run_loop_draws_on_a_test_backend_and_quits_on_q() {
    // Nothing listens on port 1: the console keeps trying and says so; commands are refused.
    let cancel = CancellationToken::new();
    let mut config = ClientConfig::new("ws://127.0.0.1:1/ws", None);
    config.backoff_initial = Duration::from_millis(50);
    let (client, net, _task) = client::spawn(config, cancel.clone());
    let (keys, rx) = mpsc::unbounded_channel::<Event>();
    let events = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok(e), rx))
    }));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut model = Model::new("ws://127.0.0.1:1/ws", Instant::now(), wall_ms());
    let io = Io {
        events,
        net,
        client,
        logs: None,
        cancel: cancel.clone(),
    };
    let press = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    for key in [press('?'), press('?'), press(' '), press('q')] {
        keys.send(key).expect("the loop's input is open");
    }
    tokio::time::timeout(TIMEOUT, run_loop(&mut terminal, &mut model, io))
        .await
        .expect("the loop ends")
        .expect("the loop ends cleanly");
    assert!(model.quit);
    assert!(model.dialog.is_none(), "? opened and closed the help");
    assert!(
        model
            .notice
            .as_ref()
            .is_some_and(|n| n.text.contains("take: not sent")),
        "{:?}",
        model.notice
    );
    let screen = terminal.backend().to_string();
    // "connecting…" or "reconnecting…", depending on how far the first attempt got.
    assert!(screen.contains("connecting"), "{screen}");
    drop(keys);
    cancel.cancel();
}

#[tokio::test]
async fn demo_starts_a_simulator_and_daemon_and_puts_something_on_air() {
    let demo = onair::demo::start(None, false).await.expect("demo starts");
    let dir = demo.data_dir.clone();
    assert!(dir.exists());
    onair::demo::seed(&demo.daemon).await.expect("seeded");
    let snapshot = demo.daemon.engine.snapshot();
    let playlist = &snapshot.playlists[0];
    assert_eq!(playlist.playlist.items.len(), onair::demo::SEED_ITEMS);
    assert!(playlist.playlist.autoplay);
    assert_eq!(
        playlist.playout.on_air.as_deref(),
        Some(playlist.playlist.items[0].id.as_str())
    );
    // Seeding again leaves a non-empty rundown alone.
    onair::demo::seed(&demo.daemon)
        .await
        .expect("seed is idempotent");
    assert_eq!(
        demo.daemon.engine.snapshot().playlists[0]
            .playlist
            .items
            .len(),
        onair::demo::SEED_ITEMS
    );
    assert!(demo.ws_url().starts_with("ws://127.0.0.1:"));
    demo.shutdown().await;
    assert!(!dir.exists(), "the temporary data directory is removed");
}
