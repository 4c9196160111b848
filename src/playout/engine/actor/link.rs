//! The AMCP link as the engine sees it, and the media library. On every connect the OSC
//! subscription, a media rescan and reconciliation start in the background; their answers come
//! back as [`Internal`] messages, so a slow scanner (CLS can take many seconds) holds up nothing.

use super::staging::Durable;
use super::*;
use crate::caspar::LinkState;
use crate::playout::change::Change;
use crate::playout::engine::state::ClipView;
use crate::playout::media;

impl Engine {
    /// Group `g`'s link changed: its first server came up, or its last one went down (with a
    /// backup, one side going while the other stays is handled in `sides`).
    pub(super) fn on_link(&mut self, g: usize, state: LinkState) {
        self.groups[g].link = state.clone();
        let view = self.station_link();
        if view != self.link {
            self.link = view.clone();
            self.publish(EventKind::Link { link: view });
        }
        let name = self.groups[g].name.clone();
        let alarm_prefix = if self.groups.len() > 1 {
            format!("CasparCG server {name:?} link")
        } else {
            "CasparCG link".to_owned()
        };
        if let LinkState::Connected { .. } = &state {
            let stale: Vec<String> = self
                .alarms
                .iter()
                .filter(|a| a.kind == "caspar" && a.message.starts_with(&alarm_prefix))
                .map(|a| a.message.clone())
                .collect();
            for message in stale {
                self.clear_alarm("caspar", &message);
            }
            // A failed rescan raises its own alarm; playout goes on without it.
            self.start_group_rescan(g);
            // A daemon that does not lead reconciles when it takes over (see `drive`).
            if self.driving {
                self.reconcile_group(g);
            }
            // Fixed times wait for the link: plan again now. Channels are not read here: a poll
            // racing reconciliation's reading could see a layer still empty after a recovery and
            // hold it; a channel's rate comes with its first reading, and until then a fixed time
            // leads by the fastest rate's margin (see `fire`).
            for id in self.playlists_of(g) {
                self.scheduler.touch(&id);
            }
        } else if let LinkState::Disconnected { reason, .. } = &state {
            self.observed.retain(|r, _| r.group != g);
            self.graphics_link_lost(g);
            let on_air = self.playout.iter().any(|(id, p)| {
                p.on_air().is_some() && self.route(id).is_some_and(|r| r.group == g)
            });
            if on_air {
                self.raise(
                    Severity::Critical,
                    "caspar",
                    format!("{alarm_prefix} down: {reason}"),
                );
            }
        }
    }

