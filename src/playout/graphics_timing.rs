//! Graphics timing (issue 19): from an item's first frame, its length and its secondary events, the
//! frames on which each graphic is prepared, goes on, goes off and is removed; and the AMCP commands
//! of each step. Pure: the engine places these on its timer and sends them (docs/graphics.md).
//!
//! Rules: a graphic goes on at the first frame that starts at or after its instant (never early);
//! an instant from the end needs the item's length; a graphic never outlives its item (its end is
//! capped at the item's end); stills and templates are prepared [`PREPARE_NANOS`] ahead so
//! that going on is one short command (`PLAY n-l`, `CG … PLAY`).

use super::graphics::{Graphic, MixerChange, Secondary};
use crate::amcp::{CgOp, ChannelLayer, Clip, Command, MixerOp, MixerTween};
use crate::schedule::{FrameClock, FrameRate, NANOS_PER_SEC};

/// How long before going on a still is loaded and a template added (two seconds at 25 fps).
pub const PREPARE_NANOS: i64 = 2 * NANOS_PER_SEC;
/// How long after `CG … STOP` the template is removed (its out-animation plays meanwhile).
pub const REMOVE_AFTER_NANOS: i64 = 2 * NANOS_PER_SEC;

/// One step of a graphic's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Prepare,
    On,
    Off,
    Remove,
}

/// A step on its frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    pub frame: i64,
    pub step: Step,
    /// The event's id within its item.
    pub event: String,
}

/// Why an event has no place on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaced {
    /// Timed from the end of an item whose length is not known (a looping or unknown clip).
    NeedsLength,
    /// It would go on after the item's end.
    AfterTheEnd,
}

/// An item on air from frame `start` (of `clock`), `length` frames long when known.
#[derive(Debug, Clone, Copy)]
pub struct Primary {
    pub start: i64,
    pub length: Option<i64>,
    pub clock: FrameClock,
}

impl Primary {
    fn end(&self) -> Option<i64> {
        self.length.map(|l| self.start + l)
    }

    /// The first frame at or after `nanos` from the start (negative: from the end).
    fn frame_of(&self, nanos: i64) -> Result<i64, Unplaced> {
        let base = if nanos >= 0 {
            self.clock.start_of(self.start)
        } else {
            self.clock
                .start_of(self.end().ok_or(Unplaced::NeedsLength)?)
        };
        Ok(self
            .clock
            .frame_at_or_after(base.saturating_add(nanos))
            .max(self.start))
    }
}

/// The steps of one event on `primary`, in frame order.
pub fn steps(primary: &Primary, event: &Secondary) -> Result<Vec<Timed>, Unplaced> {
    let on = primary.frame_of(event.offset_ms.saturating_mul(1_000_000))?;
    let end = primary.end();
    if end.is_some_and(|e| on >= e) {
        return Err(Unplaced::AfterTheEnd);
    }
    let off = match event.duration_ms {
        Some(d) => {
            let at = primary.clock.start_of(on).saturating_add(
                i64::try_from(d)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1_000_000),
            );
            let f = primary.clock.frame_at_or_after(at);
            Some(end.map_or(f, |e| f.min(e)))
        }
        None => end,
    };
    let clock = primary.clock;
    let ahead =
        |frame: i64, nanos: i64| clock.frame_at(clock.start_of(frame).saturating_sub(nanos));
    let step = |frame, step| Timed {
        frame,
        step,
        event: event.id.clone(),
    };
    let mut out = Vec::with_capacity(4);
    if !matches!(event.graphic, Graphic::Mixer(_)) {
        out.push(step(ahead(on, PREPARE_NANOS), Step::Prepare));
    }
    out.push(step(on, Step::On));
    if let Some(off) = off {
        out.push(step(off, Step::Off));
        if matches!(event.graphic, Graphic::Template { .. }) {
            let after = clock.frame_at_or_after(clock.start_of(off) + REMOVE_AFTER_NANOS);
            out.push(step(after, Step::Remove));
        }
    }
    Ok(out)
}

/// The commands of `step` for `graphic` on `cl` (a channel and the graphic's layer), sent together
/// for the step's frame (a mixer change may set several properties).
pub fn commands(cl: ChannelLayer, graphic: &Graphic, step: Step) -> Vec<Command> {
    match (graphic, step) {
        (Graphic::Still { clip }, Step::Prepare) => vec![Command::LoadBg(cl, Clip::new(clip))],
        // Promotes what `Prepare` loaded.
        (Graphic::Still { .. }, Step::On) => vec![Command::Play(cl, None)],
        (Graphic::Still { .. }, Step::Off) => vec![Command::Clear(cl)],
        (
            Graphic::Template {
                template,
                cg_layer,
                data,
            },
            Step::Prepare,
        ) => vec![Command::Cg(
            cl,
            CgOp::Add {
                cg_layer: *cg_layer,
                template: template.clone(),
                play_on_load: false,
                data: data.as_ref().map(|d| d.to_wire()),
            },
        )],
        (Graphic::Template { cg_layer, .. }, Step::On) => {
            vec![Command::Cg(
                cl,
                CgOp::Play {
                    cg_layer: *cg_layer,
                },
            )]
        }
        (Graphic::Template { cg_layer, .. }, Step::Off) => {
            vec![Command::Cg(
                cl,
                CgOp::Stop {
                    cg_layer: *cg_layer,
                },
            )]
        }
        (Graphic::Template { cg_layer, .. }, Step::Remove) => {
            vec![Command::Cg(
                cl,
                CgOp::Remove {
                    cg_layer: *cg_layer,
                },
            )]
        }
        (Graphic::Mixer(m), Step::On) => mixer(cl, m, false),
        (Graphic::Mixer(m), Step::Off) => mixer(cl, m, true),
        _ => Vec::new(),
    }
}

/// The mixer commands of a change, or of undoing it (`reset`: back to the defaults).
fn mixer(cl: ChannelLayer, m: &MixerChange, reset: bool) -> Vec<Command> {
    let tween = Some(MixerTween {
        frames: m.frames,
        tween: m.tween.clone(),
    });
    let mut out = Vec::new();
    if let Some(o) = m.opacity {
        let v = if reset { 1.0 } else { o.0 };
        out.push(Command::Mixer(cl, MixerOp::Opacity(Some(v), tween.clone())));
    }
    if let Some(v) = m.volume {
        let v = if reset { 1.0 } else { v.0 };
        out.push(Command::Mixer(cl, MixerOp::Volume(Some(v), tween.clone())));
    }
    if let Some(f) = m.fill {
        let [x, y, sx, sy] = if reset {
            [0.0, 0.0, 1.0, 1.0]
        } else {
            f.map(|v| v.0)
        };
        out.push(Command::Mixer(
            cl,
            MixerOp::Fill {
                x,
                y,
                scale_x: sx,
                scale_y: sy,
                tween,
            },
        ));
    }
    out
}

/// A rate's frame clock, genlocked to the Unix epoch as the schedule's is.
pub fn clock(rate: FrameRate) -> FrameClock {
    FrameClock::new(0, rate)
}

#[cfg(test)]
#[path = "graphics_timing_tests.rs"]
mod tests;
