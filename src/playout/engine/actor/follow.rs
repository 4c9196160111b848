//! Following playout: arming autoplay, reading the channels (OSC, or INFO in the background),
//! recognising AUTO switches and layers emptied from outside.
//!
//! Times come from the telemetry, not from when the loop got round to an observation: an AUTO
//! switch is stamped with the moment the reading was taken minus the clip's elapsed time in it,
//! which is the frame the item started on.

use tokio::time::Instant;

use super::lanes::Intent;
use super::*;
use crate::amcp::Command;
use crate::amcp::body::parse_info_xml;
use crate::playout::engine::observe;
use crate::playout::engine::runtime::Ended;
use crate::playout::engine::state::{Status, TelemetrySource};
use crate::playout::engine::transport;

/// Why an INFO reading was taken.
#[derive(Debug)]
pub(crate) enum ReadWhy {
    /// Following playout where OSC does not arrive.
    Poll,
    /// Reconciliation after a (re)connect, for these playlists at these epochs.
    Reconcile(Vec<(String, u64)>),
    /// A side the engine does not follow, for the pair's drift.
    Drift,
}

impl Engine {
    /// The item a plain `take` would play.
    pub(super) fn next_of(&self, id: &str) -> Option<String> {
        let pl = self.playlists.get(id)?;
        let p = self.playout.get(id);
        if let Some(n) = p
            .and_then(Runtime::next)
            .filter(|n| pl.index_of(n).is_some())
        {
            return Some(n.to_owned());
        }
        // After another playlist took the layer, the rundown resumes after the item it left.
        let current = p.and_then(|p| p.on_air().or(p.left_after()));
        transport::next_after(pl, current)
    }

    /// AUTO is only armed behind a playing item of known length: a looping foreground never ends.
    pub(super) fn auto_allowed(&self, id: &str) -> bool {
        let (Some(pl), Some(p)) = (self.playlists.get(id), self.playout.get(id)) else {
            return false;
        };
        let on_air = p.on_air().and_then(|i| pl.item(i));
        pl.autoplay && p.status() == Status::Playing && on_air.is_some_and(|i| !i.looping)
    }

    /// Makes the background hold the next item (with AUTO when autoplay applies), if it does not
    /// and will not: queued on the playlist's lane, decided again when its turn comes.
    pub(super) fn rearm(&mut self, id: &str) {
        if self.rearm_target(id).is_some() {
            self.enqueue(id, Intent::Rearm { id: id.to_owned() }, None);
        }
    }

    /// Records that `item` started on air at `at_ms`.
    pub(super) fn went_on_air(&mut self, id: &str, item: &str, how: &str, at_ms: u64) {
        let next = self
            .playlists
            .get(id)
            .and_then(|pl| transport::next_after(pl, Some(item)));
        if let Some(cl) = self.route(id) {
            self.observed.remove(&cl);
            self.proof.changed(cl, Instant::now());
        }
        self.take_layer(id, item, how, at_ms);
        if let Some(ended) = self.runtime(id).went_on_air(item, next, at_ms) {
            self.log_off_air(id, ended, how, at_ms);
        }
        self.graphics_on_air(id, item, how, at_ms);
        tracing::info!(playlist = id, item, how, "on air");
        self.persistence.state_dirty = true;
        let scheduled = self.planned_start_of(id, item, at_ms);
        if let Some((p, late)) = &scheduled {
            tracing::info!(
                playlist = id,
                item,
                late_frames = late,
                hard = p.hard,
                "fixed time"
            );
        }
        self.as_run_start(id, item, scheduled, at_ms);
        self.publish_playout(id);
        // What follows on the layer is decided from the plan: it must start from this item now,
        // not after the coalescing delay (a short item could end first).
        let on_layer = self
            .playlists
            .get(id)
            .and_then(|pl| self.route_of(pl))
            .map(|r| self.on_layer(r))
            .unwrap_or_default();
        for other in on_layer {
            self.replan(&other);
        }
    }

    /// The as-run end of an item that left the air at `at_ms`.
    pub(super) fn log_off_air(&mut self, id: &str, ended: Ended, how: &str, at_ms: u64) {
        tracing::info!(playlist = id, item = ended.item, ended_by = how, "off air");
        self.persistence.state_dirty = true;
        let actual = ended
            .since_ms
            .map(|s| at_ms.saturating_sub(s) as f64 / 1000.0);
        self.as_run(id, &ended.item, Some(how), actual, at_ms);
    }

