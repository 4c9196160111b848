//! The planned timeline as clients will see it (issue 16): each item's planned start and end, what
//! a hard start will cut, the over/under-run in front of fixed times, gaps and the countdown to the
//! next fixed time, in Unix milliseconds like every other `*_ms` field.
//!
//! Built from the planning core's [`Plan`] with [`TimelineView::from_plan`]. The engine publishes
//! every playlist's view, with the station's clock, as [`Timelines`]: derived state like progress,
//! not sequenced, sent as a `timeline` message after the snapshot and whenever it changes (at most
//! once a second). A countdown is not sent: it changes every frame, so clients compute it from
//! `next_fixed.start_ms` and their clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schedule::{Entry, GapFill, Plan, State};

/// Where an item stands in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineState {
    Past,
    OnAir,
    Planned,
    /// After an item of unknown length: no start is claimed.
    Unknown,
    /// Plays only when taken (nothing on air and no fixed time before it).
    NotScheduled,
    /// A later hard start comes first: it will not play (`lost_ms` is its length).
    Skipped,
}

/// A hard or soft item's fixed time and how the rundown meets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FixedView {
    pub hard: bool,
    /// Start of the frame containing the item's time.
    pub due_ms: i64,
    /// Positive: under-run (a gap to fill); negative: over-run; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_ms: Option<i64>,
    /// How far after its time the item starts; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<i64>,
}

/// One item of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    pub item: String,
    pub state: TimelineState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// A hard start cuts this item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    /// How much of it the cut loses; absent when unknown (or not cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<FixedView>,
}

/// How a gap is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapFillView {
    Filler,
    /// Nothing fills it: the channel would go black (an alarm).
    Unfilled,
    Black,
    Hold,
}

/// Time with no rundown item on air.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GapView {
    pub start_ms: i64,
    pub length_ms: i64,
    /// The fixed-time item it precedes; absent for the gap after the rundown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    pub fill: GapFillView,
}

/// The next fixed-time item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NextFixedView {
    pub item: String,
    pub hard: bool,
    /// Start of the frame containing its time.
    pub due_ms: i64,
    /// When it will start (later than `due_ms` for a soft start waiting for the item before it).
    pub start_ms: i64,
}

/// Entries a timeline carries at most, from the item on air (or the next to play) on: a day of
/// two-minute items is 700, and a message for 10,000 items would be a megabyte per change.
pub const TIMELINE_WINDOW: usize = 1_000;

/// A playlist's planned timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineView {
    /// The playlist revision it was planned from: a client whose copy has another revision waits
    /// for the next timeline before matching entries to items.
    pub revision: u64,
    /// Index in the playlist of `entries[0]`: items before it are past.
    pub first: usize,
    /// Items from `first` on, at most [`TIMELINE_WINDOW`]; later ones have no planned time here.
    pub entries: Vec<TimelineEntry>,
    pub gaps: Vec<GapView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fixed: Option<NextFixedView>,
    /// When the rundown ends; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
}

/// Nanoseconds to milliseconds, rounded up: a start shown is never before the real one.
fn ms_ceil(ns: i64) -> i64 {
    ns.div_euclid(1_000_000) + i64::from(ns.rem_euclid(1_000_000) != 0)
}

/// Nanoseconds to milliseconds, rounded towards zero (lengths and differences).
fn ms(ns: i64) -> i64 {
    ns / 1_000_000
}

/// The station's clock, for the station clock clients show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StationView {
    /// IANA name (`Europe/Berlin`), or `UTC`.
    pub timezone: String,
    /// When the channel day starts, `HH:MM` or `HH:MM:SS`.
    pub day_start: String,
    /// The channel day now on air, `YYYY-MM-DD`.
    pub air_date: String,
    /// Seconds east of UTC now: station time = UTC + this (sent again when it changes).
    pub utc_offset_s: i32,
}

/// Every playlist's timeline and the station clock, as the `timeline` message carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Timelines {
    /// When it was planned (Unix ms).
    pub planned_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<StationView>,
    /// By playlist id.
    pub playlists: std::collections::BTreeMap<String, TimelineView>,
}

