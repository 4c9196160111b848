//! After a (re)connect: read each channel that should have something of ours on air, then adopt
//! what is there, or recover per configuration. Never STOP or CLEAR.
//!
//! The reading runs in the background; when it comes back, a playlist whose playout changed in
//! the meantime (an operator took or stopped it) is left alone, since the reading predates that.

use tokio::time::Instant;

use super::follow::ReadWhy;
use super::lanes::Intent;
use super::*;
use crate::config::Recovery;
use crate::playout::engine::observe;
use crate::playout::engine::transport;

impl Engine {
    /// Starts one reading per channel of group `g` with an on-air playlist.
    pub(super) fn reconcile_group(&mut self, g: usize) {
        let mut per_channel: BTreeMap<Chan, Vec<(String, u64)>> = BTreeMap::new();
        for (id, p) in &self.playout {
            if p.on_air().is_none() {
                continue;
            }
            if let Some(r) = self.route(id).filter(|r| r.group == g) {
                per_channel
                    .entry(r.chan())
                    .or_default()
                    .push((id.clone(), p.epoch()));
            }
        }
        // Graphics layers of a channel with nothing of ours on air need no reading: nothing of
        // the plan is to be on them.
        let quiet: Vec<Chan> = self
            .playlists
            .values()
            .filter_map(|pl| self.route_of(pl))
            .filter(|r| r.group == g && !per_channel.contains_key(&r.chan()))
            .map(|r| r.chan())
            .collect();
        for ch in quiet {
            self.graphics_observed(ch, None);
        }
        for (ch, epochs) in per_channel {
            self.graphics.unknown.insert(ch);
            self.read_channel(ch, ReadWhy::Reconcile(epochs));
        }
    }

    /// A reconcile reading came back.
    pub(super) fn reconcile_read(
        &mut self,
        obs: &ChannelObs,
        at: Instant,
        epochs: Vec<(String, u64)>,
    ) {
        for (id, epoch) in epochs {
            if self.playout.get(&id).map(Runtime::epoch) != Some(epoch) {
                tracing::debug!(playlist = %id, "reconcile reading overtaken by an operator action");
                continue;
            }
            let Some(layer) = self
                .playlists
                .get(&id)
                .and_then(|pl| pl.channel_layer.layer)
            else {
                continue;
            };
            let layer_obs = obs.layers.get(&layer).cloned().unwrap_or_default();
            self.reconcile(&id, layer_obs, at);
        }
    }

    fn reconcile(&mut self, id: &str, layer: LayerObs, at: Instant) {
        let Some(pl) = self.playlists.get(id).cloned() else {
            return;
        };
        let Some(cl) = self.route_of(&pl) else {
            return;
        };
        let on_air = self
            .playout
            .get(id)
            .and_then(Runtime::on_air)
            .and_then(|i| pl.item(i))
            .cloned();
        let Some(on_air) = on_air else { return };
        let next = match self.filler_of(cl).filter(|f| f.id == id) {
            // A filler goes on in its own order (shuffled, or after the clip on air).
            Some(f) => self.filler_next(f).and_then(|(n, _)| pl.item(&n).cloned()),
            None => self.next_of(id).and_then(|n| pl.item(&n).cloned()),
        };
        if observe::same_clip(layer.fg_clip.as_deref(), &on_air.clip) {
            // Still on air: adopt without touching the foreground. A background that already holds
            // the next item is adopted too; `frames_left` is only published while AUTO waits.
            let next_waiting = next
                .as_ref()
                .filter(|n| observe::same_clip(layer.bg_clip.as_deref(), &n.clip))
                .map(|n| n.id.clone());
            let auto_waiting = layer.frames_left.is_some();
            let paused = layer.paused;
            self.runtime(id).adopted(paused, next_waiting, auto_waiting);
            self.observed.insert(cl, (layer, at));
            self.clear_alarms("reconcile");
            self.publish_playout(id);
            self.rearm(id);
            return;
        }
        if let Some(n) = next
            .as_ref()
            .filter(|n| observe::same_clip(layer.fg_clip.as_deref(), &n.clip))
        {
            // AUTO fired while we were away: the next item is on air since its elapsed time ago.
            let elapsed_ms = layer.elapsed.map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
            let started = self.wall_ms_at(at).saturating_sub(elapsed_ms);
            self.went_on_air(id, &n.id, "auto", started);
            self.observed.insert(cl, (layer, at));
            self.rearm(id);
            return;
        }
        if let Some((filler, clip)) = self.filler_in_gap(cl, id, layer.fg_clip.as_deref()) {
            // The rundown ended while we were away and the filler armed behind it took over.
            let elapsed_ms = layer.elapsed.map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
            let started = self.wall_ms_at(at).saturating_sub(elapsed_ms);
            self.went_on_air(&filler, &clip, "auto", started);
            self.observed.insert(cl, (layer, at));
            self.rearm(&filler);
            return;
        }
        let cl = self.layer_name(cl);
        if layer.fg_present {
            let message = format!(
                "layer {cl} shows {:?}, not {:?}; waiting for the operator",
                layer.fg_clip.unwrap_or_default(),
                on_air.clip
            );
            self.hold(id, message);
            return;
        }
        let message = format!(
            "CasparCG came back with layer {cl} empty while {:?} should be on air",
            on_air.clip
        );
        match self.config.recovery {
            Recovery::Hold => self.hold(
                id,
                format!("{message}; recovery is 'hold': waiting for the operator"),
            ),
            Recovery::Resume => self.resume(id, &on_air, message),
        }
    }

