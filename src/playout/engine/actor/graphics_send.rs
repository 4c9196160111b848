//! Graphics steps taken: the commands of each step due, sent to every side of the group without
//! waiting (the answers come back as [`Internal::Graphics`]), the layer's state and the as-run
//! line; and what reconciliation reads on the graphics layers after a (re)connect or a restart.

use super::graphics::{GLayer, Live, Owner, Phase, Timer};
use super::*;
use crate::amcp::Command;
use crate::playout::asrun::{AsRunEntry, AsRunEvent};
use crate::playout::graphics::Graphic;
use crate::playout::graphics_timing::{self as timing, Step};
use crate::schedule::FrameClock;
use std::time::UNIX_EPOCH;

/// A step is due this close to its send instant (the timer's granularity is a millisecond).
const DUE_SLACK_NS: i64 = 500_000;

/// One side's answers to a step's commands.
pub(crate) struct GraphicsDone {
    at: GLayer,
    /// The graphic and step, when the commands were one (not a plain `CLEAR` or `UPDATE`).
    step: Option<(Owner, Step)>,
    side: usize,
    results: Vec<(&'static str, Result<(), crate::caspar::CommandError>)>,
    /// The manual op waiting for the answer (see `graphics_ops`).
    ticket: Option<u64>,
}

impl Engine {
    /// Takes every step whose moment came.
    pub(super) fn graphics_due(&mut self) {
        let now = self.now_ns();
        while let Some(entry) = self.graphics.timers.first_entry() {
            if entry.key().0 > now + DUE_SLACK_NS {
                break;
            }
            let timer = entry.remove();
            self.graphics_step(timer, now, None);
        }
    }

