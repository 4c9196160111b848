//! Where each pane goes for a terminal size. Shared by the view (to draw) and by `update` (to know
//! how many rows a page is and keep the cursors' windows in step with what is drawn).

use ratatui::layout::{Constraint, Layout, Rect};

/// Below this the console only asks for a bigger terminal.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
/// Narrower than this, the media library is hidden (Tab skips it; `i` still inserts its selection).
pub const LIBRARY_MIN_WIDTH: u16 = 70;

/// The rectangles of every pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub on_air: Rect,
    pub rundown: Rect,
    pub library: Option<Rect>,
    pub log: Rect,
    pub notice: Rect,
    pub footer: Rect,
}

/// Lays out `area`: status bar (`status_rows` high: 2 when a main/backup pair has its servers
/// line, see [`super::Model::status_rows`]), on-air panel, rundown beside the library, log, notice,
/// key hints.
pub fn areas(area: Rect, status_rows: u16) -> Areas {
    let log_height = match area.height {
        h if h >= 36 => h / 4,
        h if h >= 20 => 5,
        _ => 3,
    };
    let [status, on_air, main, log, notice, footer] = Layout::vertical([
        Constraint::Length(status_rows),
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(log_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (rundown, library) = if area.width >= LIBRARY_MIN_WIDTH {
        let width = (area.width * 38 / 100).max(24);
        let [rundown, library] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(main);
        (rundown, Some(library))
    } else {
        (main, None)
    };
    Areas {
        status,
        on_air,
        rundown,
        library,
        log,
        notice,
        footer,
    }
}

/// Whether `area` is too small to draw the console.
pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// Item rows the rundown shows (inside its border, below its header).
pub fn rundown_rows(area: Rect, status_rows: u16) -> usize {
    usize::from(areas(area, status_rows).rundown.height.saturating_sub(3))
}

/// Clip rows the library shows.
pub fn library_rows(area: Rect, status_rows: u16) -> usize {
    areas(area, status_rows)
        .library
        .map_or(0, |l| usize::from(l.height.saturating_sub(2)))
}

/// Lines the log pane shows.
pub fn log_rows(area: Rect, status_rows: u16) -> usize {
    usize::from(areas(area, status_rows).log.height.saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pane_fits_at_80_by_24_and_grows_at_120_by_40() {
        let small = areas(Rect::new(0, 0, 80, 24), 1);
        assert_eq!(small.status.height, 1);
        assert!(small.library.is_some());
        assert_eq!(rundown_rows(Rect::new(0, 0, 80, 24), 1), 10);
        assert_eq!(log_rows(Rect::new(0, 0, 80, 24), 1), 3);
        let big = Rect::new(0, 0, 120, 40);
        assert!(rundown_rows(big, 1) > 20);
        assert!(log_rows(big, 1) >= 8);
        assert!(areas(Rect::new(0, 0, 60, 24), 1).library.is_none());
    }

    #[test]
    fn a_pairs_servers_line_takes_one_rundown_row() {
        let small = Rect::new(0, 0, 80, 24);
        assert_eq!(areas(small, 2).status.height, 2);
        assert_eq!(rundown_rows(small, 2), 9);
        assert_eq!(log_rows(small, 2), 3, "the log keeps its lines");
    }
}