impl TimelineView {
    /// The view of `plan`, whose items are `entries` (same order) of playlist `revision`.
    pub fn from_plan(plan: &Plan, entries: &[Entry<'_>], revision: u64) -> TimelineView {
        let at = |frame: i64| ms_ceil(plan.instant(frame));
        let span = |frames: i64| ms(plan.clock.rate.frames_to_nanos(frames));
        let id = |i: usize| entries.get(i).map_or_else(String::new, |e| e.id.to_owned());
        let first = plan
            .items
            .iter()
            .position(|p| p.state != State::Past)
            .unwrap_or(plan.items.len());
        let entries_view = plan
            .items
            .iter()
            .enumerate()
            .skip(first)
            .take(TIMELINE_WINDOW)
            .map(|(i, p)| TimelineEntry {
                item: id(i),
                state: match p.state {
                    State::Past => TimelineState::Past,
                    State::OnAir => TimelineState::OnAir,
                    State::Planned => TimelineState::Planned,
                    State::Unknown => TimelineState::Unknown,
                    State::NotScheduled => TimelineState::NotScheduled,
                    State::Skipped => TimelineState::Skipped,
                },
                start_ms: p.start.map(at),
                end_ms: p.end.map(at),
                cut: p.cut.is_some(),
                lost_ms: p.cut.and_then(|c| c.lost).map(span),
                fixed: p.fixed.map(|f| FixedView {
                    hard: f.hard,
                    due_ms: at(f.due),
                    slack_ms: f.slack.map(span),
                    delay_ms: f.delay.map(span),
                }),
            })
            .collect();
        let gaps = plan
            .gaps
            .iter()
            .map(|g| GapView {
                start_ms: at(g.start),
                length_ms: span(g.frames),
                before: g.before.map(id),
                fill: match g.fill {
                    GapFill::Filler => GapFillView::Filler,
                    GapFill::Unfilled => GapFillView::Unfilled,
                    GapFill::Black => GapFillView::Black,
                    GapFill::Hold => GapFillView::Hold,
                },
            })
            .collect();
        let next_fixed = plan.next_fixed.map(|n| NextFixedView {
            item: id(n.index),
            hard: entries
                .get(n.index)
                .is_some_and(|e| matches!(e.start, crate::schedule::Start::Hard(_))),
            due_ms: at(n.due),
            start_ms: at(n.start.unwrap_or(n.due)),
        });
        TimelineView {
            revision,
            first,
            entries: entries_view,
            gaps,
            next_fixed,
            end_ms: plan.end.map(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{EndPolicy, FrameClock, FrameRate, Input, Position, Start, plan};

    #[test]
    fn a_plan_reads_in_milliseconds_with_item_ids() {
        const SEC: i64 = 1_000_000_000;
        let rundown = [
            Entry {
                id: "opener",
                frames: Some(1_000),
                overlap: 0,
                start: Start::Follow,
            },
            Entry {
                id: "news",
                frames: Some(250),
                overlap: 0,
                start: Start::Hard(20 * SEC),
            },
            Entry {
                id: "weather",
                frames: Some(100),
                overlap: 0,
                start: Start::Soft(40 * SEC),
            },
        ];
        let input = Input {
            entries: &rundown,
            position: Position::OnAir {
                index: 0,
                started: 0,
            },
            now: SEC,
            horizon: 50 * SEC,
            clock: FrameClock::new(0, FrameRate::FPS_25),
            filler: None,
            end: EndPolicy::Black,
        };
        let view = TimelineView::from_plan(&plan(&input), &rundown, 7);
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["entries"][0]["state"], "on_air");
        assert_eq!(json["entries"][0]["cut"], true);
        assert_eq!(json["entries"][0]["lost_ms"], 20_000);
        assert_eq!(json["entries"][1]["start_ms"], 20_000);
        assert_eq!(json["entries"][1]["fixed"]["slack_ms"], -20_000);
        assert_eq!(json["entries"][2]["start_ms"], 40_000);
        assert_eq!(json["gaps"][0]["before"], "weather");
        assert_eq!(json["gaps"][0]["length_ms"], 10_000);
        assert_eq!(json["gaps"][0]["fill"], "unfilled");
        assert_eq!(json["gaps"][1]["fill"], "black");
        assert_eq!(json["next_fixed"]["item"], "news");
        assert_eq!(json["next_fixed"]["start_ms"], 20_000);
        assert_eq!(json["next_fixed"]["hard"], true);
        assert_eq!(json["revision"], 7);
        assert_eq!(json["first"], 0);
        let back: TimelineView = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, view);
        assert_eq!(ms_ceil(1), 1);
        assert_eq!(ms_ceil(-1), 0);
    }
}
