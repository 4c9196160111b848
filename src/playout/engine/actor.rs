//! The engine actor: the single owner of playlists and playout state.
//!
//! One task handles operator ops, link changes, channel observations and progress ticks in turn, so
//! playout decisions never race each other. State changes are published as a full snapshot (watch)
//! plus a sequenced event (broadcast), in that order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::observe::{self, ChannelObs, LayerObs};
use super::state::{
    Alarm, ClipView, Event, EventKind, LinkView, MediaView, PlaylistView, Playout, Progress,
    ProgressMap, Severity, Snapshot, Status, TelemetrySource,
};
use super::{EngineError, EngineHandle, NewItem, Op, OpResult, Request, transport};
use crate::amcp::body::parse_info_xml;
use crate::amcp::{ChannelLayer, Command};
use crate::caspar::osc::{OscState, OscTelemetry};
use crate::caspar::{CasparHandle, CommandError, LinkState};
use crate::config::{PlayoutConfig, Recovery};
use crate::playout::asrun::AsRunWriter;
use crate::playout::media::{self, MediaLibrary};
use crate::playout::model::{Item, Limits, Playlist, PlaylistError, new_item_id, slug};
use crate::playout::store::StoreWriter;
use crate::playout::watch::ExternalChange;
use persist::{Internal, Persistence};

/// An INFO reading counts as live telemetry this long (plus a second) after it was taken; with slow
/// polling the numbers between two readings are shown as stale rather than as frozen values.
const INFO_FRESH_FOR: Duration = Duration::from_secs(2);

/// What the engine needs to run.
pub struct EngineDeps {
    pub caspar: CasparHandle,
    pub config: PlayoutConfig,
    pub limits: Limits,
    /// How often channels are read with `INFO` to follow playout.
    pub poll_interval: Duration,
    /// How often progress is published.
    pub progress_hz: u32,
    /// Playlists loaded from the store.
    pub playlists: Vec<Playlist>,
    /// Playout state saved before a restart, per playlist id.
    pub restored: BTreeMap<String, Playout>,
    pub selected: Option<String>,
    /// OSC telemetry; without it (or while it is stale) channels are polled with `INFO`.
    pub osc: Option<OscTelemetry>,
    /// Where playlists and the playout state are saved; `None` keeps everything in memory.
    pub store: Option<StoreWriter>,
    /// Where item starts and ends are logged.
    pub asrun: Option<AsRunWriter>,
    /// Playlist files changed by someone else.
    pub external: Option<mpsc::Receiver<ExternalChange>>,
    /// Problems found before the engine started (store recoveries): raised as alarms at once.
    pub startup_alarms: Vec<(Severity, String)>,
    pub shutdown: CancellationToken,
}

/// Starts the engine task.
pub fn spawn(mut deps: EngineDeps) -> (EngineHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(256);
    let (snapshot_tx, snapshot) = watch::channel(Arc::new(Snapshot::default()));
    let (events, _) = broadcast::channel(4096);
    let (progress_tx, progress) = watch::channel(Arc::new(ProgressMap::new()));
    let handle = EngineHandle {
        tx,
        snapshot,
        events: events.clone(),
        progress,
    };
    let startup_alarms = std::mem::take(&mut deps.startup_alarms);
    let external = deps.external.take();
    let mut engine = Engine::new(deps, snapshot_tx, events, progress_tx);
    let task = tokio::spawn(async move {
        engine.publish_snapshot();
        for (severity, message) in startup_alarms {
            engine.raise(severity, "store", message);
        }
        engine.run(rx, external).await;
        engine.finish().await;
    });
    (handle, task)
}

