//! Planning one graphic: the steps of an item's event still to come, and the logo's on or off for
//! the on-air item and at the next item's first frame, each from what its layer shows now (see
//! `graphics`).

use super::graphics::{Anchor, GLayer, Owner, Phase, Timer};
use super::*;
use crate::playout::graphics::{Graphic, Logo, Secondary};
use crate::playout::graphics_timing::{self as timing, PREPARE_NANOS, Primary, Step};

impl Engine {
    /// Plans the steps of one event still to come, from what its layer shows now.
    pub(super) fn plan_event(
        &mut self,
        id: &str,
        item: &str,
        r: Route,
        primary: &Primary,
        ev: &Secondary,
        now: i64,
    ) {
        let owner = Owner::Event {
            playlist: id.to_owned(),
            item: item.to_owned(),
            event: ev.id.clone(),
        };
        if self.graphics.suppressed.contains(&owner) {
            return;
        }
        let Ok(steps) = timing::steps(primary, ev) else {
            // Timed from the end of an item of unknown length, or after its end: never shown
            // (docs/graphics.md).
            return;
        };
        let at = GLayer::of(r, ev.layer);
        let current = if matches!(ev.graphic, Graphic::Mixer(_)) {
            self.graphics.mixed.contains(&owner).then_some(Phase::On)
        } else {
            self.graphics.mine(&at, &owner).map(|l| l.phase)
        };
        let instant = |step: Step| {
            steps
                .iter()
                .find(|t| t.step == step)
                .map(|t| primary.clock.start_of(t.frame))
        };
        let remaining: &[Step] = match current {
            // Never shown and its window closed: it is not shown late.
            None if instant(Step::Off).is_some_and(|off| off <= now) => &[],
            None => &[Step::Prepare, Step::On, Step::Off, Step::Remove],
            Some(Phase::Prepared) => &[Step::On, Step::Off, Step::Remove],
            Some(Phase::On) => &[Step::Off, Step::Remove],
            Some(Phase::Stopped) => &[Step::Remove],
        };
        for t in steps.iter().filter(|t| remaining.contains(&t.step)) {
            self.add_timer(Timer {
                owner: owner.clone(),
                at,
                graphic: ev.graphic.clone(),
                step: t.step,
                planned_ns: primary.clock.start_of(t.frame),
                planned: true,
            });
        }
    }

    /// Plans the logo of `id` for its on-air item (from `from_ns`, its first frame): on or off.
    pub(super) fn plan_logo(
        &mut self,
        id: &str,
        r: Route,
        logo: &Logo,
        want: bool,
        from_ns: i64,
        now: i64,
    ) {
        let at = GLayer::of(r, logo.layer);
        let owner = Owner::Logo {
            playlist: id.to_owned(),
        };
        let current = self
            .graphics
            .mine(&at, &owner)
            .map(|l| (l.phase, l.since_ns));
        let graphic = (*logo.graphic).clone();
        let timer = |step, planned_ns| Timer {
            owner: owner.clone(),
            at,
            graphic: graphic.clone(),
            step,
            planned_ns,
            planned: true,
        };
        let mut steps = Vec::new();
        match (want, current) {
            (true, Some((Phase::On, _))) | (false, None) => {}
            (true, Some((Phase::Prepared, _))) => steps.push(timer(Step::On, from_ns)),
            (true, _) => {
                steps.push(timer(Step::Prepare, from_ns.saturating_sub(PREPARE_NANOS)));
                steps.push(timer(Step::On, from_ns));
            }
            (false, Some((Phase::On | Phase::Prepared, _))) => {
                steps.push(timer(Step::Off, from_ns));
                steps.push(timer(Step::Remove, from_ns + timing::REMOVE_AFTER_NANOS));
            }
            (false, Some((Phase::Stopped, since))) => {
                steps.push(timer(
                    Step::Remove,
                    since.max(now) + timing::REMOVE_AFTER_NANOS,
                ));
            }
        }
        for t in steps {
            self.add_timer(t);
        }
    }

    /// The logo's change on the first frame of the predicted next item (`want`: on), never
    /// prepared before the on-air item's own first frame.
    pub(super) fn plan_logo_change(
        &mut self,
        id: &str,
        r: Route,
        logo: &Logo,
        want: bool,
        next: &Anchor,
        from_ns: i64,
    ) {
        let at = GLayer::of(r, logo.layer);
        let timer = |step, planned_ns| Timer {
            owner: Owner::Logo {
                playlist: id.to_owned(),
            },
            at,
            graphic: (*logo.graphic).clone(),
            step,
            planned_ns,
            planned: true,
        };
        let steps = if want {
            vec![
                timer(
                    Step::Prepare,
                    next.start_ns.saturating_sub(PREPARE_NANOS).max(from_ns),
                ),
                timer(Step::On, next.start_ns),
            ]
        } else {
            vec![
                timer(Step::Off, next.start_ns),
                timer(Step::Remove, next.start_ns + timing::REMOVE_AFTER_NANOS),
            ]
        };
        for t in steps {
            self.add_timer(t);
        }
    }
}
