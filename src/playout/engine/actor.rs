//! The engine actor: the single owner of playlists and playout state.
//!
//! One task handles operator ops, link changes, channel observations and progress ticks in turn, so
//! playout decisions never race each other. State changes are published as a full snapshot (watch)
//! plus a sequenced event (broadcast), in that order.
//!
//! The loop never waits on CasparCG. Every AMCP exchange runs as its own task and comes back as an
//! [`Internal`] message: playout commands through a per-channel-layer lane (one in flight, strictly
//! in order; different layers in parallel, see `lanes`), INFO readings, the media rescan and the
//! OSC subscription on their own. Edits need no server and are answered once durable.
//!
//! - `build`: the engine made from its dependencies (restored playout, schedule, sides).
//! - `ops`: operator ops. `lanes`: the playout command queues and what each answer means.
//! - `schedule`: the 24/7 timeline planned and published; `fire`: fixed times taken on their frame.
//! - `follow`: autoplay arming, telemetry (OSC, INFO), AUTO switches. `reconcile`: after a
//!   (re)connect. `link`: link state and the media library. `publish`: snapshot, events, alarms,
//!   progress. `persist`: the state file, the as-run log, external edits. `staging`: edits
//!   reach the published state only once durable.
//! - `groups`: the station's independent servers; a playlist plays on one.
//! - `drive`: whether this daemon may send playout commands (always, unless a cluster's leader
//!   lease says otherwise).
//! - `graphics`: secondary events and the standing logo, planned from the on-air item's first
//!   frame (`graphics_plan`), sent on their frames and restored (`graphics_send`), by hand
//!   (`graphics_ops`).
//! - `sides`: a main/backup pair (commands to both, the side followed, catch-up after a
//!   reconnect); `pair_watch`: drift between the sides and the clips each one lacks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::observe::{ChannelObs, LayerObs};
use super::runtime::Runtime;
use super::state::{
    Alarm, Event, EventKind, LinkView, MediaView, Missing, Playout, ProgressMap, Severity, Snapshot,
};
use super::{EngineError, EngineHandle, EngineRequest, OpResult};
use crate::amcp::ChannelLayer;
use crate::caspar::osc::{OscState, OscTelemetry};
use crate::caspar::{CasparHandle, CommandError};
use crate::config::PlayoutConfig;
use crate::playout::asrun::AsRunWriter;
use crate::playout::engine::state::ServerRole;
use crate::playout::media::MediaLibrary;
use crate::playout::model::{Item, Limits, Playlist, PlaylistError, Slot};
use crate::playout::store::StoreWriter;
use crate::playout::watch::ExternalChange;
use crate::protocol::timeline::Timelines;
pub use drive::DriveUntil;
pub use groups::GroupDeps;
use groups::{Chan, Route};
use lanes::Lanes;
use persist::Persistence;
pub use sides::SideDeps;

/// An INFO reading counts as live telemetry this long (plus a second) after it was taken; with slow
/// polling the numbers between two readings are shown as stale rather than as frozen values.
const INFO_FRESH_FOR: Duration = Duration::from_secs(2);

/// An op's answer, sent when the op is done (an edit: durable; a playout action: answered by
/// CasparCG).
pub(crate) type Reply = tokio::sync::oneshot::Sender<Result<OpResult, EngineError>>;

