//! Graphics by hand (docs/graphics.md, "By hand"): fire an item's event now, give a template new
//! data, clear a layer, take the logo off and put it back. Each is answered once CasparCG has
//! answered it (a failure of every side is the op's error) and logged as-run like a planned one.

use super::graphics::{GLayer, Owner, Phase, Timer};
use super::*;
use crate::amcp::{CgOp, Command};
use crate::playout::engine::GraphicsAction;
use crate::playout::graphics::{Graphic, TemplateData};
use crate::playout::graphics_timing::{REMOVE_AFTER_NANOS, Step};

/// A manual step's answer, awaited from `waiting` sides.
pub(super) struct Pending {
    pub reply: Reply,
    pub waiting: usize,
    /// New data for the template on a layer, recorded once CasparCG has taken it.
    pub update: Option<(GLayer, TemplateData)>,
}

impl Engine {
    /// Runs a graphics action on playlist `playlist`'s channel.
    pub(super) fn graphics_op(
        &mut self,
        playlist: Option<String>,
        action: GraphicsAction,
        reply: Reply,
    ) {
        let checked = self
            .playlist(playlist.as_deref())
            .map(|pl| pl.id.clone())
            .and_then(|id| {
                Ok((
                    self.route(&id)
                        .ok_or_else(|| self.graphics_unroutable(&id))?,
                    id,
                ))
            });
        let (r, id) = match checked {
            Ok(v) => v,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let result = match action {
            GraphicsAction::Fire { item, event } => self.graphics_fire(&id, r, &item, &event),
            GraphicsAction::Update { layer, data } => self.graphics_update(&id, r, layer, data),
            GraphicsAction::Invoke { layer, method } => self.graphics_invoke(&id, r, layer, method),
            GraphicsAction::Clear { layer } => self.graphics_clear(&id, r, layer),
            GraphicsAction::Logo { on } => self.graphics_logo(&id, r, on),
        };
        let step = match result {
            Ok(step) => step,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let ok = OpResult {
            playlist: Some(id),
            ..OpResult::default()
        };
        match step {
            Some(ManualStep::Step(t)) => {
                let now = self.now_ns();
                self.graphics_step(t, now, Some(reply));
            }
            Some(ManualStep::Commands(at, cmds)) => {
                self.graphics_send(at, cmds, Some(reply));
            }
            Some(ManualStep::Update { at, cmd, data }) => {
                let ticket = self.graphics_send(at, vec![cmd], Some(reply));
                if let Some(p) = ticket.and_then(|t| self.graphics.replies.get_mut(&t)) {
                    p.update = Some((at, data));
                }
            }
            None => {
                let _ = reply.send(Ok(ok));
            }
        }
    }

    fn graphics_unroutable(&self, id: &str) -> EngineError {
        EngineError::Graphics(format!("playlist {id:?} has no server to play on"))
    }

    /// Checks that something can be sent to the playlist's servers now.
    fn graphics_ready(&self, r: Route) -> Result<(), EngineError> {
        if !self.may_drive() {
            return Err(EngineError::NotLeader);
        }
        if self.targets(r.group).is_empty() {
            return Err(EngineError::Caspar(
                crate::caspar::CommandError::NotConnected,
            ));
        }
        Ok(())
    }

    /// An item's event now, by hand: on at once, off after its duration (or when cleared).
    fn graphics_fire(
        &mut self,
        id: &str,
        r: Route,
        item: &str,
        event: &str,
    ) -> Result<Option<ManualStep>, EngineError> {
        self.graphics_ready(r)?;
        let pl = self.playlist(Some(id))?;
        let it = pl
            .item(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))?;
        let ev = it
            .graphics
            .events
            .iter()
            .find(|e| e.id == event)
            .ok_or_else(|| EngineError::Graphics(format!("item {item:?} has no event {event:?}")))?
            .clone();
        let at = GLayer::of(r, ev.layer);
        let owner = Owner::Manual {
            playlist: id.to_owned(),
            event: event.to_owned(),
        };
        if let Some(d) = ev.duration_ms {
            let off = self.now_ns() + i64::try_from(d).unwrap_or(i64::MAX / 4) * 1_000_000;
            self.add_timer(Timer {
                owner: owner.clone(),
                at,
                graphic: ev.graphic.clone(),
                step: Step::Off,
                planned_ns: off,
                planned: false,
            });
            if matches!(ev.graphic, Graphic::Template { .. }) {
                self.add_timer(Timer {
                    owner: owner.clone(),
                    at,
                    graphic: ev.graphic.clone(),
                    step: Step::Remove,
                    planned_ns: off + REMOVE_AFTER_NANOS,
                    planned: false,
                });
            }
        }
        let now = self.now_ns();
        Ok(Some(ManualStep::Step(Timer {
            owner,
            at,
            graphic: ev.graphic,
            step: Step::On,
            planned_ns: now,
            planned: false,
        })))
    }

    /// New data for the template on `layer` (`CG … UPDATE`); the daemon's record takes it once
    /// CasparCG has (see `graphics_answered`).
    fn graphics_update(
        &mut self,
        id: &str,
        r: Route,
        layer: i32,
        data: TemplateData,
    ) -> Result<Option<ManualStep>, EngineError> {
        let (at, cg_layer) = self.graphics_template_at(id, r, layer)?;
        let cmd = Command::Cg(
            at.wire(),
            CgOp::Update {
                cg_layer,
                data: data.to_wire(),
            },
        );
        Ok(Some(ManualStep::Update { at, cmd, data }))
    }

    /// The layer and cg-layer of the template onair has on `layer` of `id`'s channel, when a
    /// command can go to it now (for `graphics.update` and `graphics.invoke`).
    fn graphics_template_at(
        &self,
        id: &str,
        r: Route,
        layer: i32,
    ) -> Result<(GLayer, i32), EngineError> {
        self.graphics_ready(r)?;
        self.graphics_layer_checked(id, layer)?;
        let at = GLayer::of(r, layer);
        Ok((at, self.graphics_template_on(at)?))
    }

    /// The cg-layer of the template onair has on `at`; an error when it has none there.
    fn graphics_template_on(&self, at: GLayer) -> Result<i32, EngineError> {
        match self.graphics.live.get(&at).map(|l| &l.graphic) {
            Some(Graphic::Template { cg_layer, .. }) => Ok(*cg_layer),
            Some(_) => Err(EngineError::Graphics(format!(
                "layer {} shows a still, not a template",
                at.wire()
            ))),
            None => Err(EngineError::Graphics(format!(
                "no template of onair's on layer {}",
                at.wire()
            ))),
        }
    }

    /// Calls `method` of the template on `layer` (`CG … INVOKE`).
    fn graphics_invoke(
        &mut self,
        id: &str,
        r: Route,
        layer: i32,
        method: String,
    ) -> Result<Option<ManualStep>, EngineError> {
        let (at, cg_layer) = self.graphics_template_at(id, r, layer)?;
        let cmd = Command::Cg(at.wire(), CgOp::Invoke { cg_layer, method });
        Ok(Some(ManualStep::Commands(at, vec![cmd])))
    }

    /// Takes whatever is on `layer` off: onair's graphic with its own off step (and not shown
    /// again while its item is on air), anything else with `CLEAR`.
    fn graphics_clear(
        &mut self,
        id: &str,
        r: Route,
        layer: i32,
    ) -> Result<Option<ManualStep>, EngineError> {
        self.graphics_ready(r)?;
        self.graphics_layer_checked(id, layer)?;
        let at = GLayer::of(r, layer);
        let Some(live) = self.graphics.live.get(&at).cloned() else {
            return Ok(Some(ManualStep::Commands(
                at,
                vec![Command::Clear(at.wire())],
            )));
        };
        match &live.owner {
            Owner::Event { .. } => {
                self.graphics.suppressed.insert(live.owner.clone());
            }
            Owner::Logo { playlist } => {
                self.graphics.logo_off.insert(playlist.clone());
                self.persistence.state_dirty = true;
            }
            Owner::Manual { .. } => {}
        }
        // Its planned steps are void now.
        let owner = live.owner.clone();
        self.graphics.timers.retain(|_, t| t.owner != owner);
        if live.phase == Phase::Stopped {
            return Ok(Some(ManualStep::Commands(
                at,
                vec![Command::Clear(at.wire())],
            )));
        }
        let now = self.now_ns();
        if matches!(live.graphic, Graphic::Template { .. }) {
            self.add_timer(Timer {
                owner: owner.clone(),
                at,
                graphic: live.graphic.clone(),
                step: Step::Remove,
                planned_ns: now + REMOVE_AFTER_NANOS,
                planned: false,
            });
        }
        Ok(Some(ManualStep::Step(Timer {
            owner,
            at,
            graphic: live.graphic,
            step: Step::Off,
            planned_ns: now,
            planned: false,
        })))
    }

    /// The logo off (kept off across items and restarts) or back on.
    fn graphics_logo(
        &mut self,
        id: &str,
        r: Route,
        on: bool,
    ) -> Result<Option<ManualStep>, EngineError> {
        let (logo, wanted) = {
            let pl = self.playlist(Some(id))?;
            let Some(logo) = pl.logo.clone() else {
                return Err(EngineError::Graphics(format!(
                    "playlist {id:?} has no logo (set one with playlist.update)"
                )));
            };
            // The logo shows only while the playlist is on air and its item wants it (an ad
            // keeps it off): otherwise putting it back only ends the operator's "off".
            let wanted = self
                .playout
                .get(id)
                .and_then(Runtime::on_air)
                .and_then(|item| pl.item(item))
                .is_some_and(|item| item.graphics.logo);
            (logo, wanted)
        };
        let at = GLayer::of(r, logo.layer);
        let owner = Owner::Logo {
            playlist: id.to_owned(),
        };
        let live = self.graphics.mine(&at, &owner).map(|l| l.phase);
        let step = match (on, live) {
            (true, _) if !wanted => None,
            (true, Some(Phase::On)) | (false, None | Some(Phase::Stopped)) => None,
            (true, _) => Some(Step::On),
            (false, _) => Some(Step::Off),
        };
        // Refused before anything changes when it cannot be sent now.
        if step.is_some() {
            self.graphics_ready(r)?;
        }
        let changed = if on {
            self.graphics.logo_off.remove(id)
        } else {
            self.graphics.logo_off.insert(id.to_owned())
        };
        if changed {
            self.persistence.state_dirty = true;
        }
        self.graphics_touch(id);
        let Some(step) = step else {
            return Ok(None);
        };
        self.graphics
            .timers
            .retain(|_, t| !(t.owner == owner && t.planned));
        let now = self.now_ns();
        Ok(Some(ManualStep::Step(Timer {
            owner,
            at,
            graphic: *logo.graphic,
            step,
            planned_ns: now,
            planned: false,
        })))
    }

    /// A graphics layer of playlist `id`'s channel: not its clip layer.
    fn graphics_layer_checked(&self, id: &str, layer: i32) -> Result<(), EngineError> {
        let clip = self.playlist(Some(id))?.channel_layer.layer;
        if clip == Some(layer) || layer < 0 {
            return Err(EngineError::Graphics(format!(
                "layer {layer} is not a graphics layer of playlist {id:?}"
            )));
        }
        Ok(())
    }

    /// A side answered a manual step: the op is answered by the first success, or by the error
    /// once every side failed.
    pub(super) fn graphics_answered(
        &mut self,
        ticket: u64,
        result: Result<(), crate::caspar::CommandError>,
        playlist: &str,
    ) {
        let Some(p) = self.graphics.replies.get_mut(&ticket) else {
            return;
        };
        p.waiting = p.waiting.saturating_sub(1);
        if result.is_err() && p.waiting > 0 {
            return;
        }
        let Some(p) = self.graphics.replies.remove(&ticket) else {
            return;
        };
        if let (Ok(()), Some((at, new))) = (&result, p.update) {
            // What is restored later shows the data on air.
            if let Some(Graphic::Template { data, .. }) =
                self.graphics.live.get_mut(&at).map(|l| &mut l.graphic)
            {
                *data = Some(new);
                self.graphics_changed();
            }
        }
        let answer = result
            .map(|()| OpResult {
                playlist: Some(playlist.to_owned()),
                ..OpResult::default()
            })
            .map_err(EngineError::Caspar);
        let _ = p.reply.send(answer);
    }
}

/// What a manual action sends: a step of a graphic (its commands decided as a planned one's
/// are), or plain commands on a layer.
pub(super) enum ManualStep {
    Step(Timer),
    Commands(GLayer, Vec<Command>),
    /// `CG … UPDATE`, with the data to record once it is taken.
    Update {
        at: GLayer,
        cmd: Command,
        data: TemplateData,
    },
}
