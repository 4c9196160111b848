//! The console's state: the daemon's state as last received, the connection's health, and the view
//! state (focus, cursors, filter, dialogs, log, pending commands).
//!
//! Only [`super::update`] changes a `Model`; [`super::view`] reads it. Time is a field (`now`,
//! `wall_ms`) set by the run loop, so every decision that depends on time (is telemetry stale, is an
//! ack overdue) is a pure function of the model and tests can set the clock.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::timeline::Timelines;
use crate::protocol::{ClipView, Item, Items, PlaylistView, Progress, Role, Snapshot, Status};

pub use super::text::sanitize;

/// Log lines kept.
pub const LOG_CAPACITY: usize = 2000;
/// Progress older than this (while something is playing) is shown as stale.
pub const PROGRESS_STALE_AFTER: Duration = Duration::from_secs(2);
/// A command without an answer after this long is reported in the log.
pub const ACK_OVERDUE: Duration = Duration::from_secs(10);
/// How long a notice stays in the status line.
pub const NOTICE_FOR: Duration = Duration::from_secs(10);
/// Commands sent per second at most: a held-down key must not trip the daemon's per-client rate
/// limit, which closes the connection.
pub const MAX_COMMANDS_PER_SEC: usize = 10;

/// Whose daemon the console is attached to: that decides what quitting does and which hints help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `onair tui`: a daemon of its own; quitting the console leaves it (and playout) running.
    #[default]
    Attached,
    /// `onair demo`: the simulator and daemon live in this process and stop when it quits.
    Demo,
}

/// The state of the connection to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// An attempt is under way (`attempt` counts since the last good connection).
    Connecting { attempt: u32 },
    /// The socket is open.
    Up,
    /// The last attempt failed or the connection dropped; the next one starts at `retry_at`.
    Down {
        reason: String,
        retry_at: Instant,
        attempt: u32,
    },
}

/// What `hello` told us about this connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelloInfo {
    pub boot_id: Option<String>,
    pub role: Option<Role>,
    pub server_version: Option<String>,
    /// The daemon's `seq` when this connection started: the state is current once it reaches it.
    pub hello_seq: u64,
}

/// The pane that has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Rundown,
    Library,
    Log,
}

impl Pane {
    pub fn next(self, with_library: bool) -> Pane {
        match self {
            Pane::Rundown if with_library => Pane::Library,
            Pane::Rundown | Pane::Library => Pane::Log,
            Pane::Log => Pane::Rundown,
        }
    }

    pub fn prev(self, with_library: bool) -> Pane {
        match self {
            Pane::Rundown => Pane::Log,
            Pane::Library => Pane::Rundown,
            Pane::Log if with_library => Pane::Library,
            Pane::Log => Pane::Rundown,
        }
    }
}

/// A selection and the first visible row of a windowed list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

impl Cursor {
    /// Moves by `delta` rows within `len` rows, keeping the selection inside a window of `rows`.
    pub fn move_by(&mut self, delta: isize, len: usize, rows: usize) {
        let target = self.selected.saturating_add_signed(delta);
        self.selected = target.min(len.saturating_sub(1));
        self.fit(len, rows);
    }

    /// Clamps to `len` rows and scrolls the window of `rows` so the selection is visible.
    pub fn fit(&mut self, len: usize, rows: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        // Never leave empty rows at the bottom when the list could fill them.
        self.offset = self.offset.min(len.saturating_sub(rows));
    }

    /// The rows `[start, end)` to draw in a window of `rows`, computed without trusting `offset`
    /// (the view must show the selection even if the model was not fitted to this height).
    pub fn window(&self, len: usize, rows: usize) -> std::ops::Range<usize> {
        let mut c = *self;
        c.fit(len, rows);
        let start = c.offset.min(len);
        start..(start + rows).min(len)
    }
}

/// How serious a log line or notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One line of the log pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub wall_ms: u64,
    pub level: Level,
    pub text: String,
}

/// The log pane: a bounded ring and a scroll position (lines up from the newest).
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub lines: VecDeque<LogLine>,
    pub scroll: usize,
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub at: Instant,
}

/// A command sent and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub op: String,
    /// What the operator asked for, in words ("take CLIP1").
    pub label: String,
    pub sent: Instant,
    /// Move the rundown cursor to the item the ack names (after an insert).
    pub select_result: bool,
    /// Already reported as overdue.
    pub overdue: bool,
}

/// What a confirmation dialog would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Stop {
        playlist: String,
    },
    Delete {
        playlist: String,
        item: String,
    },
    /// `graphics.clear` of `layer` on the playlist's channel (the graphics dialog comes back).
    ClearGraphics {
        playlist: String,
        layer: i32,
    },
}