    /// Takes one step: decides its commands from what the layer shows now, sends them, and
    /// records the layer's new state. `reply`: an operator's op, answered with CasparCG's answer
    /// (at once when there is nothing to send).
    pub(super) fn graphics_step(&mut self, t: Timer, now: i64, reply: Option<Reply>) {
        let ok = |reply: Option<Reply>| {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(OpResult::default()));
            }
        };
        if !self.may_drive()
            || (reply.is_none() && self.graphics.unknown.contains(&t.at.chan()))
            || self.targets(t.at.group).is_empty()
        {
            // Not ours to drive, or no server to tell: reconciliation restores the layers when
            // the link is back (an op was refused before it got here).
            return ok(reply);
        }
        let cl = t.at.wire();
        let live = self.graphics.live.get(&t.at);
        let mine = self.graphics.mine(&t.at, &t.owner).map(|l| l.phase);
        let mixer = matches!(t.graphic, Graphic::Mixer(_));
        let mut cmds = Vec::new();
        let next = match t.step {
            Step::Prepare => {
                // Another graphic still shows on the layer: this one is loaded when it goes on
                // (a layer shows one graphic at a time).
                if live.is_some_and(|l| l.owner != t.owner && l.phase != Phase::Stopped) {
                    return ok(reply);
                }
                cmds.extend(timing::commands(cl, &t.graphic, Step::Prepare));
                Some(Phase::Prepared)
            }
            Step::On if mixer => {
                self.graphics.mixed.insert(t.owner.clone());
                cmds.extend(timing::commands(cl, &t.graphic, Step::On));
                None
            }
            Step::On => {
                if mine == Some(Phase::On) {
                    return ok(reply);
                }
                if mine != Some(Phase::Prepared) {
                    cmds.extend(timing::commands(cl, &t.graphic, Step::Prepare));
                }
                cmds.extend(timing::commands(cl, &t.graphic, Step::On));
                Some(Phase::On)
            }
            Step::Off if mixer => {
                if !self.graphics.mixed.remove(&t.owner) {
                    return ok(reply);
                }
                cmds.extend(timing::commands(cl, &t.graphic, Step::Off));
                None
            }
            Step::Off => {
                if mine.is_none() || mine == Some(Phase::Stopped) {
                    return ok(reply);
                }
                cmds.extend(timing::commands(cl, &t.graphic, Step::Off));
                matches!(t.graphic, Graphic::Template { .. }).then_some(Phase::Stopped)
            }
            Step::Remove => {
                if mine != Some(Phase::Stopped) {
                    return ok(reply);
                }
                cmds.extend(timing::commands(cl, &t.graphic, Step::Remove));
                None
            }
        };
        if !mixer {
            match next {
                Some(phase) => {
                    self.graphics.live.insert(
                        t.at,
                        Live {
                            owner: t.owner.clone(),
                            graphic: t.graphic.clone(),
                            phase,
                            since_ns: now,
                        },
                    );
                }
                None => {
                    self.graphics.live.remove(&t.at);
                }
            }
        }
        if cmds.is_empty() {
            return ok(reply);
        }
        tracing::debug!(layer = %cl, owner = ?t.owner, step = ?t.step, "graphics");
        if matches!(t.step, Step::On | Step::Off) {
            self.graphics_as_run(&t, now, reply.is_some());
        }
        let targets = self.targets(t.at.group);
        self.graphics_dispatch(&targets, t.at, Some((t.owner, t.step)), cmds, reply);
        self.graphics_changed();
    }

    /// Sends commands on a graphics layer by hand (`CLEAR`, `CG … UPDATE`).
    /// The ticket the op's answer waits under.
    pub(super) fn graphics_send(
        &mut self,
        at: GLayer,
        cmds: Vec<Command>,
        reply: Option<Reply>,
    ) -> Option<u64> {
        let targets = self.targets(at.group);
        self.graphics_dispatch(&targets, at, None, cmds, reply)
    }

    /// A side brought back in step (a pair's server that restarted shows the playlist's clip
    /// again, see `sides`): what the station shows on `id`'s graphics layers now, sent to that
    /// side alone.
    pub(super) fn graphics_resync_side(&mut self, side: usize, id: &str) {
        if !self.may_drive() {
            return;
        }
        let Some(r) = self.route(id) else {
            return;
        };
        let shows: Vec<(GLayer, Live)> = self
            .graphics
            .live
            .iter()
            .filter(|(at, l)| at.chan() == r.chan() && l.owner.playlist() == id)
            .filter(|(_, l)| l.phase == Phase::On)
            .map(|(at, l)| (*at, l.clone()))
            .collect();
        for (at, live) in shows {
            let mut cmds = timing::commands(at.wire(), &live.graphic, Step::Prepare);
            cmds.extend(timing::commands(at.wire(), &live.graphic, Step::On));
            self.graphics_dispatch(&[side], at, None, cmds, None);
        }
        let mixers: Vec<(GLayer, Graphic)> = self
            .graphics
            .mixed
            .iter()
            .filter_map(|o| match o {
                Owner::Event {
                    playlist,
                    item,
                    event,
                } if playlist == id => {
                    let ev = self
                        .playlists
                        .get(playlist)?
                        .item(item)?
                        .graphics
                        .events
                        .iter()
                        .find(|e| &e.id == event)?;
                    let at = GLayer::of(r, ev.layer);
                    Some((at, ev.graphic.clone()))
                }
                _ => None,
            })
            .collect();
        for (at, graphic) in mixers {
            let cmds = timing::commands(at.wire(), &graphic, Step::On);
            self.graphics_dispatch(&[side], at, None, cmds, None);
        }
    }

    /// Hands `cmds` to each of `targets` together, each without waiting; the answers come back as
    /// [`Internal::Graphics`]. The ticket `reply` waits under.
    fn graphics_dispatch(
        &mut self,
        targets: &[usize],
        at: GLayer,
        step: Option<(Owner, Step)>,
        cmds: Vec<Command>,
        reply: Option<Reply>,
    ) -> Option<u64> {
        let ticket = reply.map(|reply| {
            let ticket = self.graphics.next_ticket;
            self.graphics.next_ticket += 1;
            self.graphics.replies.insert(
                ticket,
                super::graphics_ops::Pending {
                    reply,
                    waiting: targets.len(),
                    update: None,
                },
            );
            ticket
        });
        for &side in targets {
            let names: Vec<&'static str> = cmds.iter().map(Command::name).collect();
            let answers = self.sides[side].caspar.dispatch_many(cmds.clone());
            let internal = self.internal_tx.clone();
            let step = step.clone();
            tokio::spawn(async move {
                let results = answers
                    .await
                    .into_iter()
                    .zip(names)
                    .map(|(r, name)| (name, r.map(drop)))
                    .collect();
                let _ = internal.send(Internal::Graphics(GraphicsDone {
                    at,
                    step,
                    side,
                    results,
                    ticket,
                }));
            });
        }
        ticket
    }

    /// A side answered a step: a failure raises an alarm for the layer (cleared by the layer's
    /// next success) and the graphic is not tried again while its item is on air.
    pub(super) fn on_graphics_done(&mut self, done: GraphicsDone) {
        let GraphicsDone {
            at,
            step,
            side,
            results,
            ticket,
        } = done;
        let first_error = results
            .iter()
            .find_map(|(name, r)| r.clone().err().map(|e| (*name, e)));
        if let Some(ticket) = ticket {
            let playlist = step
                .as_ref()
                .map(|(o, _)| o.playlist().to_owned())
                .unwrap_or_default();
            let result = first_error.clone().map_or(Ok(()), |(_, e)| Err(e));
            self.graphics_answered(ticket, result, &playlist);
        }
        let failed = first_error.map(|(name, e)| format!("{name} {} failed: {e}", at.wire()));
        match failed {
            None => {
                if let Some(message) = self.graphics.alarms.remove(&at) {
                    self.clear_alarm("graphics", &message);
                }
            }
            Some(what) => {
                let server = &self.sides[side].view.name;
                let message = if self.sides.len() > 1 {
                    format!("graphics on {server}: {what}")
                } else {
                    format!("graphics: {what}")
                };
                tracing::warn!(step = ?step, %message, "graphics");
                if let Some((owner, step)) = step {
                    if matches!(owner, Owner::Event { .. }) {
                        self.graphics.suppressed.insert(owner.clone());
                    }
                    if matches!(step, Step::Prepare | Step::On)
                        && self.graphics.mine(&at, &owner).is_some()
                    {
                        self.graphics.live.remove(&at);
                        self.graphics_changed();
                    }
                }
                if let Some(old) = self.graphics.alarms.insert(at, message.clone()) {
                    self.clear_alarm("graphics", &old);
                }
                self.raise(Severity::Warning, "graphics", message);
            }
        }
    }

    /// The as-run line of a graphic going on or off.
    fn graphics_as_run(&self, t: &Timer, now: i64, by_hand: bool) {
        let Some(tx) = &self.persistence.asrun else {
            return;
        };
        let item = match &t.owner {
            Owner::Event { item, .. } => Some(item.clone()),
            Owner::Logo { playlist } | Owner::Manual { playlist, .. } => self
                .playout
                .get(playlist)
                .and_then(Runtime::on_air)
                .map(str::to_owned),
        };
        let event = if t.step == Step::On {
            AsRunEvent::GraphicOn
        } else {
            AsRunEvent::GraphicOff
        };
        let mut entry = AsRunEntry::graphic(
            event,
            t.at.wire(),
            t.owner.playlist(),
            item.unwrap_or_default(),
            t.graphic.label(),
            t.owner.name(),
        );
        if by_hand {
            entry = entry.with_detail("by hand");
        }
        let rate = self.rate_of(t.at.chan());
        // When the viewer sees it: the planned frame, or the frame after the late command.
        let shown = if t.planned {
            let clock = FrameClock::new(t.planned_ns, rate);
            let late = clock
                .frame_at_or_after(now + super::graphics::lead(rate))
                .max(0);
            entry = entry.with_graphic_timing(t.planned_ns, late);
            clock.start_of(late)
        } else {
            now + rate.frame_nanos()
        };
        let ms = u64::try_from(shown / 1_000_000).unwrap_or(0);
        let _ = tx.send((entry, UNIX_EPOCH + Duration::from_millis(ms)));
    }

    /// A group's link went down: what its graphics layers show is unknown until reconciliation
    /// reads them again, and nothing is planned for them meanwhile.
    pub(super) fn graphics_link_lost(&mut self, g: usize) {
        let chans: Vec<Chan> = self
            .playlists
            .values()
            .filter_map(|pl| self.route_of(pl))
            .filter(|r| r.group == g)
            .map(|r| r.chan())
            .collect();
        self.graphics.unknown.extend(chans);
        self.graphics.timers.retain(|_, t| t.at.group != g);
    }

    /// Reconciliation read channel `ch` (or could not: `None`): its graphics layers are what the
    /// reading shows. A graphic of the on-air item (or the logo) found on its layer is adopted
    /// as it is; one that should show but does not is put back by the plan; a graphic whose window
    /// closed while nobody watched is taken off.
    pub(super) fn graphics_observed(&mut self, ch: Chan, obs: Option<&ChannelObs>) {
        self.graphics.unknown.remove(&ch);
        let ids: Vec<String> = self
            .playlists
            .values()
            .filter(|pl| self.route_of(pl).is_some_and(|r| r.chan() == ch))
            .map(|pl| pl.id.clone())
            .collect();
        let Some(obs) = obs else {
            for id in ids {
                self.graphics_touch(&id);
            }
            return;
        };
        let now = self.now_ns();
        for id in &ids {
            self.graphics_adopt(id, ch, obs, now);
            self.graphics_touch(id);
        }
        self.graphics_changed();
    }

    /// What `id`'s graphics layers show per the reading, as `live`.
    fn graphics_adopt(&mut self, id: &str, ch: Chan, obs: &ChannelObs, now: i64) {
        let present = |layer: i32| obs.layers.get(&layer).is_some_and(|l| l.fg_present);
        let anchor = self.graphics_anchor(id);
        // The pieces needed, not the playlist (a rundown can hold 10,000 items).
        let Some((logo, item)) = self.playlists.get(id).map(|pl| {
            let item = anchor.as_ref().and_then(|a| pl.item(&a.item).cloned());
            (pl.logo.clone(), item)
        }) else {
            return;
        };
        let layer_of = |layer| GLayer {
            group: ch.0,
            channel: ch.1,
            layer,
        };
        let on_air = self.playout.get(id).and_then(Runtime::on_air).is_some();
        if let Some(logo) = &logo {
            let at = layer_of(logo.layer);
            if present(logo.layer) && on_air {
                self.graphics.live.insert(
                    at,
                    Live {
                        owner: Owner::Logo {
                            playlist: id.to_owned(),
                        },
                        graphic: (*logo.graphic).clone(),
                        phase: Phase::On,
                        since_ns: now,
                    },
                );
            } else if self
                .graphics
                .live
                .get(&at)
                .is_some_and(|l| l.owner.playlist() == id)
            {
                self.graphics.live.remove(&at);
            }
        }
        let (Some(anchor), Some(item)) = (anchor, item) else {
            return;
        };
        let rate = self.rate_of(ch);
        let primary = super::graphics::primary(anchor.start_ns, &item, rate);
        for ev in &item.graphics.events {
            if matches!(ev.graphic, Graphic::Mixer(_)) {
                continue;
            }
            let at = layer_of(ev.layer);
            if logo.as_ref().is_some_and(|l| l.layer == ev.layer) {
                continue;
            }
            let owner = Owner::Event {
                playlist: id.to_owned(),
                item: item.id.clone(),
                event: ev.id.clone(),
            };
            let Ok(steps) = timing::steps(&primary, ev) else {
                continue;
            };
            let on = steps
                .iter()
                .find(|t| t.step == Step::On)
                .map(|t| primary.clock.start_of(t.frame));
            if !present(ev.layer) {
                if self.graphics.mine(&at, &owner).is_some() {
                    self.graphics.live.remove(&at);
                }
                continue;
            }
            // Something shows on the event's layer once its moment has come: this event's
            // graphic (the layer is the event's own while its item is on air).
            if on.is_some_and(|on| on <= now + super::graphics::lead(rate)) {
                self.graphics.live.insert(
                    at,
                    Live {
                        owner,
                        graphic: ev.graphic.clone(),
                        phase: Phase::On,
                        since_ns: now,
                    },
                );
            }
        }
    }

    /// The live graphics changed: published with the state (see `publish`).
    pub(super) fn graphics_changed(&mut self) {
        self.graphics.view_dirty = true;
    }
}
