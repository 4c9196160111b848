//! Graphics on air (docs/graphics.md): the on-air item's secondary events and its playlist's
//! standing logo, planned from the item's first frame and sent on their frames (`graphics_send`).
//!
//! The plan is worked out again whenever a playlist or its playout changes, from three things: the
//! item's *anchor* (an estimate of its first frame that is never before the real one), the time
//! now, and what each graphics layer shows (`live`). Working it out again is idempotent: a step
//! already taken is not planned again, and a step whose moment passed is taken at once while it
//! still matters (a lower third whose window is open goes on late; one whose window closed is not
//! shown). After a reconnect or a restart, what the layers show is read first (`graphics_send`'s
//! `graphics_observed`), so a graphic still on air is adopted, never played again.

use std::collections::BTreeSet;

use super::*;
use crate::playout::engine::transport;
use crate::playout::graphics::Graphic;
use crate::playout::graphics_timing::{self as timing, Primary, Step};
use crate::playout::timing::channel_frames;
use crate::schedule::{FrameClock, FrameRate};

/// The layer a graphic is on: a group's channel and a layer above the clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GLayer {
    pub group: usize,
    pub channel: u16,
    pub layer: i32,
}

impl GLayer {
    /// Layer `layer` on the channel of route `r`.
    pub(super) fn of(r: Route, layer: i32) -> GLayer {
        GLayer {
            group: r.group,
            channel: r.channel,
            layer,
        }
    }

    pub(super) fn wire(self) -> ChannelLayer {
        ChannelLayer {
            channel: self.channel,
            layer: Some(self.layer),
        }
    }

    pub(super) fn chan(self) -> Chan {
        (self.group, self.channel)
    }
}

/// Who put a graphic on a layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    /// A secondary event of an item.
    Event {
        playlist: String,
        item: String,
        event: String,
    },
    /// A playlist's standing logo.
    Logo { playlist: String },
    /// An item's event fired by an operator (see `graphics_ops`): it stays until its duration
    /// is over or it is cleared, whatever is on air.
    Manual { playlist: String, event: String },
}

impl Owner {
    pub(super) fn playlist(&self) -> &str {
        match self {
            Owner::Event { playlist, .. }
            | Owner::Logo { playlist }
            | Owner::Manual { playlist, .. } => playlist,
        }
    }

    /// The event's id or `logo` (as the as-run log names it).
    pub(super) fn name(&self) -> &str {
        match self {
            Owner::Event { event, .. } | Owner::Manual { event, .. } => event,
            Owner::Logo { .. } => "logo",
        }
    }
}

/// Where a graphic is in its life on a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Loaded in the background, or a template added but not played.
    Prepared,
    On,
    /// A template told to stop: its out-animation runs until it is removed.
    Stopped,
}

/// What a graphics layer shows, as far as onair put it there (or found it on reconciling).
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub owner: Owner,
    pub graphic: Graphic,
    pub phase: Phase,
    /// When it reached its phase (ns on the engine clock).
    pub since_ns: i64,
}

/// A step waiting for its moment.
#[derive(Debug, Clone)]
pub(super) struct Timer {
    pub owner: Owner,
    pub at: GLayer,
    pub graphic: Graphic,
    pub step: Step,
    /// The instant it is meant for (the frame's start for `On` and `Off`).
    pub planned_ns: i64,
    /// Part of its playlist's plan, replaced whenever that is worked out again; `false` for the
    /// clean-up after a cut, which outlives the plan.
    pub planned: bool,
}

/// An item's first frame, as the daemon knows it: never before the real one, at most a frame and
/// the answer's way back after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub item: String,
    pub start_ns: i64,
}

/// Every graphics layer's state and the steps waiting.
#[derive(Default)]
pub(crate) struct Graphics {
    /// By send instant (ns on the engine clock), then the order they were planned in.
    pub(super) timers: BTreeMap<(i64, u64), Timer>,
    pub(super) seq: u64,
    /// Per playlist, its on-air item's first frame.
    pub(super) anchors: HashMap<String, Anchor>,
    /// Per playlist, where its next item starts when it follows by AUTO.
    pub(super) predicted: HashMap<String, Anchor>,
    pub(super) live: BTreeMap<GLayer, Live>,
    /// Mixer changes in effect.
    pub(super) mixed: HashSet<Owner>,
    /// Events not shown again while their item is on air: cleared by hand, or failed.
    pub(super) suppressed: HashSet<Owner>,
    /// Playlists whose logo the operator took off (until taken on again).
    pub(super) logo_off: HashSet<String>,
    /// Channels whose graphics layers are not known until reconciliation has read them.
    pub(super) unknown: HashSet<Chan>,
    pub(super) dirty: BTreeSet<String>,
    /// The alarm raised for a layer whose last command failed (cleared by its next success).
    pub(super) alarms: HashMap<GLayer, String>,
    /// The live layers changed since they were last published.
    pub(super) view_dirty: bool,
    /// The live layers as last published.
    pub(super) view: Vec<crate::protocol::LiveGraphic>,
    /// Operators' ops waiting for CasparCG's answer, by ticket.
    pub(super) replies: HashMap<u64, super::graphics_ops::Pending>,
    pub(super) next_ticket: u64,
}

