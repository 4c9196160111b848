//! When a session sends the planned timeline: once right after every snapshot, then when the
//! engine publishes a new one, coalesced to at most one message per [`PERIOD`].
//!
//! The timeline is derived state like progress, not sequenced: a client only ever needs the latest.
//! The engine re-plans whenever something moves, so without the limit a busy rundown would send a
//! message of up to a thousand entries per playlist many times a second to every client. The text
//! itself is encoded once per published value by the shared [`super::log::EventLog`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::protocol::timeline::Timelines;

/// At most one timeline per session this often (docs/ws-protocol.md, "Timeline").
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// One session's view of the engine's timeline watch.
pub(crate) struct Feed {
    /// Awaited by the session loop itself (beside `next`, so the two borrows stay apart).
    pub(crate) rx: watch::Receiver<Arc<Timelines>>,
    /// False once the engine is gone (the watch closed): nothing more will come.
    pub(crate) live: bool,
    /// A timeline newer than the last one sent is waiting for [`Feed::next`].
    pub(crate) dirty: bool,
    /// The earliest instant the next timeline may be sent.
    pub(crate) next: Instant,
    /// The value last queued, to tell after a resume whether the client's copy is still current.
    sent: Option<Arc<Timelines>>,
}

impl Feed {
    pub(crate) fn new(rx: watch::Receiver<Arc<Timelines>>, now: Instant) -> Self {
        Feed {
            rx,
            live: true,
            dirty: false,
            next: now,
            sent: None,
        }
    }

    /// What `rx.changed()` said: a new timeline to send, or the engine is gone.
    pub(crate) fn changed(&mut self, result: Result<(), watch::error::RecvError>) {
        match result {
            Ok(()) => self.dirty = true,
            Err(_) => self.live = false,
        }
    }

    /// The timeline to send now (the latest), and the next instant one may be sent.
    pub(crate) fn take(&mut self, now: Instant) -> Arc<Timelines> {
        self.dirty = false;
        self.next = now + PERIOD;
        Arc::clone(&self.rx.borrow_and_update())
    }

    /// What [`Feed::take`] gave was queued (or, `false`, was not: try again at the next instant).
    pub(crate) fn queued(&mut self, timelines: Arc<Timelines>, ok: bool) {
        if ok {
            self.sent = Some(timelines);
        } else {
            self.dirty = true;
        }
    }

    /// After a resume that replayed events only: send the timeline at the next allowed instant if
    /// the one last queued (none on a new connection) is not the current one.
    pub(crate) fn after_replay(&mut self) {
        let current = self.rx.borrow();
        if self.sent.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &current)) {
            self.dirty = true;
        }
    }
}
