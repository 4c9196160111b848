//! The as-run log: one JSON line per item start and end in `<dir>/YYYY-MM-DD.jsonl` (UTC date),
//! appended and handed to the OS line by line, never rewritten, rotated when the UTC date changes.
//!
//! A line is `{"time":"2026-11-23T15:02:27.123Z","event":"end","channel_layer":"1-10",
//! "playlist":…,"item":…,"clip":…,"planned_frames":…,"actual_frames":…,"ended_by":"auto",…}`;
//! fields that are unknown are left out. [`AsRunLine`] reads a line back.
//!
//! [`AsRunLog`] is synchronous: a record is one `write` of a few hundred bytes. The engine may call
//! it directly, or use [`AsRunWriter`], which does the write on Tokio's blocking pool so a stalled
//! disk never blocks the runtime, and stamps the time when the event happened, not when the write
//! ran. Errors are returned, never panicked on: the engine turns them into an alarm. A write that
//! failed half-way leaves a partial line; the next line starts on a fresh line so that only the
//! broken one is lost (the same holds for a file a crash left without its final newline).
//!
//! Only regular files are opened, never through a symbolic link and never blocking (see
//! [`open_regular`]): a FIFO, link or directory named like a day's file makes that day's records
//! fail with an error naming it (the engine raises an alarm) and is left untouched.

mod time;

pub use time::{rfc3339_millis, utc_date};

use crate::playout::store::{not_regular, open_regular};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::amcp::ChannelLayer;

/// Whether a line marks the start or the end of an item on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsRunEvent {
    Start,
    End,
    /// A graphic went on (a secondary event, the logo, or one fired by hand): `graphic` names it.
    #[serde(rename = "graphic_on")]
    GraphicOn,
    #[serde(rename = "graphic_off")]
    GraphicOff,
}

/// How an item left the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// It ran to its end (CasparCG's `AUTO` switch, or the end of the rundown).
    Auto,
    /// An operator took another item.
    Take,
    /// An operator skipped to the next item.
    Next,
    Stop,
    Clear,
    /// Playout failed (missing file, CasparCG error).
    Error,
    /// On reconnect or restart CasparCG showed something else on air.
    Reconcile,
    /// The daemon shut down while it was on air (playout itself continues).
    Shutdown,
    /// A hard start at a fixed time cut it.
    Hard,
    /// A soft start at its fixed time ended it (the filler in the gap before it).
    Soft,
}

impl EndReason {
    /// The JSON spelling, also used for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Auto => "auto",
            EndReason::Take => "take",
            EndReason::Next => "next",
            EndReason::Stop => "stop",
            EndReason::Clear => "clear",
            EndReason::Error => "error",
            EndReason::Reconcile => "reconcile",
            EndReason::Shutdown => "shutdown",
            EndReason::Hard => "hard",
            EndReason::Soft => "soft",
        }
    }
}

/// What happened, without the time (the log stamps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsRunEntry {
    pub event: AsRunEvent,
    pub channel_layer: ChannelLayer,
    pub playlist: String,
    pub item: String,
    pub clip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Channel frame rate `[num, den]` the frame counts are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_frames: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_frames: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_secs: Option<f64>,
    /// Set on `end` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndReason>,
    /// Free text, e.g. the error for `ended_by: error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// On `start` lines of items the schedule started at a fixed time: `hard` or `soft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_mode: Option<crate::playout::timing::StartMode>,
    /// Their planned start (RFC 3339 UTC with milliseconds): the item's `at` on its air date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_start: Option<String>,
    /// Frames between the frame containing the planned start and the frame the item started on
    /// (the one after the frame in which CasparCG answered its `PLAY`, by the daemon's clock): 0
    /// is on time, 1 a frame late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_frames: Option<i64>,
    /// Set when the clip played as the layer's filler (in a gap, or after the rundown's end).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub filler: bool,
    /// With a main/backup pair: the servers that were in step when the line was written (a side
    /// that is down or out of step is missing from it). Left out with one server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// On `graphic_on`/`graphic_off` lines: the secondary event's id, `logo`, or `manual` (the
    /// `item` is the primary item on air, `clip` the still or template, `channel_layer` the
    /// graphic's layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphic: Option<String>,
}

/// Seconds of `frames` at `fps`, rounded to the millisecond; `None` for a rate with a zero.
pub fn frames_to_secs(frames: u64, (num, den): (u32, u32)) -> Option<f64> {
    if num == 0 || den == 0 {
        return None;
    }
    // Exact integer milliseconds, rounded to nearest, so the log shows 10.01 and not 10.009999.
    let num_ms = u128::from(frames) * u128::from(den) * 1000;
    let ms = (2 * num_ms + u128::from(num)) / (2 * u128::from(num));
    #[allow(clippy::cast_precision_loss)]
    Some(ms as f64 / 1000.0)
}