impl Graphics {
    /// What `at` shows when `owner` put it there.
    pub(super) fn mine(&self, at: &GLayer, owner: &Owner) -> Option<&Live> {
        self.live.get(at).filter(|l| &l.owner == owner)
    }
}

/// The item on air from `start_ns` at `rate`, as the timing core takes it (frames from its first).
pub(super) fn primary(start_ns: i64, item: &Item, rate: FrameRate) -> Primary {
    Primary {
        start: 0,
        length: channel_frames(item, rate).and_then(|l| i64::try_from(l).ok()),
        clock: FrameClock::new(start_ns, rate),
    }
}

/// Whether a graphic of `owner` goes off when playlist `id` has `keep` on air (its on-air item
/// and the next one when prepared; `None`: nothing of it on air). The logo stays while the
/// playlist is on air; a graphic fired by hand stays until its time is over or it is cleared.
fn goes_off(owner: &Owner, id: &str, keep: Option<(&str, Option<&str>)>) -> bool {
    if owner.playlist() != id {
        return false;
    }
    match (owner, keep) {
        (Owner::Event { item, .. }, Some((on, next))) => item != on && Some(item.as_str()) != next,
        (Owner::Logo { .. }, Some(_)) | (Owner::Manual { .. }, _) => false,
        (Owner::Event { .. } | Owner::Logo { .. }, None) => true,
    }
}

/// An `On` or `Off` leaves this much of a frame before its frame starts: like a fixed-time take
/// (see `fire`), it arrives in the frame before and shows on its frame, never earlier.
pub(super) fn lead(rate: FrameRate) -> i64 {
    rate.frame_nanos() * 3 / 4
}

/// The anchor of an item whose take CasparCG answered at `at_ms`: the command ran before the
/// answer and shows on the next frame, so its first frame starts at most a frame after the
/// answer (the millisecond the time was rounded down to, added back).
pub(super) fn anchor_after_answer(at_ms: u64, rate: FrameRate) -> i64 {
    i64::try_from(at_ms)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1_000_000)
        .saturating_add(1_000_000 + rate.frame_nanos())
}

impl Engine {
    /// Plans `id`'s graphics again after this turn of the loop.
    pub(super) fn graphics_touch(&mut self, id: &str) {
        self.graphics.dirty.insert(id.to_owned());
    }

    /// `item` of `id` went on air at `at_ms` (`how`): its anchor. An AUTO switch the plan
    /// predicted starts where the item before ended, to the frame; any other start is known from
    /// the answer.
    pub(super) fn graphics_on_air(&mut self, id: &str, item: &str, how: &str, at_ms: u64) {
        let rate = self.graphics_rate(id);
        let predicted = self
            .graphics
            .predicted
            .remove(id)
            .filter(|p| p.item == item && how == "auto");
        let start_ns = predicted.map_or_else(|| anchor_after_answer(at_ms, rate), |p| p.start_ns);
        self.graphics.anchors.insert(
            id.to_owned(),
            Anchor {
                item: item.to_owned(),
                start_ns,
            },
        );
        self.graphics.suppressed.retain(
            |o| !matches!(o, Owner::Event { playlist, item: i, .. } if playlist == id && i != item),
        );
        self.graphics_touch(id);
    }

    /// The frame rate of playlist `id`'s channel (25 fps until it is read).
    fn graphics_rate(&self, id: &str) -> FrameRate {
        self.playlists
            .get(id)
            .map_or(FrameRate::FPS_25, |pl| self.rate_of_pl(pl))
    }

    /// Plans every playlist touched since the last turn, and publishes the live layers when
    /// they changed.
    pub(super) fn graphics_sync(&mut self) {
        while let Some(id) = self.graphics.dirty.pop_first() {
            self.graphics_replan(&id);
        }
        if std::mem::take(&mut self.graphics.view_dirty) {
            let view = self.graphics_view();
            if view != self.graphics.view {
                self.graphics.view = view.clone();
                self.publish(EventKind::Graphics { graphics: view });
            }
        }
    }