/// What the engine's helper tasks report back: the loop's only way to learn about the network.
pub(crate) enum Internal {
    Alarm(Severity, &'static str, String),
    /// One side's answer to a lane's command (see `lanes`).
    Done(lanes::Done),
    /// An `INFO` reading of channel `ch` taken at `at` (`None`: it failed).
    Read {
        side: usize,
        ch: u16,
        obs: Option<ChannelObs>,
        at: tokio::time::Instant,
        /// When the reading was asked for: it shows every command handed to the link before.
        issued: tokio::time::Instant,
        why: follow::ReadWhy,
    },
    /// A side's media rescan finished.
    Media {
        side: usize,
        result: Result<MediaLibrary, String>,
    },
    /// The replicated journal answered the append of staged change `ticket` (cluster mode).
    Replicated {
        ticket: u64,
        result: Result<u64, crate::playout::replica::ReplicaError>,
    },
    /// The replicated journal's length, asked for on gaining the lease (cluster mode).
    Synced {
        result: Result<u64, crate::playout::replica::ReplicaError>,
    },
    /// A side's answers to a graphics step (see `graphics_send`).
    Graphics(graphics_send::GraphicsDone),
}

/// What the engine needs to run.
pub struct EngineDeps {
    /// The main server's link (named `main` unless `main` below says otherwise).
    pub caspar: CasparHandle,
    /// The main server's name and address, for the views.
    pub main: (String, String),
    /// The backup server fed the same playout commands, when the station has one.
    pub backup: Option<SideDeps>,
    /// The station's other servers (each with its backup, if any), after the main's group.
    pub more: Vec<GroupDeps>,
    /// In cluster mode, until when this daemon may drive the servers (its leader lease, fenced by
    /// time; `None` in the watch: it may not). Absent: one daemon, which always may (see `drive`).
    pub drive: Option<drive::DriveUntil>,
    /// In cluster mode, the station's replicated journal: edits go through it (see `replicate`).
    pub replica: Option<crate::playout::replica::ReplicaDeps>,
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
    /// Per filler playlist, the sequence number of its next play saved before a restart (the
    /// filler goes on where it stopped).
    pub restored_filler: BTreeMap<String, u64>,
    /// Per playlist, its on-air item's first frame as estimated before a restart (item id, ns
    /// since the epoch): graphics go on and off relative to it (see `graphics`).
    pub restored_graphics: BTreeMap<String, (String, i64)>,
    /// Playlists whose logo an operator took off by hand before a restart (it stays off).
    pub restored_logo_off: Vec<String>,
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
    /// The time the schedule plans and stamps with: the machine's clock, or a test's (a sped-up
    /// clock runs a day of schedule against a sped-up simulator in minutes).
    pub clock: Arc<dyn crate::schedule::Clock>,
}

impl EngineDeps {
    /// An engine over `caspar` with `playlists`, stopped by `shutdown`, and defaults for the rest:
    /// default playout configuration and limits, INFO polling every second, 10 progress updates a
    /// second, nothing restored, nothing persisted. The daemon and the tests both start here and
    /// set what they need with struct update syntax.
    pub fn new(
        caspar: CasparHandle,
        playlists: Vec<Playlist>,
        shutdown: CancellationToken,
    ) -> EngineDeps {
        EngineDeps {
            caspar,
            main: ("main".to_owned(), String::new()),
            backup: None,
            more: Vec::new(),
            drive: None,
            replica: None,
            config: PlayoutConfig::default(),
            limits: Limits::default(),
            poll_interval: Duration::from_secs(1),
            progress_hz: 10,
            playlists,
            restored: BTreeMap::new(),
            restored_filler: BTreeMap::new(),
            restored_graphics: BTreeMap::new(),
            restored_logo_off: Vec::new(),
            selected: None,
            osc: None,
            store: None,
            asrun: None,
            external: None,
            startup_alarms: Vec::new(),
            shutdown,
            clock: Arc::new(crate::schedule::SystemClock),
        }
    }
}

/// Starts the engine task.
pub fn spawn(mut deps: EngineDeps) -> (EngineHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(256);
    let (snapshot_tx, snapshot) = watch::channel(Arc::new(Snapshot::default()));
    let (events, _) = broadcast::channel(4096);
    let (progress_tx, progress) = watch::channel(Arc::new(ProgressMap::new()));
    let (timeline_tx, timeline) = watch::channel(Arc::new(Timelines::default()));
    let handle = EngineHandle {
        tx,
        snapshot,
        events: events.clone(),
        progress,
        timeline,
    };
    let startup_alarms = std::mem::take(&mut deps.startup_alarms);
    let external = deps.external.take();
    let mut engine = Engine::new(deps, snapshot_tx, events, progress_tx, timeline_tx);
    // The load's alarms belong to the first snapshot: a client that connects at once must see
    // that a playlist was restored from its backup, not only a client that happens to be later.
    for (severity, message) in startup_alarms {
        engine.raise(severity, "store", message);
    }
    engine.unrouted_alarms();
    // Nothing is known of a graphics layer before reconciliation has read it.
    let chans: Vec<_> = engine
        .playlists
        .values()
        .filter_map(|pl| engine.route_of(pl))
        .map(groups::Route::chan)
        .collect();
    engine.graphics.unknown.extend(chans);
    // Before the handle exists: a client that connects at once must get the loaded state, never
    // the empty placeholder (at the same seq 0, its events would then apply to nothing).
    engine.publish_snapshot();
    let task = tokio::spawn(async move {
        engine.run(rx, external).await;
        engine.finish().await;
    });
    (handle, task)
}

struct Engine {
    /// The station's servers: each group's main, then its backup when there is one (see `sides`).
    sides: Vec<sides::Side>,
    /// The independent servers (see `groups`); the first is where playlists without a `server`
    /// play.
    groups: Vec<groups::Group>,
    /// The leader lease's validity, in cluster mode (see `drive`).
    drive: Option<drive::DriveUntil>,
    /// Whether the engine drives the servers (last seen; `may_drive` is the instant's truth).
    driving: bool,
    /// In cluster mode, the replicated journal (see `replicate`).
    replica: Option<replicate::Replica>,
    /// Its entries, until the loop takes them.
    replica_entries: Option<mpsc::Receiver<crate::playout::replica::Delivered>>,
    config: PlayoutConfig,
    limits: Limits,
    poll_interval: Duration,
    progress_hz: u32,
    shutdown: CancellationToken,
    /// The published playlists: exactly what is durable.
    playlists: BTreeMap<String, Playlist>,
    /// Edits on their way to disk and the playlists as they will be.
    staging: staging::Staging,
    /// Per playlist, the ids of items whose clip the media library lacks, sorted.
    missing: BTreeMap<String, Missing>,
    playout: BTreeMap<String, Runtime>,
    selected: Option<String>,
    media_view: Arc<MediaView>,
    alarms: Vec<Alarm>,
    next_alarm: u64,
    link: LinkView,
    seq: u64,
    /// Last observation per layer and when it was made.
    observed: HashMap<Route, (LayerObs, tokio::time::Instant)>,
    /// What a reading can prove about an AUTO switch (confirmations per layer and side).
    proof: proof::Proof,
    frame_rates: HashMap<Chan, (u32, u32)>,
    /// When each channel was last read with INFO (OSC freshness is tracked by the listener).
    info_read_at: HashMap<Chan, tokio::time::Instant>,
    /// Channels with an INFO reading on its way, per side (one at a time per channel).
    reading: HashSet<(usize, u16)>,
    /// Playout commands per channel-layer.
    lanes: Lanes,
    /// Ops waiting for the media rescan in flight (`Some` while one runs).
    rescan_waiters: Option<Vec<Reply>>,
    /// Groups whose share of that rescan has not answered yet.
    rescan_groups: HashSet<usize>,
    /// Sides with a rescan on its way.
    rescanning: HashSet<usize>,
    progress: ProgressMap,
    /// Per playlist, where its on-air item is and the seconds after it (see `publish`).
    progress_later: HashMap<String, publish::Later>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<Arc<Event>>,
    progress_tx: watch::Sender<Arc<ProgressMap>>,
    timeline_tx: watch::Sender<Arc<Timelines>>,
    persistence: Persistence,
    /// The 24/7 schedule: plans, fixed-time triggers, published timelines.
    scheduler: schedule::Scheduler,
    /// Graphics layers, their plan and their steps (see `graphics`).
    graphics: graphics::Graphics,
    /// Starts the schedule made, until the item is on air (for the as-run log).
    pending_starts: HashMap<(String, String), fire::PlannedStart>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<Internal>>,
}

impl Engine {
    /// Nanoseconds since the Unix epoch on the engine's clock (the machine's, or a test's).
    fn now_ns(&self) -> i64 {
        self.scheduler.clock.wall()
    }

