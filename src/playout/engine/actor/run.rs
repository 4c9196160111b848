//! Following playout: arming autoplay, reading the channels, recognising switches, reconciling.

use tokio::time::Instant;

use super::*;

impl Engine {
    /// The item a plain `take` would play.
    pub(super) fn next_of(&self, id: &str) -> Option<String> {
        let pl = self.playlists.get(id)?;
        let p = self.playout.get(id);
        if let Some(n) = p
            .and_then(|p| p.next.clone())
            .filter(|n| pl.index_of(n).is_some())
        {
            return Some(n);
        }
        transport::next_after(pl, p.and_then(|p| p.on_air.as_deref()))
    }

    /// AUTO is only armed behind a playing item of known length: a looping foreground never ends.
    pub(super) fn auto_allowed(&self, id: &str) -> bool {
        let (Some(pl), Some(p)) = (self.playlists.get(id), self.playout.get(id)) else {
            return false;
        };
        let on_air = p.on_air.as_deref().and_then(|i| pl.item(i));
        pl.autoplay && p.status == Status::Playing && on_air.is_some_and(|i| !i.looping)
    }

    /// Makes the background hold the next item (with AUTO when autoplay applies), if it does not yet.
    pub(super) async fn rearm(&mut self, id: &str) {
        let Some(p) = self.playout.get(id).cloned() else {
            return;
        };
        if p.on_air.is_none()
            || !matches!(p.status, Status::Playing | Status::Paused)
            || !self.link.connected
        {
            return;
        }
        let next = self.next_of(id);
        let auto = self.auto_allowed(id);
        if p.cued == next && (next.is_none() || p.armed_auto == auto) {
            return;
        }
        let Some(next) = next else {
            // Nothing follows; a background we armed earlier is left alone (the server ignores it
            // unless it was armed with AUTO, and then it is the item that was next at the time).
            return;
        };
        let Some((cl, item)) = self
            .playlists
            .get(id)
            .and_then(|pl| pl.item(&next).map(|i| (pl.channel_layer, i.clone())))
        else {
            return;
        };
        if self.send(transport::loadbg(cl, &item, auto)).await.is_ok() {
            if let Some(p) = self.playout.get_mut(id) {
                p.cued = Some(next.clone());
                p.armed_auto = auto;
                p.next = Some(next);
            }
            self.publish_playlist(id);
        }
    }

    /// Records that `item` started on air.
    pub(super) fn went_on_air(&mut self, id: &str, item: &str, how: &str) {
        self.went_off_air(id, how);
        let next = self
            .playlists
            .get(id)
            .and_then(|pl| transport::next_after(pl, Some(item)));
        if let Some(cl) = self.playlists.get(id).map(|pl| pl.channel_layer) {
            self.observed.remove(&cl);
        }
        let p = self.playout.entry(id.to_owned()).or_default();
        p.status = Status::Playing;
        p.on_air = Some(item.to_owned());
        p.on_air_since_ms = Some(now_ms());
        p.cued = None;
        p.armed_auto = false;
        p.next = next;
        tracing::info!(playlist = id, item, how, "on air");
        self.persistence.state_dirty = true;
        self.as_run(id, item, None, None);
        self.publish_playlist(id);
    }

    /// Records that the on-air item ended (as-run) without touching the server.
    pub(super) fn went_off_air(&mut self, id: &str, how: &str) {
        let Some(p) = self.playout.get_mut(id) else {
            return;
        };
        let since = p.on_air_since_ms.take();
        let Some(item) = p.on_air.take() else {
            return;
        };
        tracing::info!(playlist = id, item, ended_by = how, "off air");
        self.persistence.state_dirty = true;
        let actual = since.map(|s| now_ms().saturating_sub(s) as f64 / 1000.0);
        self.as_run(id, &item, Some(how), actual);
    }

    /// Asks the server to send OSC to our listener (2.4+; the subscription lives as long as the AMCP
    /// connection, so it is renewed on every connect). On 2.3 the server sends to the configured port.
    pub(super) async fn subscribe_osc(&mut self, server_version: &str) {
        let Some(port) = self.osc.as_ref().map(|o| o.local_addr().port()) else {
            return;
        };
        let v24 =
            crate::amcp::body::parse_version(server_version).is_ok_and(|v| v.is_at_least(2, 4));
        if !v24 {
            return;
        }
        if let Err(e) = self.caspar.send(Command::OscSubscribe(port)).await {
            self.raise(
                Severity::Warning,
                "osc",
                format!("OSC SUBSCRIBE {port} failed ({e}); following playout with INFO polling"),
            );
        }
    }