    /// Records a channel's frame rate; the plans of its playlists are in frames of it.
    fn set_frame_rate(&mut self, ch: Chan, rate: (u32, u32)) {
        if self.frame_rates.insert(ch, rate) != Some(rate) {
            let ids: Vec<String> = self
                .playlists
                .values()
                .filter(|pl| self.route_of(pl).is_some_and(|r| r.chan() == ch))
                .map(|pl| pl.id.clone())
                .collect();
            for id in ids {
                self.scheduler.touch(&id);
            }
        }
    }

    /// Follows playout from OSC for every channel whose telemetry is fresh: the lead side's drives
    /// playout, every side's feeds the pair's drift.
    pub(super) fn on_osc(&mut self, side: usize, state: &OscState) {
        let g = self.sides[side].group;
        if side != self.lead(g) {
            if self.sides[side].view.connected {
                let active = self.active_channels(g);
                for (ch, telemetry) in &state.channels {
                    if !telemetry.stale && active.contains(ch) {
                        let obs = observe::from_osc(telemetry);
                        self.side_channel(side, *ch, &obs, telemetry.updated_at);
                    }
                }
            }
            return;
        }
        // The station's telemetry source is the first group's (the views show one).
        let source = if state.channels.values().any(|c| !c.stale) {
            TelemetrySource::Osc
        } else {
            TelemetrySource::InfoPolling
        };
        if g == 0 && self.link.connected && source != self.link.telemetry {
            self.link.telemetry = source;
            self.publish(EventKind::Link {
                link: self.link.clone(),
            });
        }
        if !self.group_connected(g) {
            return;
        }
        // An idle server still sends every channel's state 25–60 times a second; only channels with
        // something of ours on air or cued need reading.
        let active = self.active_channels(g);
        for (ch, telemetry) in &state.channels {
            if telemetry.stale || !active.contains(ch) {
                continue;
            }
            let obs = observe::from_osc(telemetry);
            if let Some(rate) = obs.frame_rate {
                self.set_frame_rate((g, *ch), rate);
            }
            self.side_channel(side, *ch, &obs, telemetry.updated_at);
            // OSC carries no order with the commands (a frame's datagram may leave before a
            // LOADBG lands and arrive after its reply): it proves nothing by itself.
            self.observe_channel(side, (g, *ch), &obs, (telemetry.updated_at, None));
        }
    }

    /// Channels of group `g` where one of our playlists has something on air or cued.
    pub(super) fn active_channels(&self, g: usize) -> Vec<u16> {
        let mut channels: Vec<u16> = self
            .playout
            .iter()
            .filter(|(_, p)| p.on_air().is_some() || p.cued().is_some())
            .filter_map(|(id, _)| self.route(id))
            .filter(|r| r.group == g)
            .map(|r| r.channel)
            .collect();
        channels.sort_unstable();
        channels.dedup();
        channels
    }

    fn osc_fresh(&self, side: usize, ch: u16) -> bool {
        self.sides[side]
            .osc
            .as_ref()
            .is_some_and(|o| !o.is_stale(ch))
    }

    /// A side's reading of a channel, for the pair's drift.
    fn side_channel(&mut self, side: usize, ch: u16, obs: &ChannelObs, at: Instant) {
        let g = self.sides[side].group;
        if self.groups[g].sides.len() < 2 {
            return;
        }
        let layers: Vec<Route> = self
            .playlists
            .values()
            .filter_map(|pl| self.route_of(pl))
            .filter(|cl| cl.chan() == (g, ch))
            .collect();
        for cl in layers {
            if let Some(layer) = cl.layer.and_then(|l| obs.layers.get(&l)) {
                self.side_position(side, cl, layer, at);
            }
        }
    }