impl AsRunEntry {
    /// A `start` line.
    pub fn start(
        channel_layer: ChannelLayer,
        playlist: impl Into<String>,
        item: impl Into<String>,
        clip: impl Into<String>,
    ) -> Self {
        AsRunEntry {
            event: AsRunEvent::Start,
            channel_layer,
            playlist: playlist.into(),
            item: item.into(),
            clip: clip.into(),
            title: None,
            fps: None,
            planned_frames: None,
            planned_secs: None,
            actual_frames: None,
            actual_secs: None,
            ended_by: None,
            detail: None,
            start_mode: None,
            planned_start: None,
            late_frames: None,
            filler: false,
            servers: Vec::new(),
            graphic: None,
        }
    }

    /// A `graphic_on` or `graphic_off` line: `name` is the event's id, `logo` or `manual`.
    pub fn graphic(
        event: AsRunEvent,
        channel_layer: ChannelLayer,
        playlist: impl Into<String>,
        item: impl Into<String>,
        label: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        AsRunEntry {
            event,
            graphic: Some(name.into()),
            ..Self::start(channel_layer, playlist, item, label)
        }
    }

    /// A graphic's planned instant (ns since the Unix epoch) and how many frames after it the
    /// command could show (0: on its frame).
    pub fn with_graphic_timing(mut self, planned_ns: i64, late_frames: i64) -> Self {
        let planned = crate::schedule::zone::from_nanos(planned_ns);
        self.planned_start = Some(planned.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        self.late_frames = Some(late_frames);
        self
    }

    /// An `end` line.
    pub fn end(
        channel_layer: ChannelLayer,
        playlist: impl Into<String>,
        item: impl Into<String>,
        clip: impl Into<String>,
        ended_by: EndReason,
    ) -> Self {
        AsRunEntry {
            event: AsRunEvent::End,
            ended_by: Some(ended_by),
            ..Self::start(channel_layer, playlist, item, clip)
        }
    }

    pub fn with_title(mut self, title: Option<String>) -> Self {
        self.title = title;
        self
    }

    /// The planned duration in channel frames at `fps` (the seconds are derived).
    pub fn with_planned(mut self, frames: u64, fps: (u32, u32)) -> Self {
        self.fps = Some(fps);
        self.planned_frames = Some(frames);
        self.planned_secs = frames_to_secs(frames, fps);
        self
    }

    /// The actual duration in channel frames at `fps` (the seconds are derived).
    pub fn with_actual(mut self, frames: u64, fps: (u32, u32)) -> Self {
        self.fps = Some(fps);
        self.actual_frames = Some(frames);
        self.actual_secs = frames_to_secs(frames, fps);
        self
    }

    /// The actual duration when only seconds are known (e.g. measured by the wall clock).
    pub fn with_actual_secs(mut self, secs: f64) -> Self {
        self.actual_secs = Some(secs);
        self
    }

    /// A start the schedule made at a fixed time: its mode, planned instant (ns since the Unix
    /// epoch) and how many frames late it came.
    pub fn with_fixed_start(
        mut self,
        mode: crate::playout::timing::StartMode,
        planned_ns: i64,
        late_frames: i64,
    ) -> Self {
        let planned = crate::schedule::zone::from_nanos(planned_ns);
        self.start_mode = Some(mode);
        self.planned_start = Some(planned.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        self.late_frames = Some(late_frames);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// One line of the log as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsRunLine {
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    #[serde(flatten)]
    pub entry: AsRunEntry,
}

impl AsRunLine {
    pub fn parse(line: &str) -> Result<AsRunLine, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// The line as written: the time first, then the entry's fields.
#[derive(Serialize)]
struct LineRef<'a> {
    time: &'a str,
    #[serde(flatten)]
    entry: &'a AsRunEntry,
}

/// Reads a log file: the lines that parse, and how many did not (blank lines are not counted).
pub fn read_file(path: &Path) -> io::Result<(Vec<AsRunLine>, usize)> {
    let mut lines = Vec::new();
    let mut bad = 0;
    let file = open_regular(path, OpenOptions::new().read(true))?;
    for line in io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match AsRunLine::parse(&line) {
            Ok(l) => lines.push(l),
            Err(_) => bad += 1,
        }
    }
    Ok((lines, bad))
}

#[derive(Debug)]
struct Current {
    date: String,
    path: PathBuf,
    file: File,
    /// Device and inode of `file`, to notice the name now being something else.
    identity: (u64, u64),
}

impl Current {
    /// False when the day's name no longer leads to the open file: removed, renamed away, or
    /// replaced (by a symbolic link, say). Appending to the open file would then lose the lines
    /// in an unlinked file, or hide them where nobody looks.
    fn still_named(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|m| identity(&m) == self.identity)
    }
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The as-run log of one data directory (`data/asrun`).
#[derive(Debug)]
pub struct AsRunLog {
    dir: PathBuf,
    current: Option<Current>,
    /// The file may end in a partial line: start the next one on a new line.
    needs_newline: bool,
}

impl AsRunLog {
    /// Creates `dir` if needed and opens today's file, so an unwritable directory is an error now
    /// rather than at the first item. Today's file being something other than a regular file (a
    /// FIFO, a link…) is not: it is logged, left untouched, and each record fails with an error
    /// naming it until it is removed, so the daemon still starts.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<AsRunLog> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        let mut log = AsRunLog {
            dir,
            current: None,
            needs_newline: false,
        };
        match log.switch_to(utc_date(SystemTime::now())) {
            Err(e) if not_regular(&e).is_some() => {
                tracing::error!(error = %e, "as-run log: today's file refused; records fail until it is removed");
            }
            other => other?,
        }
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file lines go to now.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// The file for a `YYYY-MM-DD` date.
    pub fn path_for(&self, date: &str) -> PathBuf {
        self.dir.join(format!("{date}.jsonl"))
    }

    /// Appends `entry` stamped with the current time.
    pub fn record(&mut self, entry: &AsRunEntry) -> io::Result<()> {
        self.record_at(entry, SystemTime::now())
    }

    /// Appends `entry` stamped `at`, in the file of `at`'s UTC date.
    pub fn record_at(&mut self, entry: &AsRunEntry, at: SystemTime) -> io::Result<()> {
        let date = utc_date(at);
        // One `lstat` per line: the file is reopened (or refused) if its name changed hands.
        if self
            .current
            .as_ref()
            .is_none_or(|c| c.date != date || !c.still_named())
        {
            self.switch_to(date)?;
        }
        let mut line = Vec::with_capacity(512);
        if self.needs_newline {
            line.push(b'\n');
        }
        let time = rfc3339_millis(at);
        serde_json::to_writer(&mut line, &LineRef { time: &time, entry })
            .map_err(io::Error::other)?;
        line.push(b'\n');
        let Some(current) = self.current.as_mut() else {
            return Err(io::Error::other("as-run log has no open file"));
        };
        // One write call per line: an O_APPEND write of this size lands in one piece.
        match current
            .file
            .write_all(&line)
            .and_then(|()| current.file.flush())
        {
            Ok(()) => {
                self.needs_newline = false;
                Ok(())
            }
            Err(e) => {
                // Part of the line may be on disk; reopen next time and start on a new line.
                self.needs_newline = true;
                self.current = None;
                Err(e)
            }
        }
    }

    /// Forces the current file to disk (at shutdown; lines are already with the OS).
    pub fn sync(&mut self) -> io::Result<()> {
        match &self.current {
            Some(c) => c.file.sync_data(),
            None => Ok(()),
        }
    }

    fn switch_to(&mut self, date: String) -> io::Result<()> {
        self.current = None;
        let path = self.path_for(&date);
        let mut file = open_regular(
            &path,
            OpenOptions::new().read(true).append(true).create(true),
        )?;
        let meta = file.metadata()?;
        // A crash may have left the last line unfinished.
        if meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            self.needs_newline |= last[0] != b'\n';
        } else {
            self.needs_newline = false;
        }
        self.current = Some(Current {
            date,
            path,
            file,
            identity: identity(&meta),
        });
        Ok(())
    }
}