/// A dialog over the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    Help,
    /// Each CasparCG server in full: link, lead, in step or why not, drift, missing clips.
    Servers,
    /// The viewed playlist's channel: its live graphics, the events of the item under the
    /// rundown cursor and the logo (`g`); the selected row is [`Model::graphics_row`].
    Graphics,
    /// A line typed for a template on air (`u` in the graphics dialog: new data, `i`: a function
    /// to call); Enter sends it, Esc goes back to the graphics dialog.
    GraphicsInput(super::graphics::Input),
    Confirm {
        action: Confirm,
        question: String,
    },
}

/// The media library pane.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub cursor: Cursor,
    pub filter: String,
    /// The filter is being typed.
    pub editing: bool,
    /// Indices into the snapshot's clips that pass the filter.
    pub matches: Vec<usize>,
}

/// Facts about the viewed playlist derived once per change instead of once per frame, so a
/// 10,000-item rundown costs nothing extra to draw.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub missing: HashSet<String>,
    pub on_air: Option<usize>,
    pub cued: Option<usize>,
    pub next: Option<usize>,
    /// Sum of the known item durations, seconds.
    pub total_secs: f64,
}

/// What to show for the on-air item's times.
#[derive(Debug, Clone, PartialEq)]
pub enum Telemetry {
    /// Nothing is on air.
    Idle,
    /// Live numbers.
    Live(Progress),
    /// The numbers are not live; the reason in words.
    Stale(String),
}

/// The whole console state.
#[derive(Debug, Clone)]
pub struct Model {
    pub url: String,
    pub mode: Mode,
    pub link: Link,
    /// The console has been connected at least once ("connecting" before, "reconnecting" after).
    pub ever_connected: bool,
    pub session: HelloInfo,
    /// The daemon's state as last received (valid only with `have_state`).
    pub state: Snapshot,
    /// A snapshot of the current boot has been applied; events may be applied on top.
    pub have_state: bool,
    /// The `seq` `state` reflects.
    pub seq: u64,
    /// A gap was seen and a resume was requested, or an event did not fit and a snapshot was;
    /// cleared by the next contiguous event or snapshot.
    pub resync_pending: bool,
    /// When the last progress (or snapshot) arrived.
    pub progress_at: Option<Instant>,
    /// The daemon's planned timelines and station clock as last received (`None` before the
    /// first, or from a daemon without a schedule); see [`super::timeline`].
    pub timelines: Option<Arc<Timelines>>,
    /// The playlist the rundown shows (`None`: the daemon's selected one).
    pub viewing: Option<String>,
    pub derived: Derived,
    pub focus: Pane,
    pub rundown: Cursor,
    /// The id of the selected rundown item: the cursor follows it when items move.
    pub selected_id: Option<String>,
    pub library: Library,
    pub log: Log,
    pub dialog: Option<Dialog>,
    /// The graphics dialog's selected row (clamped where read: the live list changes under it).
    pub graphics_row: usize,
    pub notice: Option<Notice>,
    pub pending: BTreeMap<String, Pending>,
    pub next_command: u64,
    /// When the commands of the last second were sent.
    pub recent_sends: VecDeque<Instant>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub now: Instant,
    pub wall_ms: u64,
    pub quit: bool,
}

impl Model {
    pub fn new(url: impl Into<String>, now: Instant, wall_ms: u64) -> Self {
        Model {
            url: url.into(),
            mode: Mode::Attached,
            link: Link::Connecting { attempt: 1 },
            ever_connected: false,
            session: HelloInfo::default(),
            state: Snapshot::default(),
            have_state: false,
            seq: 0,
            resync_pending: false,
            progress_at: None,
            timelines: None,
            viewing: None,
            derived: Derived::default(),
            focus: Pane::Rundown,
            rundown: Cursor::default(),
            selected_id: None,
            library: Library::default(),
            log: Log::default(),
            dialog: None,
            graphics_row: 0,
            notice: None,
            pending: BTreeMap::new(),
            next_command: 1,
            recent_sends: VecDeque::new(),
            size: (80, 24),
            now,
            wall_ms,
            quit: false,
        }
    }

    /// Whether the shown state is the daemon's current state (connected, synchronised, no gap).
    pub fn is_live(&self) -> bool {
        self.link == Link::Up
            && self.have_state
            && self.seq >= self.session.hello_seq
            && !self.resync_pending
    }

    /// Where a reconnect should resume from.
    pub fn position(&self) -> Option<(String, u64)> {
        match (&self.session.boot_id, self.have_state) {
            (Some(boot), true) => Some((boot.clone(), self.seq)),
            _ => None,
        }
    }

    /// The playlist the rundown shows.
    pub fn playlist(&self) -> Option<&PlaylistView> {
        let id = self.viewing.as_ref().or(self.state.selected.as_ref());
        let found = id.and_then(|id| self.state.playlists.iter().find(|p| &p.playlist.id == id));
        found.or_else(|| self.state.playlists.first())
    }

    pub fn items(&self) -> &Items {
        static NONE: std::sync::LazyLock<Items> = std::sync::LazyLock::new(Items::new);
        self.playlist().map_or(&NONE, |p| &p.playlist.items)
    }

