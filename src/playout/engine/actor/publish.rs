//! Publication: the snapshot (watch), sequenced events (broadcast), alarms and progress.

use super::*;
use crate::playout::engine::state::{PlaylistView, Progress};
use crate::playout::engine::transport;
use crate::playout::items::Items;

/// Where a playlist's on-air item is and how many seconds of rundown follow it, for the items it
/// was computed on. Progress goes out on every reading (each OSC frame, each INFO answer): finding
/// the item and adding up the rest of a 10,000-item rundown each time would cost a scan per
/// reading, when the answer changes only with the item on air or an edit.
pub(super) struct Later {
    /// The items it was computed on: an O(1) clone, and `ptr_eq` with the playlist's items proves
    /// nothing changed (an edit makes new nodes, since this clone shares the old ones).
    items: Items,
    on_air: String,
    index: usize,
    seconds: f64,
}

impl Later {
    fn of(items: &Items, on_air: &str) -> Option<Later> {
        let index = crate::playout::items::position(items, on_air)?;
        let seconds = items
            .iter()
            .skip(index + 1)
            .filter_map(|i| transport::item_seconds(i))
            .sum();
        Some(Later {
            items: items.clone(),
            on_air: on_air.to_owned(),
            index,
            seconds,
        })
    }

    fn holds(&self, items: &Items, on_air: &str) -> bool {
        self.on_air == on_air && self.items.ptr_eq(items)
    }
}

impl Engine {
    pub(super) fn view(&self, id: &str) -> Option<PlaylistView> {
        // Cheap whatever the rundown: items are shared, `missing` is kept up to date by the edits.
        let playlist = self.playlists.get(id)?.clone();
        let missing = self.missing.get(id).cloned().unwrap_or_default();
        let playout = self
            .playout
            .get(id)
            .map(|r| r.view().clone())
            .unwrap_or_default();
        Some(PlaylistView {
            playlist,
            playout,
            missing,
        })
    }

    pub(super) fn publish_snapshot(&self) {
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
            graphics: self.graphics.view.clone(),
        };
        self.snapshot_tx.send_replace(Arc::new(snapshot));
    }

    pub(super) fn publish(&mut self, kind: EventKind) {
        if let Some(id) = kind.playlist_id() {
            // Whatever changed a playlist or its playout changes its timeline and its graphics.
            self.scheduler.touch(id);
            self.graphics_touch(id);
        }
        self.seq += 1;
        self.publish_snapshot();
        // No receivers is fine: nobody is connected.
        let _ = self.events.send(Arc::new(Event {
            seq: self.seq,
            kind,
        }));
    }

    /// What a playlist has on air, cued and next changed.
    pub(super) fn publish_playout(&mut self, id: &str) {
        let playout = self
            .playout
            .get(id)
            .map(|r| r.view().clone())
            .unwrap_or_default();
        self.publish(EventKind::Playout {
            playlist: id.to_owned(),
            playout,
        });
    }

    /// The whole playlist: only on creation and after it was replaced (an outside edit).
    pub(super) fn publish_playlist(&mut self, id: &str) {
        if let Some(view) = self.view(id) {
            self.publish(EventKind::Playlist {
                playlist: Box::new(view),
            });
        }
    }

    pub(super) fn raise(&mut self, severity: Severity, kind: &str, message: String) {
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
            raised_ms: self.now_ms(),
        };
        self.next_alarm += 1;
        self.alarms.push(alarm.clone());
        if self.alarms.len() > 100 {
            let old = self.alarms.remove(0);
            self.publish(EventKind::AlarmCleared { id: old.id });
        }
        self.publish(EventKind::AlarmRaised { alarm });
    }

    /// Clears the alarm of `kind` with exactly this text, if it is raised.
    pub(super) fn clear_alarm(&mut self, kind: &str, message: &str) {
        if let Some(pos) = self
            .alarms
            .iter()
            .position(|a| a.kind == kind && a.message == message)
        {
            let old = self.alarms.remove(pos);
            self.publish(EventKind::AlarmCleared { id: old.id });
        }
    }

    pub(super) fn clear_alarms(&mut self, kind: &str) {
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

    pub(super) fn publish_progress(&mut self) {
        let mut map = ProgressMap::new();
        self.progress_later
            .retain(|id, _| self.playout.get(id).is_some_and(|p| p.on_air().is_some()));
        for (id, p) in &self.playout {
            let (Some(on_air), Some(pl)) = (p.on_air(), self.playlists.get(id)) else {
                continue;
            };
            let Some(route) = self.route_of(pl) else {
                continue;
            };
            let later = match self.progress_later.get(id) {
                Some(l) if l.holds(&pl.items, on_air) => Some(l),
                _ => match Later::of(&pl.items, on_air) {
                    Some(l) => {
                        self.progress_later.insert(id.clone(), l);
                        self.progress_later.get(id)
                    }
                    None => None,
                },
            };
            let obs = self.observed.get(&route).map(|(o, _)| o);
            let item = later.and_then(|l| pl.items.get(l.index)).map(|s| &**s);
            let duration = obs
                .and_then(|o| o.length)
                .or_else(|| item.and_then(transport::item_seconds))
                .unwrap_or(0.0);
            let elapsed = obs
                .and_then(|o| o.elapsed)
                .unwrap_or(0.0)
                .min(duration.max(0.0));
            let remaining = (duration - elapsed).max(0.0);
            let later = later.map_or(0.0, |l| l.seconds);
            // Numbers are live only while OSC arrives or INFO answers keep coming; otherwise they
            // are the last known values and must be shown as stale.
            let observed_recently = self.info_read_at.get(&route.chan()).is_some_and(|at| {
                at.elapsed() <= INFO_FRESH_FOR.min(self.poll_interval) + Duration::from_secs(1)
            });
            let osc_fresh = self.sides[self.groups[route.group].followed]
                .osc
                .as_ref()
                .is_some_and(|o| !o.is_stale(route.channel));
            let fresh = self.group_connected(route.group)
                && obs.is_some()
                && (osc_fresh || observed_recently);
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
}