    /// Reads with `INFO` every channel that has something on air and no fresh OSC; the readings
    /// come back as [`Internal::Read`], each channel on its own.
    pub(super) fn poll(&mut self) {
        for g in 0..self.groups.len() {
            if !self.group_connected(g) {
                continue;
            }
            let lead = self.lead(g);
            for ch in self.active_channels(g) {
                if !self.osc_fresh(lead, ch) {
                    self.read_channel((g, ch), ReadWhy::Poll);
                }
                for side in self.groups[g].sides.clone() {
                    if side != lead && self.sides[side].view.connected && !self.osc_fresh(side, ch)
                    {
                        self.read_side(side, ch, ReadWhy::Drift);
                    }
                }
            }
        }
    }

    /// Starts an `INFO` reading of `ch` unless one is on its way (a reconcile reading always goes:
    /// it must see the server after the reconnect).
    pub(super) fn read_channel(&mut self, (g, ch): Chan, why: ReadWhy) {
        let lead = self.lead(g);
        if matches!(why, ReadWhy::Poll) && !self.reading.insert((lead, ch)) {
            return;
        }
        self.read_side(lead, ch, why);
    }

    /// Starts an `INFO` reading of `ch` on `side`.
    fn read_side(&mut self, side: usize, ch: u16, why: ReadWhy) {
        let Some(cl) = ChannelLayer::channel(ch) else {
            return;
        };
        if matches!(why, ReadWhy::Drift) && !self.reading.insert((side, ch)) {
            return;
        }
        let (caspar, internal) = (self.sides[side].caspar.clone(), self.internal_tx.clone());
        // Before the task queues the INFO: every command handed to the link until now runs first.
        let issued = Instant::now();
        tokio::spawn(async move {
            let reply = caspar.send(Command::Info(Some(cl))).await;
            let at = Instant::now();
            let obs = reply
                .ok()
                .and_then(|r| r.body_text().and_then(|t| parse_info_xml(t).ok()))
                .map(|state| observe::from_info(&state));
            let _ = internal.send(Internal::Read {
                side,
                ch,
                obs,
                at,
                issued,
                why,
            });
        });
    }

    pub(super) fn on_read(
        &mut self,
        side: usize,
        ch: u16,
        obs: Option<ChannelObs>,
        (at, issued): (Instant, Instant),
        why: ReadWhy,
    ) {
        if matches!(why, ReadWhy::Poll | ReadWhy::Drift) {
            self.reading.remove(&(side, ch));
            // Answers are handled before link changes: a reading answered on a connection the
            // engine has not seen come up (the server restarted) must not be taken for what the
            // layer does now. The link change goes first; the reconciliation it starts reads again.
            if self.link_moved_on(side) {
                let state = self.sides[side].caspar.watch_state().borrow().clone();
                self.on_side_link(side, state);
                return;
            }
        }
        let g = self.sides[side].group;
        let Some(obs) = obs else {
            if matches!(why, ReadWhy::Reconcile(_)) {
                self.graphics_observed((g, ch), None);
            }
            return;
        };
        self.side_channel(side, ch, &obs, at);
        let followed = side == self.lead(g) || matches!(why, ReadWhy::Reconcile(_));
        if matches!(why, ReadWhy::Drift) || !followed {
            // Another side's reading (or a poll taken before the lead changed) feeds drift, and an
            // AUTO switch it proves: a slow lead must not hold up the sides that answer on time.
            self.side_switches(side, (g, ch), &obs, (at, issued));
            return;
        }
        self.info_read_at.insert((g, ch), at);
        if let Some(rate) = obs.frame_rate {
            self.set_frame_rate((g, ch), rate);
        }
        match why {
            ReadWhy::Poll => self.observe_channel(side, (g, ch), &obs, (at, Some(issued))),
            ReadWhy::Reconcile(epochs) => {
                self.reconcile_read(&obs, at, epochs);
                self.graphics_observed((g, ch), Some(&obs));
            }
            ReadWhy::Drift => {}
        }
    }

    /// The layers of `ch` some playlist plays on.
    fn layers_of(&self, ch: Chan) -> Vec<Route> {
        let mut layers: Vec<Route> = self
            .playlists
            .values()
            .filter_map(|pl| self.route_of(pl))
            .filter(|cl| cl.chan() == ch && cl.layer.is_some())
            .collect();
        layers.sort_unstable();
        layers.dedup();
        layers
    }