    /// The item under the rundown cursor.
    pub fn selected_item(&self) -> Option<&Item> {
        self.items().get(self.rundown.selected).map(|i| &**i)
    }

    /// The terminal as a rectangle.
    pub fn area(&self) -> ratatui::layout::Rect {
        ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1)
    }

    /// Rows of the status bar: a second one lists the servers of a main/backup pair (kept while
    /// not live, dimmed, like the rest of the last known state).
    pub fn status_rows(&self) -> u16 {
        if super::servers::is_pair(&self.state.link) {
            2
        } else {
            1
        }
    }

    /// Where each pane goes at the current size.
    pub fn areas(&self) -> super::layout::Areas {
        super::layout::areas(self.area(), self.status_rows())
    }

    /// Whether the wide layout's library pane is visible at the current size.
    pub fn library_visible(&self) -> bool {
        self.areas().library.is_some()
    }

    /// The on-air times, or why they are not shown.
    pub fn telemetry(&self) -> Telemetry {
        let Some(pl) = self.playlist() else {
            return Telemetry::Idle;
        };
        if pl.playout.on_air.is_none() || pl.playout.status == Status::Stopped {
            return Telemetry::Idle;
        }
        if !self.is_live() {
            return Telemetry::Stale("not connected to the daemon".into());
        }
        if !self.state.link.connected {
            return Telemetry::Stale("no telemetry: CasparCG link down".into());
        }
        let Some(p) = self.state.progress.get(&pl.playlist.id) else {
            return Telemetry::Stale("no telemetry".into());
        };
        if !p.fresh {
            return Telemetry::Stale("no telemetry from CasparCG".into());
        }
        // The daemon only sends progress when it changes: silence is expected while paused or at
        // the end of a clip, but not while a clip is running.
        let age = self
            .progress_at
            .map_or(Duration::MAX, |t| self.now.saturating_duration_since(t));
        let moving = pl.playout.status == Status::Playing && p.remaining > 0.5;
        if moving && age > PROGRESS_STALE_AFTER {
            return Telemetry::Stale(format!("no telemetry for {} s", age.as_secs()));
        }
        Telemetry::Live(*p)
    }

    /// Recomputes [`Derived`] after the viewed playlist changed.
    pub fn derive(&mut self) {
        let derived = match self.playlist() {
            None => Derived::default(),
            Some(pl) => {
                let items = &pl.playlist.items;
                let index = |id: &Option<String>| {
                    id.as_deref()
                        .and_then(|id| items.iter().position(|i| i.id == id))
                };
                Derived {
                    missing: pl.missing.iter().cloned().collect(),
                    on_air: index(&pl.playout.on_air),
                    cued: index(&pl.playout.cued),
                    next: index(&pl.playout.next),
                    total_secs: items.iter().filter_map(|i| item_seconds(i)).sum(),
                }
            }
        };
        self.derived = derived;
    }

    /// Recomputes the library filter's matches.
    pub fn refilter(&mut self) {
        let needle = self.library.filter.to_lowercase();
        self.library.matches = self
            .state
            .media
            .clips
            .iter()
            .enumerate()
            .filter(|(_, c)| needle.is_empty() || c.name.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect();
        let rows = super::layout::library_rows(self.area(), self.status_rows());
        let len = self.library.matches.len();
        self.library.cursor.fit(len, rows);
    }

    /// The clip under the library cursor.
    pub fn selected_clip(&self) -> Option<&ClipView> {
        let i = *self.library.matches.get(self.library.cursor.selected)?;
        self.state.media.clips.get(i)
    }

    /// Appends a log line (bounded), keeping the scroll position on the same lines.
    pub fn log(&mut self, level: Level, text: impl Into<String>) {
        if self.log.lines.len() >= LOG_CAPACITY {
            self.log.lines.pop_front();
        }
        let text = super::text::name_ids(&self.state, &text.into());
        self.log.lines.push_back(LogLine {
            wall_ms: self.wall_ms,
            level,
            text: sanitize(&text),
        });
        if self.log.scroll > 0 {
            self.log.scroll = (self.log.scroll + 1).min(self.log.lines.len());
        }
    }

    /// Shows a notice in the status line and logs it.
    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        let text = sanitize(&super::text::name_ids(&self.state, &text.into()));
        self.log(level, text.clone());
        self.notice = Some(Notice {
            level,
            text,
            at: self.now,
        });
    }
}

/// Length of an item in seconds, when its clip length is known (in/out points applied).
pub fn item_seconds(item: &Item) -> Option<f64> {
    let frames = item.frames?;
    let (num, den) = item.fps?;
    if num == 0 || den == 0 {
        return None;
    }
    let fps = f64::from(num) / f64::from(den);
    let full = frames as f64 / fps;
    let start = item.in_point.map_or(0.0, |i| i as f64 / fps);
    let end = item.out_point.map_or(full, |o| (o as f64 / fps).min(full));
    Some((end - start).max(0.0))
}

#[cfg(test)]
mod tests;