    /// Milliseconds since the Unix epoch on the engine's clock.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.now_ns() / 1_000_000).unwrap_or(0)
    }

    /// The wall-clock time (Unix ms) of a monotonic instant in the past, e.g. when a reply arrived.
    fn wall_ms_at(&self, at: tokio::time::Instant) -> u64 {
        let speed = u128::from(self.scheduler.clock.speed());
        let ago = u64::try_from(at.elapsed().as_millis() * speed).unwrap_or(u64::MAX);
        self.now_ms().saturating_sub(ago)
    }
}

impl Engine {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<EngineRequest>,
        external: Option<mpsc::Receiver<ExternalChange>>,
    ) {
        let (_no_external, idle_external) = mpsc::channel(1);
        let mut external = external.unwrap_or(idle_external);
        let (_no_internal, idle_internal) = mpsc::unbounded_channel();
        let mut internal = self.internal_rx.take().unwrap_or(idle_internal);
        // The first reading happens on connect (reconciliation); polling starts one interval later.
        let mut poll = tokio::time::interval_at(
            tokio::time::Instant::now() + self.poll_interval,
            self.poll_interval,
        );
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut progress = tokio::time::interval(Duration::from_secs(1) / self.progress_hz);
        progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.publish_servers();
        // Every side's link and OSC state as one stream each: a watch keeps only the latest state,
        // so a burst of OSC bundles is read once, and no side can starve another.
        let mut links = futures_util::stream::SelectAll::new();
        let mut oscs = futures_util::stream::SelectAll::new();
        for side in 0..self.sides.len() {
            let mut rx = self.sides[side].caspar.watch_state();
            let initial = rx.borrow_and_update().clone();
            self.on_side_link(side, initial);
            links.push(changes(side, rx));
            if let Some(osc) = &self.sides[side].osc {
                oscs.push(changes(side, osc.subscribe()));
            }
        }
        let (_no_lease, idle_drive) = watch::channel(None);
        let mut drive_rx = self.drive.clone().unwrap_or(idle_drive);
        let (_no_journal, idle_entries) = mpsc::channel(1);
        let mut entries = self.replica_entries.take().unwrap_or(idle_entries);
        let (_no_target, idle_target) = watch::channel(Some(0));
        let mut journal_length = self
            .replica
            .as_ref()
            .map_or(idle_target, replicate::Replica::target);
        loop {
            let schedule_at = self.scheduler.deadline();
            let graphics_at = self.graphics_deadline();
            let drive_at = self.drive_deadline();
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                // The lease lapses at its instant even when no renewal answer says so.
                () = tokio::time::sleep_until(drive_at) => self.on_drive_change(),
                Ok(()) = drive_rx.changed() => self.on_drive_change(),
                Ok(()) = journal_length.changed() => self.on_drive_change(),
                // Before anything else that is ready: a fixed-time take must leave on its frame.
                () = tokio::time::sleep_until(schedule_at) => self.on_schedule(),
                // A graphic goes on or off on its frame as well.
                () = tokio::time::sleep_until(graphics_at) => self.graphics_due(),
                // Answers first: they unblock lanes and carry the times as-run starts are stamped
                // with.
                Some(msg) = internal.recv() => self.on_internal(msg).await,
                Some((ticket, result)) = self.staging.answers.next(),
                    if !self.staging.answers.is_empty() => self.on_durable(ticket, result),
                Some(entry) = entries.recv() => self.on_entry(entry).await,
                req = rx.recv() => match req {
                    Some(EngineRequest { op, reply }) => self.op(op, reply).await,
                    None => break,
                },
                Some(change) = external.recv() => self.on_external(change).await,
                Some((side, state)) = links.next() => self.on_side_link(side, state),
                Some((side, state)) = oscs.next() => self.on_osc(side, &state),
                _ = poll.tick() => self.poll(),
                _ = progress.tick() => self.publish_progress(),
            }
            self.graphics_sync();
            self.save_state();
        }
    }

    async fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::Alarm(severity, kind, message) => self.raise(severity, kind, message),
            Internal::Done(done) => self.on_done(done),
            Internal::Read {
                side,
                ch,
                obs,
                at,
                issued,
                why,
            } => self.on_read(side, ch, obs, (at, issued), why),
            Internal::Media { side, result } => self.on_media(side, result).await,
            Internal::Graphics(done) => self.on_graphics_done(done),
            Internal::Replicated { ticket, result } => self.on_replicated(ticket, result).await,
            Internal::Synced { result } => self.on_synced(result),
        }
    }

    /// After the loop: make everything durable. Playout is left exactly as it is.
    async fn finish(&mut self) {
        self.persist_all().await;
        tracing::info!("engine: stopped (playout left as it is)");
    }

    /// The runtime of a playlist (created on first use, so every playlist has one).
    fn runtime(&mut self, id: &str) -> &mut Runtime {
        self.playout.entry(id.to_owned()).or_default()
    }
}