    /// The followed side's reading of `ch`, taken at `at`; an `INFO` reading was asked for at
    /// `issued` (`None`: OSC).
    fn observe_channel(
        &mut self,
        side: usize,
        ch: Chan,
        obs: &ChannelObs,
        (at, issued): (Instant, Option<Instant>),
    ) {
        for cl in self.layers_of(ch) {
            let Some(layer) = cl.layer else {
                continue;
            };
            if self.proof.stale(cl, issued.unwrap_or(at)) {
                // Older than what the engine already knows (another side saw the switch first).
                continue;
            }
            let layer_obs = obs.layers.get(&layer).cloned().unwrap_or_default();
            let shows_armed = issued.is_some_and(|i| self.proof.shows_armed(side, cl, i));
            // Every playlist on the layer (a rundown, its filler) compares with the same previous
            // reading.
            let previous = self.observed.get(&cl).map(|(o, _)| o.clone());
            for id in self.on_layer(cl) {
                self.observe(&id, &layer_obs, (previous.as_ref(), shows_armed), at);
            }
            self.observed.insert(cl, (layer_obs, at));
        }
    }

    /// Another side's reading: an AUTO switch it proves (see `proof`) is taken as seen, if that
    /// side plays in step. Nothing else of it changes playout; it is not the followed picture.
    fn side_switches(
        &mut self,
        side: usize,
        ch: Chan,
        obs: &ChannelObs,
        (at, issued): (Instant, Instant),
    ) {
        if !self.sides[side].steady() {
            return;
        }
        for cl in self.layers_of(ch) {
            let Some(layer) = cl.layer else {
                continue;
            };
            if self.proof.stale(cl, issued) || !self.proof.shows_armed(side, cl, issued) {
                continue;
            }
            let layer_obs = obs.layers.get(&layer).cloned().unwrap_or_default();
            for id in self.on_layer(cl) {
                self.switch_seen(&id, &layer_obs, (None, true), at);
            }
        }
    }

    /// A followed reading of the layer `id` plays on: an AUTO switch, or the layer emptied.
    /// `previous` is the reading before; `shows_armed`, whether this one shows the armed background.
    fn observe(
        &mut self,
        id: &str,
        obs: &LayerObs,
        (previous, shows_armed): (Option<&LayerObs>, bool),
        at: Instant,
    ) {
        if self.switch_seen(id, obs, (previous, shows_armed), at) {
            return;
        }
        let Some(p) = self.playout.get(id) else {
            return;
        };
        let was_present = previous.is_some_and(|o| o.fg_present);
        if p.on_air().is_some() && p.status() == Status::Playing && was_present && !obs.fg_present {
            let Some(cl) = self.route(id) else {
                return;
            };
            if let Some(ended) = self.runtime(id).emptied() {
                self.log_off_air(id, ended, "error", self.wall_ms_at(at));
            }
            self.raise(
                Severity::Critical,
                "playout",
                format!("layer {} was emptied outside onair", self.layer_name(cl)),
            );
            self.publish_playout(id);
        }
    }

    /// Takes the armed item as on air if `obs` shows it promoted; whether it did.
    fn switch_seen(
        &mut self,
        id: &str,
        obs: &LayerObs,
        (previous, shows_armed): (Option<&LayerObs>, bool),
        at: Instant,
    ) -> bool {
        let Some(pl) = self.playlists.get(id) else {
            return false;
        };
        let Some(p) = self.playout.get(id) else {
            return false;
        };
        let clip_of = |item: Option<&str>| item.and_then(|i| pl.item(i)).map(|i| i.clip.clone());
        let on_air_clip = clip_of(p.on_air());
        let (Some(cued), Some(armed_clip), true) = (p.cued(), clip_of(p.cued()), p.armed_auto())
        else {
            return false;
        };
        let promoted = if shows_armed {
            observe::promoted(obs, &armed_clip)
        } else {
            observe::switched_to(obs, &armed_clip, on_air_clip.as_deref(), previous)
        };
        if !promoted {
            return false;
        }
        let cued = cued.to_owned();
        // The frame it started on: when this reading was taken, minus its time on air.
        let elapsed_ms = obs.elapsed.map_or(0, |e| (e.max(0.0) * 1000.0) as u64);
        let started = self.wall_ms_at(at).saturating_sub(elapsed_ms);
        self.went_on_air(id, &cued, "auto", started);
        self.rearm(id);
        true
    }
}