    /// The layer's filler and the item of it on the layer, when `id` is a rundown on the layer
    /// and the layer shows one of the filler's clips (its predicted next, else the first item
    /// with that clip: where the sequence stood is not kept across a restart).
    fn filler_in_gap(&self, cl: Route, id: &str, fg: Option<&str>) -> Option<(String, String)> {
        let filler = self.filler_of(cl).filter(|f| f.id != id)?;
        let predicted = self.filler_next(filler).map(|(item, _)| item).filter(|i| {
            filler
                .item(i)
                .is_some_and(|it| observe::same_clip(fg, &it.clip))
        });
        let item = predicted.or_else(|| {
            filler
                .items
                .iter()
                .find(|it| observe::same_clip(fg, &it.clip))
                .map(|it| it.id.clone())
        })?;
        Some((filler.id.clone(), item))
    }

    pub(super) fn hold(&mut self, id: &str, message: String) {
        self.runtime(id).hold();
        self.raise(Severity::Critical, "reconcile", message);
        self.publish_playout(id);
    }

    /// Plays the on-air item again from where it should be by now (or the next item, if its time
    /// is over), then re-arms autoplay: queued on the lane, dropped if an operator acts first.
    fn resume(&mut self, id: &str, item: &Item, message: String) {
        let Some(cl) = self.route(id) else {
            return;
        };
        let elapsed = self.expected_elapsed(id, cl);
        // The server lost its background too.
        self.runtime(id).lost_background();
        let epoch = self.runtime(id).epoch();
        let (num, den) = self.frame_rates.get(&cl.chan()).copied().unwrap_or((25, 1));
        let frames = (elapsed * f64::from(num) / f64::from(den.max(1))).round() as u64;
        if transport::item_seconds(item).is_some_and(|d| elapsed >= d) {
            self.raise(
                Severity::Critical,
                "reconcile",
                format!("{message}; its time is over, continuing with the next item"),
            );
            if let Some(next) = self.next_of(id) {
                let intent = Intent::Recover {
                    id: id.to_owned(),
                    item: next,
                    seek: None,
                    fresh: true,
                    epoch,
                };
                self.enqueue(id, intent, None);
            }
            return;
        }
        self.raise(
            Severity::Critical,
            "reconcile",
            format!("{message}; resumed at {elapsed:.2} s"),
        );
        self.publish_playout(id);
        let intent = Intent::Recover {
            id: id.to_owned(),
            item: item.id.clone(),
            seek: Some(frames),
            fresh: false,
            epoch,
        };
        self.enqueue(id, intent, None);
    }

    /// Where the on-air item should be now: the last observed position plus the time since, or the
    /// wall-clock time since it started.
    pub(super) fn expected_elapsed(&self, id: &str, cl: Route) -> f64 {
        if let Some((obs, at)) = self.observed.get(&cl)
            && let Some(e) = obs.elapsed
        {
            return e + at.elapsed().as_secs_f64() * f64::from(self.scheduler.clock.speed());
        }
        let since = self
            .playout
            .get(id)
            .and_then(Runtime::on_air_since_ms)
            .unwrap_or_else(|| self.now_ms());
        self.now_ms().saturating_sub(since) as f64 / 1000.0
    }
}
