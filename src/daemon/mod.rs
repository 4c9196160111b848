//! `onair serve`: wires configuration, store, CasparCG link, engine and the HTTP/WebSocket server
//! together, and shuts them down gracefully without ever touching playout.
//!
//! Shutdown order (docs/architecture.md): stop accepting, tell WebSocket clients (`shutdown`, close 1001), stop
//! the engine, finish pending saves, close the AMCP connection (no STOP, no CLEAR), exit. The whole
//! sequence is bounded; a second signal exits at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::caspar::CasparHandle;
use crate::caspar::osc::{OscListener, OscTelemetry};
use crate::cluster::lease::Lease;
use crate::config::{Config, ServerEntry};
use crate::media_watch::MediaWatcher;
use crate::playout::asrun::{AsRunLog, AsRunWriter};
use crate::playout::engine::state::Severity;
use crate::playout::engine::{self, EngineDeps, EngineHandle};
use crate::playout::model::Limits;
use crate::playout::store::{AlarmKind, Store, StoreWriter};
use crate::playout::watch::PlaylistWatcher;
use crate::server::{self, AppState, Probes};

mod cluster;
mod probes;

pub use probes::link_probe;
use probes::{osc_probe, servers_probe, store_probe};

/// How long shutdown may take before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1800);
/// How long shutdown waits to give the leader lease back (within [`SHUTDOWN_GRACE`]); a lease
/// not given back expires after `cluster.lease_ttl`.
const LEASE_RELEASE_GRACE: Duration = Duration::from_millis(500);

/// A running daemon, for `onair serve`, `onair demo` and tests.
pub struct Daemon {
    pub addr: SocketAddr,
    pub engine: EngineHandle,
    pub caspar: CasparHandle,
    pub state: Arc<AppState>,
    shutdown: CancellationToken,
    server_task: tokio::task::JoinHandle<()>,
    engine_task: tokio::task::JoinHandle<()>,
    caspar_task: tokio::task::JoinHandle<()>,
    /// The links of the station's other servers (backups, other mains).
    others: Vec<(CasparHandle, tokio::task::JoinHandle<()>)>,
    /// Cluster mode's leader lease; `None` without `[cluster]` (the daemon always drives).
    lease: Option<Lease>,
    /// Keeps watching the playlist directory while the daemon runs.
    _watcher: Option<PlaylistWatcher>,
    /// Keeps watching the local media folder (`caspar.media_dir`) while the daemon runs.
    _media_watcher: Option<MediaWatcher>,
}

/// Refuses configurations that would expose control without authentication.
pub fn check_exposure(config: &Config) -> anyhow::Result<()> {
    if !config.listen_is_loopback() && config.server.operator_tokens.is_empty() {
        bail!(
            "server.listen {} is not a loopback address and no operator token is configured; \
             set server.operator_tokens (or ONAIR_SERVER_OPERATOR_TOKENS) or listen on 127.0.0.1",
            config.server.listen
        );
    }
    Ok(())
}

impl Daemon {
    /// Every server's link: the main's first, then the others in the order of `[[servers]]`
    /// (its backup, the other mains with theirs).
    pub fn links(&self) -> Vec<CasparHandle> {
        std::iter::once(self.caspar.clone())
            .chain(self.others.iter().map(|(h, _)| h.clone()))
            .collect()
    }

