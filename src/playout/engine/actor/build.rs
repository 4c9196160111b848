//! Building the engine from its dependencies: the restored playout, the schedule, the sides and
//! groups, the as-run and store writers.

use super::*;

impl Engine {
    pub(super) fn new(
        deps: EngineDeps,
        snapshot_tx: watch::Sender<Arc<Snapshot>>,
        events: broadcast::Sender<Arc<Event>>,
        progress_tx: watch::Sender<Arc<ProgressMap>>,
        timeline_tx: watch::Sender<Arc<Timelines>>,
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
        let (replica, replica_entries) = match deps.replica {
            Some(r) => (Some(replicate::Replica::new(&r)), Some(r.entries)),
            None => (None, None),
        };
        let playout = playlists
            .keys()
            .map(|id| {
                let restored = deps.restored.get(id).cloned().unwrap_or_default();
                (id.clone(), Runtime::restored(restored))
            })
            .collect();
        let selected = deps
            .selected
            .filter(|s| playlists.contains_key(s))
            .or_else(|| playlists.keys().next().cloned());
        let staging = staging::Staging::new(&playlists);
        let (mut scheduler, zone_problem) =
            schedule::Scheduler::new(&deps.config, deps.clock.clone());
        for id in playlists.keys() {
            scheduler.touch(id);
        }
        scheduler.filler_seq.extend(
            deps.restored_filler
                .into_iter()
                .filter(|(id, _)| playlists.get(id).is_some_and(|p| p.filler.is_some())),
        );
        if let Some(problem) = zone_problem {
            tracing::warn!(%problem, "schedule");
        }
        let first = GroupDeps {
            main: SideDeps {
                name: deps.main.0,
                address: deps.main.1,
                caspar: deps.caspar,
                osc: deps.osc,
            },
            backup: deps.backup,
        };
        let (sides, groups) = groups::build(std::iter::once(first).chain(deps.more));
        let mut graphics = graphics::Graphics::default();
        graphics.logo_off.extend(deps.restored_logo_off);
        graphics.anchors.extend(
            deps.restored_graphics
                .into_iter()
                .map(|(id, (item, start_ns))| (id, graphics::Anchor { item, start_ns })),
        );
        Engine {
            graphics,
            scheduler,
            pending_starts: HashMap::new(),
            staging,
            missing: BTreeMap::new(),
            sides,
            groups,
            driving: deps
                .drive
                .as_ref()
                .is_none_or(|rx| rx.borrow().is_some_and(|u| tokio::time::Instant::now() < u)),
            drive: deps.drive,
            replica,
            replica_entries,
            config: deps.config,
            limits: deps.limits,
            poll_interval: deps.poll_interval,
            progress_hz: deps.progress_hz.clamp(1, 50),
            shutdown: deps.shutdown,
            playlists,
            playout,
            selected,
            media_view: Arc::default(),
            alarms: Vec::new(),
            next_alarm: 1,
            link: LinkView {
                state: "connecting".into(),
                ..LinkView::default()
            },
            seq: 0,
            observed: HashMap::new(),
            proof: proof::Proof::default(),
            frame_rates: HashMap::new(),
            info_read_at: HashMap::new(),
            reading: HashSet::new(),
            lanes: Lanes::default(),
            rescan_waiters: None,
            rescan_groups: HashSet::new(),
            rescanning: HashSet::new(),
            progress: ProgressMap::new(),
            progress_later: HashMap::new(),
            snapshot_tx,
            events,
            progress_tx,
            timeline_tx,
            persistence,
            internal_tx,
            internal_rx: Some(internal_rx),
        }
    }
}