    /// The live layers as clients see them.
    fn graphics_view(&self) -> Vec<crate::protocol::LiveGraphic> {
        use crate::protocol::{GraphicPhase, LiveGraphic, LiveKind};
        self.graphics
            .live
            .iter()
            .map(|(at, l)| LiveGraphic {
                server: (self.groups.len() > 1).then(|| self.groups[at.group].name.clone()),
                channel: at.channel,
                layer: at.layer,
                playlist: l.owner.playlist().to_owned(),
                item: match &l.owner {
                    Owner::Event { item, .. } => Some(item.clone()),
                    Owner::Logo { .. } | Owner::Manual { .. } => None,
                },
                name: l.owner.name().to_owned(),
                label: l.graphic.label().to_owned(),
                kind: match l.graphic {
                    Graphic::Template { .. } => LiveKind::Template,
                    Graphic::Still { .. } | Graphic::Mixer(_) => LiveKind::Still,
                },
                data: match &l.graphic {
                    Graphic::Template { data, .. } => data.clone(),
                    Graphic::Still { .. } | Graphic::Mixer(_) => None,
                },
                phase: match l.phase {
                    Phase::Prepared => GraphicPhase::Prepared,
                    Phase::On => GraphicPhase::On,
                    Phase::Stopped => GraphicPhase::Stopped,
                },
                manual: matches!(l.owner, Owner::Manual { .. }),
            })
            .collect()
    }

    /// The anchor of `id`'s on-air item (made from when it went on air when there is none yet,
    /// e.g. for an item adopted after a restart with no saved anchor).
    pub(super) fn graphics_anchor(&mut self, id: &str) -> Option<Anchor> {
        let p = self.playout.get(id)?;
        let on_air = p.on_air()?.to_owned();
        if let Some(a) = self.graphics.anchors.get(id).filter(|a| a.item == on_air) {
            return Some(a.clone());
        }
        let since = p.on_air_since_ms()?;
        let rate = self.graphics_rate(id);
        let anchor = Anchor {
            item: on_air,
            start_ns: anchor_after_answer(since, rate),
        };
        self.graphics.anchors.insert(id.to_owned(), anchor.clone());
        Some(anchor)
    }

    /// Works out `id`'s graphics from scratch: its timers replaced, anything of an item no longer
    /// on air taken off.
    fn graphics_replan(&mut self, id: &str) {
        self.graphics
            .timers
            .retain(|_, t| !(t.planned && t.owner.playlist() == id));
        let Some(r) = self.route(id) else {
            self.graphics_off_all(id, None);
            return;
        };
        if !self.may_drive() || self.graphics.unknown.contains(&r.chan()) {
            // Not ours to drive, or not known yet: reconciliation plans it once it has read the
            // layers.
            return;
        }
        let Some(anchor) = self.graphics_anchor(id) else {
            self.graphics.anchors.remove(id);
            self.graphics.predicted.remove(id);
            self.graphics_off_all(id, None);
            return;
        };
        // The pieces needed, not the playlist: this runs whenever the playlist changes, and a
        // rundown can hold 10,000 items.
        let Some(pl) = self.playlists.get(id) else {
            return;
        };
        let Some(item) = pl.item(&anchor.item).cloned() else {
            return;
        };
        let logo = pl.logo.clone();
        let predicted = self.graphics_predict(pl, &item, &anchor, r);
        let keep = predicted.as_ref().map(|(a, _)| a.item.as_str());
        self.graphics_off_all(id, Some((&anchor.item, keep)));
        let now = self.now_ns();
        let rate = self.rate_of(r.chan());
        let primary = primary(anchor.start_ns, &item, rate);
        for ev in &item.graphics.events {
            self.plan_event(id, &item.id, r, &primary, ev, now);
        }
        let logo = logo.as_ref();
        let want = logo.is_some() && item.graphics.logo && !self.graphics.logo_off.contains(id);
        if let Some(logo) = logo {
            self.plan_logo(id, r, logo, want, anchor.start_ns, now);
        }
        if let Some((next_anchor, next)) = predicted {
            let next_primary = self::primary(next_anchor.start_ns, &next, rate);
            for ev in &next.graphics.events {
                self.plan_event(id, &next.id, r, &next_primary, ev, now);
            }
            let want_next =
                logo.is_some() && next.graphics.logo && !self.graphics.logo_off.contains(id);
            if let Some(logo) = logo.filter(|_| want_next != want) {
                self.plan_logo_change(id, r, logo, want_next, &next_anchor, anchor.start_ns);
            }
            self.graphics.predicted.insert(id.to_owned(), next_anchor);
        } else {
            self.graphics.predicted.remove(id);
        }
    }