/// The states a watch takes after the current one, tagged with `side`; ends when the sender goes.
fn changes<T: Clone + Send + Sync + 'static>(
    side: usize,
    rx: watch::Receiver<T>,
) -> futures_util::stream::BoxStream<'static, (usize, T)> {
    Box::pin(futures_util::stream::unfold(rx, move |mut rx| async move {
        rx.changed().await.ok()?;
        let state = rx.borrow_and_update().clone();
        Some(((side, state), rx))
    }))
}

/// Copies a clip's length and rate from the media library into an item, when the library has it.
fn fill_from_media(media: &MediaLibrary, item: &mut Item) {
    if let Some(e) = media.get(&item.clip) {
        item.frames = Some(e.frames);
        item.fps = e.fps_fraction();
    }
}

/// The item with its clip's length and rate from the library, when that changes it (`None`:
/// already up to date, so a shared item is not copied for nothing).
fn filled(media: &MediaLibrary, item: &Item) -> Option<Item> {
    let e = media.get(&item.clip)?;
    let (frames, fps) = (Some(e.frames), e.fps_fraction());
    (item.frames != frames || item.fps != fps).then(|| Item {
        frames,
        fps,
        ..item.clone()
    })
}

/// [`filled`] in place on a shared item.
fn fill_shared(media: &MediaLibrary, item: &mut Slot) {
    if let Some(new) = filled(media, item) {
        *item = Slot::from(new);
    }
}

mod build;
mod drive;
mod fire;
mod follow;
mod graphics;
mod graphics_ops;
mod graphics_plan;
mod graphics_send;
mod groups;
mod lanes;
mod layer;
mod link;
mod ops;
mod pair_watch;
mod persist;
mod proof;
mod publish;
mod reconcile;
mod replicate;
mod schedule;
mod schedule_checks;
mod sides;
mod staging;