struct Engine {
    caspar: CasparHandle,
    config: PlayoutConfig,
    limits: Limits,
    poll_interval: Duration,
    progress_hz: u32,
    osc: Option<OscTelemetry>,
    shutdown: CancellationToken,
    playlists: BTreeMap<String, Playlist>,
    playout: BTreeMap<String, Playout>,
    selected: Option<String>,
    media: Arc<MediaLibrary>,
    media_view: MediaView,
    alarms: Vec<Alarm>,
    next_alarm: u64,
    link: LinkView,
    seq: u64,
    /// Last observation per channel-layer and when it was made.
    observed: HashMap<ChannelLayer, (LayerObs, tokio::time::Instant)>,
    frame_rates: HashMap<u16, (u32, u32)>,
    /// When each channel was last read with INFO (OSC freshness is tracked by the listener).
    info_read_at: HashMap<u16, tokio::time::Instant>,
    progress: ProgressMap,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<Arc<Event>>,
    progress_tx: watch::Sender<Arc<ProgressMap>>,
    persistence: Persistence,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<Internal>>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Engine {
    fn new(
        deps: EngineDeps,
        snapshot_tx: watch::Sender<Arc<Snapshot>>,
        events: broadcast::Sender<Arc<Event>>,
        progress_tx: watch::Sender<Arc<ProgressMap>>,
    ) -> Self {
        let playlists: BTreeMap<_, _> = deps
            .playlists
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (asrun, asrun_task) = match deps.asrun {
            Some(w) => {
                let (tx, task) = persist::spawn_asrun(w, internal_tx.clone());
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let persistence = Persistence {
            store: deps.store,
            asrun,
            asrun_task,
            ..Persistence::default()
        };
        let mut playout = BTreeMap::new();
        for id in playlists.keys() {
            playout.insert(
                id.clone(),
                deps.restored.get(id).cloned().unwrap_or_default(),
            );
        }
        let selected = deps
            .selected
            .filter(|s| playlists.contains_key(s))
            .or_else(|| playlists.keys().next().cloned());
        Engine {
            caspar: deps.caspar,
            config: deps.config,
            limits: deps.limits,
            poll_interval: deps.poll_interval,
            progress_hz: deps.progress_hz.clamp(1, 50),
            osc: deps.osc,
            shutdown: deps.shutdown,
            playlists,
            playout,
            selected,
            media: Arc::new(MediaLibrary::default()),
            media_view: MediaView::default(),
            alarms: Vec::new(),
            next_alarm: 1,
            link: LinkView {
                state: "connecting".into(),
                ..LinkView::default()
            },
            seq: 0,
            observed: HashMap::new(),
            frame_rates: HashMap::new(),
            info_read_at: HashMap::new(),
            progress: ProgressMap::new(),
            snapshot_tx,
            events,
            progress_tx,
            persistence,
            internal_tx,
            internal_rx: Some(internal_rx),
        }
    }

    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Request>,
        external: Option<mpsc::Receiver<ExternalChange>>,
    ) {
        let (_no_external, idle_external) = mpsc::channel(1);
        let mut external = external.unwrap_or(idle_external);
        let (_no_internal, idle_internal) = mpsc::unbounded_channel();
        let mut internal = self.internal_rx.take().unwrap_or(idle_internal);
        let mut link_rx = self.caspar.watch_state();
        // The first reading happens on connect (reconciliation); polling starts one interval later.
        let mut poll = tokio::time::interval_at(
            tokio::time::Instant::now() + self.poll_interval,
            self.poll_interval,
        );
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut progress = tokio::time::interval(Duration::from_secs(1) / self.progress_hz);
        progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let initial = link_rx.borrow_and_update().clone();
        self.on_link(initial).await;
        // Without OSC this receiver never changes, which keeps the select below uniform.
        let (_no_osc, idle) = watch::channel(Arc::new(OscState::default()));
        let mut osc_rx = self.osc.as_ref().map_or(idle, OscTelemetry::subscribe);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                req = rx.recv() => match req {
                    Some(Request { op, reply }) => {
                        let result = self.op(op).await;
                        let (result, acks) = match self.queue_saves().await {
                            Ok(acks) => (result, acks),
                            Err(e) => (Err(e), Vec::new()),
                        };
                        self.reply_when_durable(result, acks, reply);
                    }
                    None => break,
                },
                Some(msg) = internal.recv() => match msg {
                    Internal::Alarm(severity, kind, message) => self.raise(severity, kind, message),
                },
                Some(change) = external.recv() => self.on_external(change).await,
                changed = link_rx.changed() => {
                    if changed.is_err() { break; }
                    let state = link_rx.borrow_and_update().clone();
                    self.on_link(state).await;
                }
                changed = osc_rx.changed() => {
                    if changed.is_ok() {
                        let state = osc_rx.borrow_and_update().clone();
                        self.on_osc(&state).await;
                    }
                }
                _ = poll.tick() => self.poll().await,
                _ = progress.tick() => self.publish_progress(),
            }
            self.save_state();
        }
    }