    /// Follows playout from OSC for every channel whose telemetry is fresh.
    pub(super) async fn on_osc(&mut self, state: &OscState) {
        let source = if state.channels.values().any(|c| !c.stale) {
            TelemetrySource::Osc
        } else {
            TelemetrySource::InfoPolling
        };
        if self.link.connected && source != self.link.telemetry {
            self.link.telemetry = source;
            self.publish(EventKind::Link {
                link: self.link.clone(),
            });
        }
        if !self.link.connected {
            return;
        }
        // An idle server still sends every channel's state 25–60 times a second; only channels with
        // something of ours on air or cued need reading.
        let active = self.active_channels();
        for (ch, telemetry) in &state.channels {
            if telemetry.stale || !active.contains(ch) {
                continue;
            }
            let obs = observe::from_osc(telemetry);
            if let Some(rate) = obs.frame_rate {
                self.frame_rates.insert(*ch, rate);
            }
            self.observe_channel(*ch, &obs).await;
        }
    }

    /// Channels where one of our playlists has something on air or cued.
    fn active_channels(&self) -> Vec<u16> {
        let mut channels: Vec<u16> = self
            .playout
            .iter()
            .filter(|(_, p)| p.on_air.is_some() || p.cued.is_some())
            .filter_map(|(id, _)| self.playlists.get(id).map(|pl| pl.channel_layer.channel))
            .collect();
        channels.sort_unstable();
        channels.dedup();
        channels
    }

    fn osc_fresh(&self, ch: u16) -> bool {
        self.osc.as_ref().is_some_and(|o| !o.is_stale(ch))
    }

    /// Reads with `INFO` every channel that has something on air and no fresh OSC.
    pub(super) async fn poll(&mut self) {
        if !self.link.connected {
            return;
        }
        let channels: Vec<u16> = self
            .active_channels()
            .into_iter()
            .filter(|ch| !self.osc_fresh(*ch))
            .collect();
        for ch in channels {
            if let Some(obs) = self.read_channel(ch).await {
                self.observe_channel(ch, &obs).await;
            }
        }
    }

    pub(super) async fn read_channel(&mut self, ch: u16) -> Option<ChannelObs> {
        let cl = ChannelLayer::channel(ch)?;
        let reply = self.caspar.send(Command::Info(Some(cl))).await.ok()?;
        let state = parse_info_xml(reply.body_text()?).ok()?;
        let obs = observe::from_info(&state);
        self.info_read_at.insert(ch, Instant::now());
        if let Some(rate) = obs.frame_rate {
            self.frame_rates.insert(ch, rate);
        }
        Some(obs)
    }

    async fn observe_channel(&mut self, ch: u16, obs: &ChannelObs) {
        let ids: Vec<String> = self
            .playlists
            .values()
            .filter(|pl| pl.channel_layer.channel == ch)
            .map(|pl| pl.id.clone())
            .collect();
        for id in ids {
            let Some(layer) = self.playlists[&id].channel_layer.layer else {
                continue;
            };
            let layer_obs = obs.layers.get(&layer).cloned().unwrap_or_default();
            self.observe(&id, layer_obs).await;
        }
    }

    async fn observe(&mut self, id: &str, obs: LayerObs) {
        let Some(pl) = self.playlists.get(id) else {
            return;
        };
        let cl = pl.channel_layer;
        let p = self.playout.get(id).cloned().unwrap_or_default();
        let previous = self.observed.get(&cl).map(|(o, _)| o.clone());
        let clip_of = |item: Option<&str>| item.and_then(|i| pl.item(i)).map(|i| i.clip.clone());
        let on_air_clip = clip_of(p.on_air.as_deref());
        let cued_clip = clip_of(p.cued.as_deref());
        if let (Some(cued), Some(armed_clip)) = (p.cued.clone(), cued_clip)
            && p.armed_auto
            && observe::switched_to(&obs, &armed_clip, on_air_clip.as_deref(), previous.as_ref())
        {
            self.went_on_air(id, &cued, "auto");
            self.observed.insert(cl, (obs, Instant::now()));
            self.rearm(id).await;
            return;
        }
        let was_present = previous.as_ref().is_some_and(|o| o.fg_present);
        if p.on_air.is_some() && p.status == Status::Playing && was_present && !obs.fg_present {
            self.went_off_air(id, "error");
            if let Some(p) = self.playout.get_mut(id) {
                p.status = Status::Held;
                p.cued = None;
                p.armed_auto = false;
            }
            self.raise(
                Severity::Critical,
                "playout",
                format!("layer {cl} was emptied outside onair"),
            );
            self.publish_playlist(id);
        }
        self.observed.insert(cl, (obs, Instant::now()));
    }

    /// After a (re)connect: adopt what is on air, or recover per configuration. Never STOP or CLEAR.
    pub(super) async fn reconcile_all(&mut self) {
        let ids: Vec<String> = self
            .playout
            .iter()
            .filter(|(_, p)| p.on_air.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.reconcile(&id).await;
        }
    }

