//! Fault switches shared by the simulator's tasks: the failures real studios see, on demand.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Faults that connections and queues consult on every reply or command.
#[derive(Debug, Default)]
pub struct Faults {
    stalled: AtomicBool,
    /// A stall with an end (`stall 5s` on the control port); `stalled` is the open-ended one.
    stalled_until: Mutex<Option<Instant>>,
    reply_delay_ms: AtomicU64,
    corrupt_next: AtomicBool,
    command_delays: Mutex<CommandDelays>,
    /// Commands sleeping in a command delay right now.
    delaying: AtomicU64,
}

#[derive(Debug, Default)]
struct CommandDelays {
    all: Duration,
    by_name: HashMap<String, Duration>,
}

/// The bytes written instead of a reply by [`Faults::corrupt_next_reply`]: invalid UTF-8, a NUL, and a
/// line that is no AMCP status line, so a client must treat the link as broken.
pub const GARBAGE: &[u8] = b"\xff\xfe\x00 garbage \x9f from a confused server\r\n";

impl Faults {
    /// How many commands are held by a command delay at this moment (so a test can wait until a
    /// slow command is really on the server before it goes on).
    pub fn delaying(&self) -> u64 {
        self.delaying.load(Ordering::SeqCst)
    }

    pub(crate) fn delay_started(&self) {
        self.delaying.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn delay_ended(&self) {
        self.delaying.fetch_sub(1, Ordering::SeqCst);
    }

    /// Stall: keep reading and keep TCP open, but never write anything (not even PONG). Turning it
    /// off also ends a stall started with [`Faults::stall_for`].
    pub fn set_stalled(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
        if !on {
            *self.until() = None;
        }
    }

    /// Stall for `duration` from now, then answer again by itself (replies due meanwhile are lost).
    /// `false` when the end is too far away to be represented.
    pub fn stall_for(&self, duration: Duration) -> bool {
        let Some(end) = Instant::now().checked_add(duration) else {
            return false;
        };
        *self.until() = Some(end);
        true
    }

    /// Whether replies are currently swallowed.
    pub fn stalled(&self) -> bool {
        self.stalled.load(Ordering::SeqCst) || self.stall_left().is_some()
    }

    /// Whether a stall without an end ([`Faults::set_stalled`]) is on.
    pub fn stalled_open_ended(&self) -> bool {
        self.stalled.load(Ordering::SeqCst)
    }

    /// The time left of a stall started with [`Faults::stall_for`], if one is under way.
    pub fn stall_left(&self) -> Option<Duration> {
        let end = (*self.until())?;
        let left = end.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    fn until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // An Option<Instant> cannot be left half-written by a panic, so poisoning is ignored.
        self.stalled_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every fault off: no stall, no delays, no pending garbage.
    pub fn clear(&self) {
        self.set_stalled(false);
        self.set_reply_delay(Duration::ZERO);
        self.corrupt_next.store(false, Ordering::SeqCst);
        *self.delays() = CommandDelays::default();
    }

    /// Delay every reply (PONG and parser errors included) by `delay`, keeping their order.
    pub fn set_reply_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.reply_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The current reply delay.
    pub fn reply_delay(&self) -> Duration {
        Duration::from_millis(self.reply_delay_ms.load(Ordering::SeqCst))
    }

    /// Replace the next reply written on any connection with [`GARBAGE`].
    pub fn corrupt_next_reply(&self) {
        self.corrupt_next.store(true, Ordering::SeqCst);
    }

    /// Consumes the corruption request, if one is pending.
    pub(crate) fn take_corruption(&self) -> bool {
        self.corrupt_next.swap(false, Ordering::SeqCst)
    }

    /// Processing time added to every queued command, so queue orderings and overflow can be provoked.
    pub fn set_command_delay(&self, delay: Duration) {
        self.delays().all = delay;
    }

    /// Processing time for one registered command name (e.g. `PLAY`, `CLS`, `MIXER OPACITY`); it
    /// replaces the general delay for that command.
    pub fn set_command_delay_for(&self, name: &str, delay: Duration) {
        self.delays()
            .by_name
            .insert(name.to_ascii_uppercase(), delay);
    }

    /// The processing delay for a command.
    pub fn command_delay(&self, name: &str) -> Duration {
        let d = self.delays();
        d.by_name.get(name).copied().unwrap_or(d.all)
    }

    fn delays(&self) -> std::sync::MutexGuard<'_, CommandDelays> {
        // A panic while holding this lock cannot leave the map inconsistent, so poisoning is ignored.
        self.command_delays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