    /// After the loop: make everything durable. Playout is left exactly as it is.
    async fn finish(&mut self) {
        self.persist_all().await;
        tracing::info!("engine: stopped (playout left as it is)");
    }

    // ---- publication -------------------------------------------------------------------------

    fn view(&self, id: &str) -> Option<PlaylistView> {
        let playlist = self.playlists.get(id)?.clone();
        let missing = if self.media.is_empty() {
            Vec::new()
        } else {
            playlist
                .items
                .iter()
                .filter(|i| self.media.missing(&i.clip))
                .map(|i| i.id.clone())
                .collect()
        };
        let playout = self.playout.get(id).cloned().unwrap_or_default();
        Some(PlaylistView {
            playlist,
            playout,
            missing,
        })
    }

    fn publish_snapshot(&self) {
        let snapshot = Snapshot {
            seq: self.seq,
            selected: self.selected.clone(),
            playlists: self
                .playlists
                .keys()
                .filter_map(|id| self.view(id))
                .collect(),
            link: self.link.clone(),
            media: self.media_view.clone(),
            alarms: self.alarms.clone(),
            progress: self.progress.clone(),
        };
        self.snapshot_tx.send_replace(Arc::new(snapshot));
    }

    fn publish(&mut self, kind: EventKind) {
        self.seq += 1;
        self.publish_snapshot();
        // No receivers is fine: nobody is connected.
        let _ = self.events.send(Arc::new(Event {
            seq: self.seq,
            kind,
        }));
    }

    fn publish_playlist(&mut self, id: &str) {
        if let Some(view) = self.view(id) {
            self.publish(EventKind::Playlist {
                playlist: Box::new(view),
            });
        }
    }

    fn raise(&mut self, severity: Severity, kind: &str, message: String) {
        tracing::warn!(kind, %message, "alarm");
        // The same condition raised again replaces the older alarm instead of piling up.
        if let Some(pos) = self
            .alarms
            .iter()
            .position(|a| a.kind == kind && a.message == message)
        {
            let old = self.alarms.remove(pos);
            self.publish(EventKind::AlarmCleared { id: old.id });
        }
        let alarm = Alarm {
            id: self.next_alarm,
            severity,
            kind: kind.into(),
            message,
            raised_ms: now_ms(),
        };
        self.next_alarm += 1;
        self.alarms.push(alarm.clone());
        if self.alarms.len() > 100 {
            let old = self.alarms.remove(0);
            self.publish(EventKind::AlarmCleared { id: old.id });
        }
        self.publish(EventKind::AlarmRaised { alarm });
    }