    async fn reconcile(&mut self, id: &str) {
        let Some(pl) = self.playlists.get(id).cloned() else {
            return;
        };
        let cl = pl.channel_layer;
        let Some(obs) = self.read_channel(cl.channel).await else {
            return;
        };
        let layer = obs
            .layers
            .get(&cl.layer.unwrap_or(0))
            .cloned()
            .unwrap_or_default();
        let p = self.playout.get(id).cloned().unwrap_or_default();
        let on_air = p.on_air.as_deref().and_then(|i| pl.item(i)).cloned();
        let Some(on_air) = on_air else { return };
        let next = self.next_of(id).and_then(|n| pl.item(&n).cloned());
        if observe::same_clip(layer.fg_clip.as_deref(), &on_air.clip) {
            // Still on air: adopt without touching the foreground. A background that already holds
            // the next item is adopted too; `frames_left` is only published while AUTO waits.
            let next_waiting = next
                .as_ref()
                .filter(|n| observe::same_clip(layer.bg_clip.as_deref(), &n.clip))
                .map(|n| n.id.clone());
            let auto_waiting = layer.frames_left.is_some();
            if let Some(p) = self.playout.get_mut(id) {
                p.status = if layer.paused {
                    Status::Paused
                } else {
                    Status::Playing
                };
                p.cued = next_waiting;
                p.armed_auto = p.cued.is_some() && auto_waiting;
            }
            self.observed.insert(cl, (layer, Instant::now()));
            self.clear_alarms("reconcile");
            self.publish_playlist(id);
            self.rearm(id).await;
            return;
        }
        if let Some(n) = next
            .as_ref()
            .filter(|n| observe::same_clip(layer.fg_clip.as_deref(), &n.clip))
        {
            // AUTO fired while we were away: the next item is on air.
            self.went_on_air(id, &n.id, "auto");
            self.observed.insert(cl, (layer, Instant::now()));
            self.rearm(id).await;
            return;
        }
        if layer.fg_present {
            self.hold(
                id,
                format!(
                    "layer {cl} shows {:?}, not {:?}; waiting for the operator",
                    layer.fg_clip.unwrap_or_default(),
                    on_air.clip
                ),
            );
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
            Recovery::Resume => self.resume(id, &on_air, message).await,
        }
    }

    fn hold(&mut self, id: &str, message: String) {
        if let Some(p) = self.playout.get_mut(id) {
            p.status = Status::Held;
            p.cued = None;
            p.armed_auto = false;
        }
        self.raise(Severity::Critical, "reconcile", message);
        self.publish_playlist(id);
    }

    /// Plays the on-air item again from where it should be by now, and re-arms autoplay.
    async fn resume(&mut self, id: &str, item: &Item, message: String) {
        let cl = self.playlists[id].channel_layer;
        // The server lost its background too.
        if let Some(p) = self.playout.get_mut(id) {
            p.cued = None;
            p.armed_auto = false;
        }
        let elapsed = self.expected_elapsed(id, cl);
        let (num, den) = self
            .frame_rates
            .get(&cl.channel)
            .copied()
            .unwrap_or((25, 1));
        let frames = (elapsed * f64::from(num) / f64::from(den.max(1))).round() as u64;
        let duration = transport::item_seconds(item);
        if duration.is_some_and(|d| elapsed >= d) {
            // The item would have ended by now: continue with the next one from its start.
            self.raise(
                Severity::Critical,
                "reconcile",
                format!("{message}; its time is over, continuing with the next item"),
            );
            let next = self.next_of(id);
            if let (Some(next), Some(pl)) = (next, self.playlists.get(id))
                && let Some(n) = pl.item(&next).cloned()
                && self.send(transport::play(cl, &n, None)).await.is_ok()
            {
                self.went_on_air(id, &next, "reconcile");
                self.rearm(id).await;
            }
            return;
        }
        self.raise(
            Severity::Critical,
            "reconcile",
            format!("{message}; resumed at {elapsed:.2} s"),
        );
        if self
            .send(transport::play(cl, item, Some(frames)))
            .await
            .is_ok()
        {
            let since = self.playout.get(id).and_then(|p| p.on_air_since_ms);
            if let Some(p) = self.playout.get_mut(id) {
                p.status = Status::Playing;
                p.cued = None;
                p.armed_auto = false;
                p.on_air_since_ms = since;
            }
            self.observed.remove(&cl);
            self.publish_playlist(id);
            self.rearm(id).await;
        }
    }

    /// Where the on-air item should be now: the last observed position plus the time since, or the
    /// wall-clock time since it started.
    fn expected_elapsed(&self, id: &str, cl: ChannelLayer) -> f64 {
        if let Some((obs, at)) = self.observed.get(&cl)
            && let Some(e) = obs.elapsed
        {
            return e + at.elapsed().as_secs_f64();
        }
        let since = self
            .playout
            .get(id)
            .and_then(|p| p.on_air_since_ms)
            .unwrap_or_else(now_ms);
        now_ms().saturating_sub(since) as f64 / 1000.0
    }
}