/// A cheap-clone async front of [`AsRunLog`]: each record is written on Tokio's blocking pool.
/// Records from one task are written in the order they are awaited.
#[derive(Debug, Clone)]
pub struct AsRunWriter {
    log: Arc<Mutex<AsRunLog>>,
}

impl AsRunWriter {
    pub fn new(log: AsRunLog) -> Self {
        AsRunWriter {
            log: Arc::new(Mutex::new(log)),
        }
    }

    /// Records `entry` stamped with the time of this call.
    pub async fn record(&self, entry: AsRunEntry) -> io::Result<()> {
        self.record_at(entry, SystemTime::now()).await
    }

    /// Appends `entry` stamped `at`: when the event happened (as telemetry saw it), which may be
    /// a little before it is written.
    pub async fn record_at(&self, entry: AsRunEntry, at: SystemTime) -> io::Result<()> {
        self.blocking(move |log| log.record_at(&entry, at)).await
    }

    /// Forces the current file to disk.
    pub async fn sync(&self) -> io::Result<()> {
        self.blocking(AsRunLog::sync).await
    }

    async fn blocking(
        &self,
        f: impl FnOnce(&mut AsRunLog) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave the log inconsistent: keep going.
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut log)
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_from_frames() {
        assert_eq!(frames_to_secs(250, (25, 1)), Some(10.0));
        assert_eq!(frames_to_secs(300, (30_000, 1001)), Some(10.01));
        assert_eq!(frames_to_secs(1, (30_000, 1001)), Some(0.033));
        assert_eq!(frames_to_secs(5, (0, 1)), None);
        assert!(frames_to_secs(u64::MAX, (1, u32::MAX)).is_some());
    }
}
