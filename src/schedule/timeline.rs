//! The planner's input and output: a rundown with start modes, what is on air, the filler, and the
//! planned timeline with its gaps, cuts, over/under-runs and the next fixed-time event.
//!
//! Output positions are frame indices of the input's [`FrameClock`] (`Plan::instant` turns one into
//! nanoseconds): planning in whole frames keeps every start on a frame boundary and makes the
//! arithmetic per item a few integer operations.

use super::frames::FrameClock;

/// How an item starts. Instants are nanoseconds since the Unix epoch, already resolved from the
/// station-local time of day (see [`super::Station::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// When the previous item ends (minus its transition into this one).
    Follow,
    /// On the frame containing the instant, cutting whatever is on air.
    Hard(i64),
    /// At the instant or when the previous item ends, whichever is later.
    Soft(i64),
}

/// One item of the rundown, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub id: &'a str,
    /// Channel frames it plays (out − in, or the clip's length); `None` when unknown (the media
    /// library does not know the clip yet, or it loops until cut).
    pub frames: Option<u64>,
    /// Frames of its transition in, by which a following item starts before the previous ends.
    pub overlap: u32,
    pub start: Start,
}

/// Where the rundown stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Item `index` is on air since `started` (nanoseconds since the Unix epoch).
    OnAir { index: usize, started: i64 },
    /// No rundown item is on air (stopped, or filler in a gap); `next` is the first item not yet
    /// played (0 for a fresh rundown). Planning resumes at the first fixed time from there.
    Waiting { next: usize },
}

/// The order filler clips play in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillerOrder {
    /// As listed, looped.
    InOrder,
    /// Every clip once per pass, each pass in an order drawn from the seed and the pass number.
    Shuffle { seed: u64 },
}

/// The channel's filler: clips that fill every gap, looped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filler<'a> {
    /// Each clip's length in channel frames (clips of 0 frames are skipped).
    pub clips: &'a [u64],
    pub order: FillerOrder,
    /// Sequence number of the next filler play (the engine keeps it, so the filler goes on where
    /// it stopped instead of starting over at every gap).
    pub next: u64,
}

/// What the channel shows after the rundown's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndPolicy {
    /// The filler (an unfilled gap, and so an alarm, without one).
    #[default]
    Filler,
    /// Black, as the operator chose.
    Black,
    /// The last frame held, as the operator chose.
    Hold,
}

/// Everything a plan is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub entries: &'a [Entry<'a>],
    pub position: Position,
    /// Nanoseconds since the Unix epoch.
    pub now: i64,
    /// Gaps after the rundown, and filler plays, are planned up to this instant (e.g. the next
    /// day's start).
    pub horizon: i64,
    pub clock: FrameClock,
    pub filler: Option<Filler<'a>>,
    pub end: EndPolicy,
}

/// Where an item stands in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before the item on air (or before `Position::Waiting::next`).
    Past,
    OnAir,
    /// Its start is known.
    Planned,
    /// Its start depends on an item of unknown length (not guessed).
    Unknown,
    /// Nothing is on air and no fixed time comes before it: it plays only when taken, or after a
    /// fixed-time item reached.
    NotScheduled,
    /// A later hard start comes first: it will not play (its `cut` says where and how much).
    Skipped,
}

/// An item that a hard start will cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The frame the cut happens on.
    pub at: i64,
    /// Frames of the item that will not be seen; `None` when its length is unknown.
    pub lost: Option<i64>,
}

/// The fixed time of a hard or soft item, and how the rundown meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    pub hard: bool,
    /// The frame containing the item's instant: on time means starting on it.
    pub due: i64,
    /// Frames between the end of what comes before and `due`: positive is an under-run (a gap to
    /// fill), negative an over-run (a hard start cuts that much, a soft start waits that long);
    /// `None` when what comes before has an unknown length.
    pub slack: Option<i64>,
    /// Frames the start is after `due` (never negative): a soft start waiting, a time that passed
    /// before the item could start, or a hard time earlier than the item before it.
    pub delay: Option<i64>,
}

/// The plan of one item (`Plan::items[i]` is `Input::entries[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub state: State,
    /// First frame; `None` when not known.
    pub start: Option<i64>,
    /// The frame after its last one (after any cut); `None` when not known.
    pub end: Option<i64>,
    pub cut: Option<Cut>,
    pub fixed: Option<Fixed>,
}

impl Planned {
    pub(super) const fn without_start(state: State) -> Planned {
        Planned {
            state,
            start: None,
            end: None,
            cut: None,
            fixed: None,
        }
    }
}

/// How a gap is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapFill {
    Filler,
    /// Nothing to fill it with: the channel would go black by itself (alarm).
    Unfilled,
    /// After the rundown, black by the operator's choice.
    Black,
    /// After the rundown, the last frame held by the operator's choice.
    Hold,
}

/// Time with no rundown item on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub start: i64,
    pub frames: i64,
    /// The fixed-time item it precedes; `None` for the gap after the rundown's end.
    pub before: Option<usize>,
    pub fill: GapFill,
    /// Its filler plays: `Plan::fillers[fillers.0..fillers.1]` (up to the horizon).
    pub fillers: (usize, usize),
}

/// One filler clip played in a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillerPlay {
    /// Index into `Filler::clips`.
    pub clip: usize,
    /// Its sequence number in the filler's loop.
    pub seq: u64,
    pub start: i64,
    pub frames: u64,
    /// Shorter than the clip, to end where the gap does.
    pub trimmed: bool,
}

/// The next hard or soft item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextFixed {
    pub index: usize,
    pub due: i64,
    /// Its planned start, when known.
    pub start: Option<i64>,
    /// Frames from now to its start (or to `due` when the start is unknown).
    pub countdown: i64,
}

/// Filler plays planned at most, so a tiny filler clip and a far horizon cannot exhaust memory.
pub const MAX_FILLER_PLAYS: usize = 200_000;

/// A planned timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub clock: FrameClock,
    /// The frame containing `Input::now`.
    pub now: i64,
    pub items: Vec<Planned>,
    pub gaps: Vec<Gap>,
    pub fillers: Vec<FillerPlay>,
    /// Whether filler plays stopped at [`MAX_FILLER_PLAYS`].
    pub fillers_truncated: bool,
    /// The sequence number of the filler play after the last one planned.
    pub next_filler: u64,
    pub next_fixed: Option<NextFixed>,
    /// The frame after the rundown's last; `None` when unknown or when nothing is planned.
    pub end: Option<i64>,
}

impl Plan {
    /// An empty plan whose buffers [`super::plan::plan_into`] can reuse.
    pub fn new(clock: FrameClock) -> Plan {
        Plan {
            clock,
            now: 0,
            items: Vec::new(),
            gaps: Vec::new(),
            fillers: Vec::new(),
            fillers_truncated: false,
            next_filler: 0,
            next_fixed: None,
            end: None,
        }
    }

    /// Nanoseconds since the Unix epoch at which `frame` starts.
    pub fn instant(&self, frame: i64) -> i64 {
        self.clock.start_of(frame)
    }

    /// Nanoseconds from `now` (an instant) to the next fixed-time event's start.
    pub fn countdown_nanos(&self, now: i64) -> Option<i64> {
        let next = self.next_fixed?;
        Some(
            self.instant(next.start.unwrap_or(next.due))
                .saturating_sub(now),
        )
    }

    /// Gaps that nothing fills (each one an alarm before it starts).
    pub fn unfilled(&self) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().filter(|g| g.fill == GapFill::Unfilled)
    }
}
