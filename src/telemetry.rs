//! Logging setup: human-readable or JSON lines on stderr, filtered by a `tracing` directive.
//!
//! Human lines are coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (no-color.org): escape codes in a file or the journal are noise (`^[[33m WARN^[[0m`).

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Output format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level`. Calling it twice is
/// harmless (the second call is ignored), which keeps tests that start several subsystems simple.
pub fn init(format: Format, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour && format == Format::Human)
        .with_writer(std::io::stderr);
    let _ = match format {
        Format::Human => builder.try_init(),
        Format::Json => builder.json().try_init(),
    };
}

/// Whether human log lines get colours: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string.
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

// ---- In-memory log buffer for the console ---------------------------------------------------------
//
// While `onair tui` or `onair demo` owns the terminal, a log line on stderr would be drawn over the
// console. These processes install [`init_buffer`] instead: records go to a bounded ring that the
// console shows in its log pane (the `BufferLayer` pattern of spotify-player, style.md §1).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// One log record kept by a [`LogBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Position in the buffer's whole history (the first record is 0).
    pub seq: u64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    pub level: tracing::Level,
    pub target: String,
    /// The message followed by the other fields as `key=value`.
    pub message: String,
}

#[derive(Debug, Default)]
struct Ring {
    records: VecDeque<LogRecord>,
    capacity: usize,
    next: u64,
}

/// A bounded ring of recent log records, shared between the tracing layer and its reader.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    ring: Arc<Mutex<Ring>>,
}

impl LogBuffer {
    /// A buffer that keeps the last `capacity` records (at least one).
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            ring: Arc::new(Mutex::new(Ring {
                records: VecDeque::new(),
                capacity: capacity.max(1),
                next: 0,
            })),
        }
    }

    /// Appends a record, dropping the oldest when full.
    pub fn push(&self, level: tracing::Level, target: &str, message: String) {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // A poisoned lock only means another thread panicked mid-push; the ring is still usable.
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.records.len() >= ring.capacity {
            ring.records.pop_front();
        }
        let seq = ring.next;
        ring.next += 1;
        ring.records.push_back(LogRecord {
            seq,
            unix_ms,
            level,
            target: target.to_owned(),
            message,
        });
    }

    /// The records from position `from` on (those still kept), and the position to ask for next.
    pub fn since(&self, from: u64) -> (Vec<LogRecord>, u64) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let records = ring
            .records
            .iter()
            .filter(|r| r.seq >= from)
            .cloned()
            .collect();
        (records, ring.next)
    }
}

/// The tracing layer that feeds a [`LogBuffer`].
pub struct BufferLayer {
    buffer: LogBuffer,
}

impl BufferLayer {
    pub fn new(buffer: LogBuffer) -> Self {
        BufferLayer { buffer }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for BufferLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut visitor = FieldText::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        self.buffer
            .push(*meta.level(), meta.target(), visitor.finish());
    }
}

/// Formats an event's fields as `message key=value …`.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl FieldText {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value}", field.name());
        }
    }
}

/// Installs a global subscriber that writes only to a bounded in-memory buffer of `capacity`
/// records (nothing reaches the terminal), filtered by `level` unless `RUST_LOG` is set. If a
/// subscriber is already installed, the returned buffer simply stays empty.
pub fn init_buffer(level: &str, capacity: usize) -> LogBuffer {
    let buffer = LogBuffer::new(capacity);
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(BufferLayer::new(buffer.clone()))
        .try_init();
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None), "a file or a pipe");
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}