    /// Asks the server to send OSC to our listener (2.4+; the subscription lives as long as the AMCP
    /// connection, so it is renewed on every connect). On 2.3 the server sends to the configured port.
    pub(super) fn subscribe_osc(&mut self, side: usize, server_version: &str) {
        let Some(osc) = self.sides[side].osc.as_ref() else {
            return;
        };
        // First move the listener to where this connection reaches us (when it follows the link),
        // so the port subscribed below is the one the server can send to.
        if let Some(local) = self.sides[side].caspar.local_addr()
            && let Err(e) = osc.follow_link(local.ip())
        {
            tracing::warn!(error = %e, to = %local.ip(), "cannot move the OSC listener; keeping it");
        }
        let port = osc.local_addr().port();
        let v24 =
            crate::amcp::body::parse_version(server_version).is_ok_and(|v| v.is_at_least(2, 4));
        if !v24 {
            return;
        }
        let (caspar, internal) = (self.sides[side].caspar.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            if let Err(e) = caspar.send(crate::amcp::Command::OscSubscribe(port)).await {
                let message = format!(
                    "OSC SUBSCRIBE {port} failed ({e}); following playout with INFO polling"
                );
                let _ = internal.send(Internal::Alarm(Severity::Warning, "osc", message));
            }
        });
    }

    /// Starts a rescan of every group unless one is running; `waiter` (a `media.rescan` op) is
    /// answered when each group's lead has answered.
    pub(super) fn start_rescan(&mut self, waiter: Option<Reply>) {
        if let Some(waiters) = &mut self.rescan_waiters {
            waiters.extend(waiter);
            return;
        }
        self.rescan_waiters = Some(waiter.into_iter().collect());
        self.rescan_groups = (0..self.groups.len()).collect();
        for g in 0..self.groups.len() {
            self.start_group_rescan(g);
        }
    }

    /// Scans group `g`'s servers. The lead's library is the group's (durations, missing clips);
    /// each other side's is scanned too, for the clips it alone lacks.
    pub(super) fn start_group_rescan(&mut self, g: usize) {
        let lead = self.lead(g);
        self.groups[g].rescan_lead = lead;
        for side in self.groups[g].sides.clone() {
            if side == lead || self.sides[side].view.connected {
                self.start_side_rescan(side);
            }
        }
    }

    /// Scans one side's media library (unless a scan of it is on its way).
    pub(super) fn start_side_rescan(&mut self, side: usize) {
        if !self.rescanning.insert(side) {
            return;
        }
        let (caspar, internal) = (self.sides[side].caspar.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let result = media::refresh(&caspar).await.map_err(|e| e.to_string());
            let _ = internal.send(Internal::Media { side, result });
        });
    }

    pub(super) async fn on_media(&mut self, side: usize, result: Result<MediaLibrary, String>) {
        self.rescanning.remove(&side);
        if let Ok(library) = &result {
            let clips = library
                .entries()
                .iter()
                .map(|e| e.name.to_uppercase())
                .collect();
            self.side_library(side, clips);
        }
        // A group's library is its lead's: a scan of the side that leads now is applied (the lead
        // may have changed since the scan began: the new lead is scanned then, see `check_lead`);
        // the group's share of an operator's rescan is answered by the side it began with.
        let g = self.sides[side].group;
        let is_lead = side == self.lead(g);
        let answers = side == self.groups[g].rescan_lead && self.rescan_groups.contains(&g);
        if !is_lead && !answers {
            return;
        }
        let answer = match result {
            Ok(library) if is_lead => Ok(self.apply_media(g, library).await),
            Ok(library) => Ok(library.len()),
            Err(message) => Err(self.media_failed(message)),
        };
        if !answers {
            return;
        }
        self.rescan_groups.remove(&g);
        if let Err(e) = answer {
            // One group failed: the op fails with its error (the others' libraries still apply).
            self.rescan_groups.clear();
            for reply in self.rescan_waiters.take().unwrap_or_default() {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        if !self.rescan_groups.is_empty() {
            return;
        }
        let clips = self.media_view.clips.len();
        for reply in self.rescan_waiters.take().unwrap_or_default() {
            let _ = reply.send(Ok(OpResult {
                clips: Some(clips),
                ..OpResult::default()
            }));
        }
    }

    /// Group `g`'s library changed. The media view lists every group's clips (the first group's
    /// entry where two have a clip of the same name).
    async fn apply_media(&mut self, g: usize, library: MediaLibrary) -> usize {
        let n = library.len();
        self.groups[g].media = Arc::new(library);
        let mut seen = HashSet::new();
        let clips = self
            .groups
            .iter()
            .flat_map(|g| g.media.entries())
            .filter(|e| seen.insert(e.name.to_uppercase()))
            .map(|e| ClipView {
                name: e.name.clone(),
                kind: format!("{:?}", e.kind).to_uppercase(),
                duration: e.duration_secs(),
            })
            .collect();
        self.media_view = Arc::new(MediaView {
            clips,
            updated_ms: Some(self.now_ms()),
            error: None,
        });
        self.clear_alarms("media");
        self.publish(EventKind::Media {
            media: self.media_view.clone(),
        });
        let ids = self.playlists_of(g);
        for id in &ids {
            if self.recompute_missing(id) {
                let missing = self.missing.get(id).cloned().unwrap_or_default();
                self.publish(EventKind::Missing {
                    playlist: id.clone(),
                    missing,
                });
            }
        }
        self.fill_durations().await;
        n
    }

    fn media_failed(&mut self, message: String) -> EngineError {
        Arc::make_mut(&mut self.media_view).error = Some(message.clone());
        self.raise(
            Severity::Warning,
            "media",
            format!("media library not updated: {message}"),
        );
        EngineError::MediaRescan(message)
    }

    /// Copies clip lengths and rates from the media library into the items that lack them or
    /// have others (for durations and remaining time): each is an edit like an operator's, saved
    /// before it is applied, and sent as an `item_updated` event.
    pub(super) async fn fill_durations(&mut self) {
        let mut changes = Vec::new();
        for (id, pl) in &self.staging.playlists {
            let media = self.media_of(pl);
            for (index, item) in pl.items.iter().enumerate() {
                if let Some(new) = super::filled(&media, item) {
                    let change = Change::ItemUpdated {
                        index,
                        item: Arc::new(new),
                    };
                    changes.push((id.clone(), change));
                }
            }
        }
        for (id, change) in changes {
            let limits = self.limits;
            let Some(p) = self.staging.playlists.get_mut(&id) else {
                continue;
            };
            let revision = p.revision + 1;
            if p.apply(&change, revision, &limits).is_ok() {
                let what = Durable::Edit {
                    playlist: id,
                    revision,
                    change,
                };
                self.stage(what, None, OpResult::default()).await;
            }
        }
    }
}