    fn clear_alarms(&mut self, kind: &str) {
        let ids: Vec<u64> = self
            .alarms
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.id)
            .collect();
        for id in ids {
            self.alarms.retain(|a| a.id != id);
            self.publish(EventKind::AlarmCleared { id });
        }
    }

    fn publish_progress(&mut self) {
        let mut map = ProgressMap::new();
        for (id, p) in &self.playout {
            let (Some(on_air), Some(pl)) = (p.on_air.as_deref(), self.playlists.get(id)) else {
                continue;
            };
            let obs = self.observed.get(&pl.channel_layer).map(|(o, _)| o);
            let item = pl.item(on_air);
            let duration = obs
                .and_then(|o| o.length)
                .or_else(|| item.and_then(transport::item_seconds))
                .unwrap_or(0.0);
            let elapsed = obs
                .and_then(|o| o.elapsed)
                .unwrap_or(0.0)
                .min(duration.max(0.0));
            let remaining = (duration - elapsed).max(0.0);
            let later: f64 = pl
                .index_of(on_air)
                .map(|i| {
                    pl.items[i + 1..]
                        .iter()
                        .filter_map(transport::item_seconds)
                        .sum()
                })
                .unwrap_or(0.0);
            // Numbers are live only while OSC arrives or INFO answers keep coming; otherwise they
            // are the last known values and must be shown as stale.
            let observed_recently = self
                .info_read_at
                .get(&pl.channel_layer.channel)
                .is_some_and(|at| {
                    at.elapsed() <= INFO_FRESH_FOR.min(self.poll_interval) + Duration::from_secs(1)
                });
            let osc_fresh = self
                .osc
                .as_ref()
                .is_some_and(|o| !o.is_stale(pl.channel_layer.channel));
            let fresh = self.link.connected && obs.is_some() && (osc_fresh || observed_recently);
            map.insert(
                id.clone(),
                Progress {
                    elapsed,
                    remaining,
                    duration,
                    rundown_remaining: remaining + later,
                    fresh,
                },
            );
        }
        if map != self.progress {
            self.progress = map.clone();
            self.progress_tx.send_replace(Arc::new(map));
        }
    }

    // ---- link and media ----------------------------------------------------------------------

    async fn on_link(&mut self, state: LinkState) {
        let view = match &state {
            LinkState::Connected { server_version, .. } => LinkView {
                connected: true,
                server_version: Some(server_version.clone()),
                state: "connected".into(),
                telemetry: self.link.telemetry,
            },
            LinkState::Connecting { attempt } => LinkView {
                state: format!("connecting (attempt {attempt})"),
                ..LinkView::default()
            },
            LinkState::Disconnected { reason, .. } => LinkView {
                state: format!("down: {reason}"),
                ..LinkView::default()
            },
        };
        if view != self.link {
            self.link = view.clone();
            self.publish(EventKind::Link { link: view });
        }
        if let LinkState::Connected { server_version, .. } = &state {
            self.subscribe_osc(server_version).await;
        }
        if state.is_connected() {
            self.clear_alarms("caspar");
            // A failed rescan has already raised its alarm; playout goes on without it.
            let _ = self.rescan().await;
            self.reconcile_all().await;
        } else if matches!(state, LinkState::Disconnected { .. }) {
            self.observed.clear();
            if self.playout.values().any(|p| p.on_air.is_some()) {
                self.raise(
                    Severity::Critical,
                    "caspar",
                    format!("CasparCG link {}", self.link.state),
                );
            }
        }
    }

    async fn rescan(&mut self) -> Result<usize, EngineError> {
        let library = match media::refresh(&self.caspar).await {
            Ok(library) => library,
            Err(e) => return Err(self.media_failed(e.to_string())),
        };
        let n = library.len();
        let entries = library.entries();
        let clips = entries
            .iter()
            .map(|e| ClipView {
                name: e.name.clone(),
                kind: format!("{:?}", e.kind).to_uppercase(),
                duration: e.duration_secs(),
            })
            .collect();
        self.media_view = MediaView {
            clips,
            updated_ms: Some(now_ms()),
            error: None,
        };
        self.media = Arc::new(library);
        self.clear_alarms("media");
        self.fill_durations();
        self.publish(EventKind::Media {
            media: self.media_view.clone(),
        });
        let ids: Vec<String> = self.playlists.keys().cloned().collect();
        for id in ids {
            self.publish_playlist(&id);
        }
        Ok(n)
    }

    fn media_failed(&mut self, message: String) -> EngineError {
        self.media_view.error = Some(message.clone());
        self.raise(
            Severity::Warning,
            "media",
            format!("media library not updated: {message}"),
        );
        // The cause only: whoever asked for the rescan says what failed ("media rescan failed:
        // …"); saying it here too doubled it in every client.
        EngineError::Playout(message)
    }

    /// Copies clip lengths and rates from the media library into items (for durations and remaining time).
    fn fill_durations(&mut self) {
        let media = self.media.clone();
        for item in self
            .playlists
            .values_mut()
            .flat_map(|pl| pl.items.iter_mut())
        {
            fill_from_media(&media, item);
        }
    }
}

/// Copies a clip's length and rate from the media library into an item, when the library has it.
fn fill_from_media(media: &MediaLibrary, item: &mut Item) {
    if let Some(e) = media.get(&item.clip) {
        item.frames = Some(e.frames);
        item.fps = e.fps_fraction();
    }
}

mod ops;
mod persist;
mod run;