    /// Starts every subsystem and the listener; returns once the daemon serves requests.
    pub async fn start(config: Config) -> anyhow::Result<Daemon> {
        check_exposure(&config)?;
        let shutdown = CancellationToken::new();
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr().context("listener address")?;

        let (lease, node) = match cluster::campaign(&config, addr)? {
            Some((lease, node)) => (Some(lease), Some(node)),
            None => (None, None),
        };

        let station = config.station();
        if config.uses_legacy_caspar() {
            tracing::info!(
                "the [caspar] section is the older single-server form: it is read as one server \
                 named \"main\"; [[servers]] names servers and pairs a backup \
                 (docs/configuration.md)"
            );
        }
        // Cluster mode: every link writes playout commands only while the lease is held.
        let fence = cluster::fence(lease.as_ref());
        let (caspar, caspar_task) =
            CasparHandle::spawn_fenced(station.main.link.clone(), fence.clone());
        let osc = spawn_osc(&station.main, &shutdown)?;
        // Every other server's link and OSC listener: the first main's backup, then each other
        // main with its backup.
        let mut links = Vec::new();
        let mut spawn_link = |entry: &ServerEntry| -> anyhow::Result<engine::SideDeps> {
            let (handle, task) = CasparHandle::spawn_fenced(entry.link.clone(), fence.clone());
            let osc = spawn_osc(entry, &shutdown)?;
            links.push((entry.name.clone(), handle.clone(), task));
            Ok(engine::SideDeps {
                name: entry.name.clone(),
                address: entry.link.address.clone(),
                caspar: handle,
                osc: Some(osc),
            })
        };
        let backup = station.backup.as_ref().map(&mut spawn_link).transpose()?;
        let mut more = Vec::new();
        for (main, backup) in &station.others {
            more.push(engine::GroupDeps {
                main: spawn_link(main)?,
                backup: backup.as_ref().map(&mut spawn_link).transpose()?,
            });
        }
        let limits = Limits {
            max_playlists: config.store.max_playlists,
            max_items: config.store.max_items_per_playlist,
        };
        let (store_cfg, playout_cfg) = (config.store.clone(), config.playout.clone());
        // Cluster mode: the playlists are the station's journal's; the local store is a copy of
        // it, rebuilt at every start in its own folder (the single-node files stay as they are).
        let replica_dir = config
            .cluster
            .as_ref()
            .map(|c| config.store.data_dir.join("cluster").join(&c.station));
        let (store, report) = tokio::task::spawn_blocking(move || match replica_dir {
            Some(dir) => Store::open_replica(dir, limits, playout_cfg.default_channel_layer),
            None => Store::from_config(&store_cfg, &playout_cfg),
        })
        .await
        .context("store task")?
        .with_context(|| {
            format!(
                "cannot open the data directory {}",
                config.store.data_dir.display()
            )
        })?;
        let watch_ctx = store.watch_context();
        let writer = StoreWriter::spawn(store);
        let (external_tx, external_rx) = tokio::sync::mpsc::channel(64);
        let watcher = if config.store.watch_external_edits {
            match PlaylistWatcher::start(watch_ctx, external_tx) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "external edits of playlist files will not be noticed");
                    None
                }
            }
        } else {
            None
        };
        let asrun_dir = config.store.data_dir.join("asrun");
        let asrun = tokio::task::spawn_blocking(move || AsRunLog::open(asrun_dir))
            .await
            .context("as-run task")?
            .context("cannot open the as-run log")?;
        let recoveries = report.alarms.len() as u64;
        let startup_alarms = report
            .alarms
            .iter()
            .map(|a| (severity_of(a.kind), a.message.clone()))
            .collect();
        let restored = engine::restored_playout(report.state.as_ref());
        let restored_filler = report
            .state
            .as_ref()
            .map(|s| {
                s.playlists
                    .iter()
                    .filter_map(|(id, p)| Some((id.clone(), p.filler_next?)))
                    .collect()
            })
            .unwrap_or_default();
        let restored_graphics = report
            .state
            .as_ref()
            .map(|s| {
                s.playlists
                    .iter()
                    .filter_map(|(id, p)| {
                        Some((id.clone(), (p.on_air.clone()?, p.graphics_start_ns?)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let restored_logo_off = report
            .state
            .as_ref()
            .map(|s| {
                s.playlists
                    .iter()
                    .filter(|(_, p)| p.logo_off)
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let selected = report.state.as_ref().and_then(|s| s.selected.clone());
        let replica = cluster::journal(&config, lease.as_ref(), node, &shutdown);
        let journal_stats = replica.as_ref().map(|r| r.stats.clone());
        let (engine, engine_task) = engine::spawn(EngineDeps {
            config: config.playout.clone(),
            limits,
            poll_interval: config.caspar.info_poll_interval,
            progress_hz: config.server.progress_hz,
            restored,
            restored_filler,
            restored_graphics,
            restored_logo_off,
            selected,
            osc: Some(osc.clone()),
            store: Some(writer.clone()),
            asrun: Some(AsRunWriter::new(asrun)),
            external: Some(external_rx),
            startup_alarms,
            main: (station.main.name.clone(), station.main.link.address.clone()),
            backup,
            more,
            drive: lease.as_ref().map(Lease::drive),
            replica: replica.map(|r| r.deps),
            ..EngineDeps::new(caspar.clone(), report.playlists, shutdown.child_token())
        });

        let media_watcher = station.main.link.media_dir.as_deref().and_then(|dir| {
            match MediaWatcher::start(dir, engine.clone(), shutdown.child_token()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e,
                        "changes in the media folder will not trigger a rescan");
                    None
                }
            }
        });

        let state = Arc::new(AppState::new(
            engine.clone(),
            link_probe(caspar.clone()),
            config.server.clone(),
            shutdown.clone(),
            Probes {
                store: Some(store_probe(writer, recoveries)),
                osc: Some(osc_probe(osc)),
                servers: Some(servers_probe(
                    std::iter::once((station.main.name.clone(), caspar.clone()))
                        .chain(links.iter().map(|(n, h, _)| (n.clone(), h.clone())))
                        .collect(),
                )),
                cluster: lease
                    .as_ref()
                    .map(|l| cluster::probe(l.probe(), journal_stats)),
            },
        ));
        let nofile = server::listen::nofile_limit();
        let max_connections = server::listen::effective_max(config.server.max_connections, nofile);
        if max_connections < config.server.max_connections {
            tracing::warn!(
                configured = config.server.max_connections,
                max_connections,
                nofile,
                "server.max_connections lowered to fit the open-file limit"
            );
        }
        let server_task = tokio::spawn(server::serve(listener, state.clone(), shutdown.clone()));
        state.startup_complete.store(true, Ordering::SeqCst);
        tracing::info!(
            %addr,
            caspar = %station.main.link.address,
            backup = ?station.backup.as_ref().map(|b| &b.link.address),
            others = station.others.len(),
            "onair serve: ready"
        );
        let others = links.into_iter().map(|(_, h, t)| (h, t)).collect();
        Ok(Daemon {
            addr,
            engine,
            caspar,
            state,
            shutdown,
            server_task,
            engine_task,
            caspar_task,
            others,
            lease,
            _watcher: watcher,
            _media_watcher: media_watcher,
        })
    }

    /// Graceful shutdown; returns when every task has finished or the grace period ran out.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let Daemon {
            caspar,
            server_task,
            engine_task,
            caspar_task,
            others,
            lease,
            ..
        } = self;
        let orderly = async {
            // Sessions send `shutdown` and close; the engine leaves its loop.
            let _ = server_task.await;
            let _ = engine_task.await;
            // The link goes last and only closes its socket: never STOP, never CLEAR.
            caspar.shutdown();
            for (handle, _) in &others {
                handle.shutdown();
            }
            let _ = caspar_task.await;
            for (_, task) in others {
                let _ = task.await;
            }
            // Last: no command can leave any more, so the other node may take over at once.
            if let Some(lease) = lease {
                lease.stop(LEASE_RELEASE_GRACE).await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, orderly).await.is_err() {
            tracing::warn!(
                "onair serve: shutdown grace period over; exiting with tasks still running"
            );
        }
    }
}

fn severity_of(kind: AlarmKind) -> Severity {
    match kind {
        AlarmKind::StateQuarantined
        | AlarmKind::RejectedExternalEdit
        | AlarmKind::TooManyPlaylists => Severity::Warning,
        _ => Severity::Critical,
    }
}

/// Binds and starts a server's OSC listener. Unset `osc_listen`: start on loopback and follow the
/// AMCP connection's local address once connected (the interface a server on another machine
/// reaches us on).
fn spawn_osc(
    server: &crate::config::ServerEntry,
    shutdown: &CancellationToken,
) -> anyhow::Result<OscTelemetry> {
    let link = &server.link;
    let addr = link
        .osc_listen
        .unwrap_or(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)));
    let osc = OscListener::bind(addr).with_context(|| {
        format!(
            "cannot bind the OSC listener of server {:?} on {addr}",
            server.name
        )
    })?;
    let osc = if link.osc_listen.is_none() {
        osc.following_link()
    } else {
        osc
    }
    .spawn(shutdown.child_token(), link.osc_stale_after);
    tracing::info!(server = %server.name, osc = %osc.local_addr(), "OSC listener bound");
    Ok(osc)
}

/// Raises the soft open-file limit to the hard one, so the connection cap (not a shell's default of
/// 1,024 or 256) decides how many clients fit; logs the limit in force either way.
pub fn raise_nofile_limit() {
    match server::listen::raise_nofile_limit() {
        Ok(limit) => tracing::info!(nofile = limit, "open-file limit"),
        Err(e) => tracing::warn!(
            error = %e,
            nofile = server::listen::nofile_limit(),
            "cannot raise the open-file limit; keeping it"
        ),
    }
}

/// Runs the daemon until SIGINT/SIGTERM; a second signal exits immediately.
pub async fn run(config: Config) -> anyhow::Result<()> {
    raise_nofile_limit();
    let daemon = Daemon::start(config).await?;
    // A plain line for people and for scripts that started us with port 0.
    eprintln!(
        "onair serve: listening on http://{} (WebSocket ws://{}/ws)",
        daemon.addr, daemon.addr
    );
    // Ready only now: the listener is bound and the engine runs (Type=notify units wait for this).
    crate::systemd::notify_ready();
    let watchdog_stop = CancellationToken::new();
    let watchdog = crate::systemd::spawn_watchdog(daemon.engine.clone(), watchdog_stop.clone());
    crate::shutdown::signal().await;
    crate::systemd::notify_stopping();
    watchdog_stop.cancel();
    if let Some(task) = watchdog {
        let _ = task.await;
    }
    tracing::info!("onair serve: shutting down (playout is left as it is)");
    tokio::spawn(async {
        crate::shutdown::signal().await;
        eprintln!("onair serve: second signal, exiting now");
        std::process::exit(130);
    });
    daemon.shutdown().await;
    tracing::info!("onair serve: stopped");
    Ok(())
}
