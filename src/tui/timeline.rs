//! The planned timeline as the console reads it: which entry belongs to a rundown row, station
//! clock times, and the short texts of the rundown's START and DIFF columns.
//!
//! Pure functions of the model (no drawing), so the rules are tested on their own: an entry is
//! shown only when the timeline was planned from the playlist revision the console holds, since
//! after an edit the row at an index may be another item (the next timeline, within a second,
//! brings the new plan).

use crate::protocol::PlaylistView;
use crate::protocol::timeline::{GapFillView, GapView, NextFixedView, TimelineEntry, TimelineView};

use super::model::Model;

/// The timeline of `pl`, if the daemon planned one.
pub fn of<'a>(model: &'a Model, pl: &PlaylistView) -> Option<&'a TimelineView> {
    model.timelines.as_ref()?.playlists.get(&pl.playlist.id)
}

/// The entry of row `i` of `pl` in `view`: none unless `view` was planned from the revision the
/// console holds (checked by item id too, so a stale window never labels the wrong item).
pub fn entry<'a>(view: &'a TimelineView, pl: &PlaylistView, i: usize) -> Option<&'a TimelineEntry> {
    if view.revision != pl.playlist.revision {
        return None;
    }
    let entry = view.entries.get(i.checked_sub(view.first)?)?;
    let item = pl.playlist.items.get(i)?;
    (entry.item == item.id).then_some(entry)
}

/// Seconds east of UTC of the station clock (UTC when the daemon did not say).
pub fn offset_ms(model: &Model) -> i64 {
    let station = model.timelines.as_ref().and_then(|t| t.station.as_ref());
    station.map_or(0, |s| i64::from(s.utc_offset_s) * 1000)
}

/// `HH:MM:SS` station time of a Unix time in milliseconds.
pub fn station_hms(model: &Model, unix_ms: i64) -> String {
    let s = (unix_ms + offset_ms(model))
        .div_euclid(1000)
        .rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `MM:SS` (or `H:MM:SS` from an hour) of a span, rounded up: a second of over-run is never shown
/// as none.
pub fn span(ms: i64) -> String {
    let s = ms.unsigned_abs().div_ceil(1000);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// What the DIFF column says about an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    /// A hard start cuts this item; how much it loses, when known.
    Cut(Option<i64>),
    /// The gap before a fixed item (under-run): `+MM:SS`.
    Under(i64),
    /// How late the rundown reaches a fixed item (over-run): `-MM:SS`.
    Over(i64),
    /// A fixed item reached exactly on time.
    OnTime,
}

impl Diff {
    pub fn of(entry: &TimelineEntry) -> Option<Diff> {
        if entry.cut {
            return Some(Diff::Cut(entry.lost_ms));
        }
        let slack = entry.fixed.as_ref()?.slack_ms?;
        Some(match slack {
            s if s > 0 => Diff::Under(s),
            s if s < 0 => Diff::Over(-s),
            _ => Diff::OnTime,
        })
    }

    pub fn text(&self) -> String {
        match self {
            Diff::Cut(Some(lost)) => format!("✂ -{}", span(*lost)),
            Diff::Cut(None) => "✂ ?".into(),
            Diff::Under(ms) => format!("+{}", span(*ms)),
            Diff::Over(ms) => format!("-{}", span(*ms)),
            Diff::OnTime => "00:00".into(),
        }
    }
}

/// The START column: `H`/`S` for a hard or soft item, then its planned start in station time.
pub fn start_text(model: &Model, entry: &TimelineEntry) -> String {
    let mark = match &entry.fixed {
        Some(f) if f.hard => 'H',
        Some(_) => 'S',
        None => ' ',
    };
    match entry.start_ms {
        Some(ms) => format!("{mark} {}", station_hms(model, ms)),
        None if mark != ' ' => format!("{mark} --:--:--"),
        None => String::new(),
    }
}

/// The next fixed-time item of the viewed playlist and the time until it starts (ms, never
/// negative), from the console's clock.
pub fn next_fixed<'a>(model: &'a Model, pl: &PlaylistView) -> Option<(&'a NextFixedView, i64)> {
    let view = of(model, pl)?;
    let next = view.next_fixed.as_ref()?;
    let now = i64::try_from(model.wall_ms).unwrap_or(i64::MAX);
    Some((next, (next.start_ms - now).max(0)))
}

/// The first unfilled gap that has not ended yet, if any: the channel would go black there.
pub fn unfilled_gap<'a>(model: &'a Model, pl: &PlaylistView) -> Option<&'a GapView> {
    let view = of(model, pl)?;
    let now = i64::try_from(model.wall_ms).unwrap_or(i64::MAX);
    view.gaps
        .iter()
        .find(|g| g.fill == GapFillView::Unfilled && g.start_ms + g.length_ms > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::timeline::{FixedView, TimelineState};

    fn entry(cut: bool, lost: Option<i64>, slack: Option<i64>) -> TimelineEntry {
        TimelineEntry {
            item: "i".into(),
            state: TimelineState::Planned,
            start_ms: Some(0),
            end_ms: None,
            cut,
            lost_ms: lost,
            fixed: slack.map(|s| FixedView {
                hard: true,
                due_ms: 0,
                slack_ms: Some(s),
                delay_ms: None,
            }),
        }
    }

    #[test]
    fn diffs_read_as_operators_count() {
        let text = |e: &TimelineEntry| Diff::of(e).map(|d| d.text());
        assert_eq!(text(&entry(true, Some(12_000), None)).unwrap(), "✂ -00:12");
        assert_eq!(text(&entry(true, None, None)).unwrap(), "✂ ?");
        assert_eq!(text(&entry(false, None, Some(10_000))).unwrap(), "+00:10");
        assert_eq!(text(&entry(false, None, Some(-4_001))).unwrap(), "-00:05");
        assert_eq!(
            text(&entry(false, None, Some(-3_725_000))).unwrap(),
            "-1:02:05"
        );
        assert_eq!(text(&entry(false, None, Some(0))).unwrap(), "00:00");
        assert_eq!(text(&entry(false, None, None)), None);
    }

    #[test]
    fn station_time_wraps_at_midnight_both_ways() {
        let mut model = Model::new("ws://x", std::time::Instant::now(), 0);
        assert_eq!(station_hms(&model, 0), "00:00:00");
        assert_eq!(station_hms(&model, -1), "23:59:59");
        model.timelines = Some(std::sync::Arc::new(crate::protocol::timeline::Timelines {
            planned_ms: 0,
            station: Some(crate::protocol::timeline::StationView {
                timezone: "Europe/Berlin".into(),
                day_start: "06:00".into(),
                air_date: "2024-01-01".into(),
                utc_offset_s: 3600,
            }),
            playlists: Default::default(),
        }));
        assert_eq!(station_hms(&model, 23 * 3_600_000 + 30_000), "00:00:30");
    }
}