    /// The item after `item` and where it starts, when it follows by AUTO on the frame the
    /// on-air item ends (known length, autoplay, the same playlist).
    fn graphics_predict(
        &self,
        pl: &Playlist,
        item: &Item,
        anchor: &Anchor,
        r: Route,
    ) -> Option<(Anchor, Item)> {
        if !self.auto_allowed(&pl.id) {
            return None;
        }
        let rate = self.rate_of(r.chan());
        let held = i64::try_from(crate::playout::timing::auto_frames(item, rate)?).ok()?;
        let next = transport::next_after(pl, Some(&item.id))?;
        let next = pl.item(&next)?.clone();
        let held = held - i64::from(next.transition.frames);
        let start_ns = anchor
            .start_ns
            .saturating_add(rate.frames_to_nanos(held.max(0)));
        Some((
            Anchor {
                item: next.id.clone(),
                start_ns,
            },
            next,
        ))
    }

    /// Takes off what `id` has on its graphics layers, but for the events of the items in
    /// `keep` (the on-air item, and the next one when it is prepared) and, while `keep` is given,
    /// its logo: off at once, templates removed after their out-animation.
    pub(super) fn graphics_off_all(&mut self, id: &str, keep: Option<(&str, Option<&str>)>) {
        let now = self.now_ns();
        let gone: Vec<(GLayer, Live)> = self
            .graphics
            .live
            .iter()
            .filter(|(_, l)| goes_off(&l.owner, id, keep))
            .map(|(at, l)| (*at, l.clone()))
            .collect();
        for (at, live) in gone {
            let timer = |step, planned_ns| Timer {
                owner: live.owner.clone(),
                at,
                graphic: live.graphic.clone(),
                step,
                planned_ns,
                planned: false,
            };
            match live.phase {
                Phase::On | Phase::Prepared => {
                    self.add_timer(timer(Step::Off, now));
                    self.add_timer(timer(Step::Remove, now + timing::REMOVE_AFTER_NANOS));
                }
                Phase::Stopped => {
                    let at = live.since_ns.max(now) + timing::REMOVE_AFTER_NANOS;
                    self.add_timer(timer(Step::Remove, at));
                }
            }
        }
        let mixed: Vec<Owner> = self
            .graphics
            .mixed
            .iter()
            .filter(|o| goes_off(o, id, keep))
            .cloned()
            .collect();
        for owner in mixed {
            self.graphics_mixer_reset(&owner, now);
        }
    }

    /// Undoes a mixer change of `owner` still in effect, now.
    fn graphics_mixer_reset(&mut self, owner: &Owner, now: i64) {
        let Owner::Event {
            playlist,
            item,
            event,
        } = owner
        else {
            return;
        };
        let Some((r, ev)) = self.playlists.get(playlist).and_then(|pl| {
            let ev = pl
                .item(item)?
                .graphics
                .events
                .iter()
                .find(|e| &e.id == event)?;
            Some((self.route_of(pl)?, ev.clone()))
        }) else {
            self.graphics.mixed.remove(owner);
            return;
        };
        self.add_timer(Timer {
            owner: owner.clone(),
            at: GLayer::of(r, ev.layer),
            graphic: ev.graphic,
            step: Step::Off,
            planned_ns: now,
            planned: false,
        });
    }

    /// Queues a step; a clean-up step already queued for the same graphic is not queued twice.
    pub(super) fn add_timer(&mut self, t: Timer) {
        if !t.planned
            && self
                .graphics
                .timers
                .values()
                .any(|o| !o.planned && o.owner == t.owner && o.step == t.step && o.at == t.at)
        {
            return;
        }
        let rate = self.rate_of(t.at.chan());
        let send = match t.step {
            Step::On | Step::Off => t.planned_ns.saturating_sub(lead(rate)),
            Step::Prepare | Step::Remove => t.planned_ns,
        };
        let seq = self.graphics.seq;
        self.graphics.seq += 1;
        self.graphics
            .timers
            .insert((send.max(self.now_ns()), seq), t);
    }

    /// When the next graphics step is due, on the loop's timer.
    pub(super) fn graphics_deadline(&self) -> tokio::time::Instant {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let Some(((send, _), _)) = self.graphics.timers.first_key_value() else {
            return far;
        };
        let speed = u64::from(self.scheduler.clock.speed().max(1));
        let wait = u64::try_from(send.saturating_sub(self.now_ns())).unwrap_or(0) / speed;
        tokio::time::Instant::now() + Duration::from_nanos(wait)
    }
}
