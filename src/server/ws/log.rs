//! The shared event stream: each engine event encoded once, kept in one ring for every client.
//!
//! One task is the engine's only event subscriber on the WebSocket side. It encodes every event
//! once and appends `(seq, text)` to a ring; sessions read the ring from their own position and put
//! the same text (a reference-counted `Utf8Bytes`, never copied) in their outboxes. With 1,000
//! clients that is one serialisation and one copy in memory per event instead of 1,000.
//!
//! The ring is also the resume buffer: a client that lost its connection sends `resume` with the
//! last `seq` it applied, and if every later event is still here they are replayed, otherwise the
//! client gets a snapshot. It keeps the last `server.event_buffer` events and at most
//! `server.event_buffer_bytes` of text (always at least the newest event), evicting the oldest
//! first. It is always contiguous: it holds exactly the events in `(floor, last]`, so "has them
//! all" is two comparisons. If the task ever misses events (its broadcast receiver lagged), it
//! starts a new contiguous run instead of keeping a ring with a hole; a session whose next event is
//! gone (evicted, or lost in such a lag) resynchronises from a snapshot.
//!
//! Snapshots are shared the same way: [`EventLog::snapshot`] encodes each snapshot the engine
//! publishes (one per `seq`) once and hands every session that asks the same text; progress and
//! the planned timeline likewise, once per update.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::playout::engine::EngineHandle;
use crate::protocol::timeline::Timelines;
use crate::protocol::{
    ProgressMap, Snapshot, encode_event, encode_progress, encode_snapshot, encode_timeline,
};

/// An encoded event: its `seq` and its wire text.
pub(crate) type Encoded = (u64, Utf8Bytes);

/// What the ring says about the events after a position.
#[derive(Debug)]
pub(crate) enum After {
    /// Every event after the position, in order (empty when there is none yet).
    Events(Vec<Encoded>),
    /// The next event is no longer (or was never) in the ring.
    Gone,
}

#[derive(Debug)]
struct Ring {
    /// Every event with a `seq` above this (up to `last`) is in `events`.
    floor: u64,
    events: VecDeque<Encoded>,
    /// Text bytes in `events`.
    bytes: usize,
    cap: usize,
    max_bytes: usize,
}

impl Ring {
    fn new(floor: u64, cap: usize, max_bytes: usize) -> Self {
        Ring {
            floor,
            events: VecDeque::new(),
            bytes: 0,
            cap,
            max_bytes,
        }
    }

    fn last(&self) -> u64 {
        self.events.back().map_or(self.floor, |e| e.0)
    }

    fn push(&mut self, seq: u64, text: Utf8Bytes) {
        let last = self.last();
        if seq <= last {
            return;
        }
        if seq != last + 1 {
            // A hole: what came before can no longer be replayed without it.
            self.events.clear();
            self.bytes = 0;
            self.floor = seq - 1;
        }
        self.bytes += text.len();
        self.events.push_back((seq, text));
        // The newest event always stays: sessions read live events from here.
        while self.events.len() > 1 && (self.events.len() > self.cap || self.bytes > self.max_bytes)
        {
            if let Some((seq, text)) = self.events.pop_front() {
                self.floor = seq;
                self.bytes -= text.len();
            }
        }
    }

    fn replay(&self, since: u64, to: u64) -> Option<Vec<Encoded>> {
        if since < self.floor || to > self.last() || since > to {
            return None;
        }
        let from = usize::try_from(since - self.floor).ok()?;
        let n = usize::try_from(to - since).ok()?;
        Some(self.events.iter().skip(from).take(n).cloned().collect())
    }

    fn after(&self, pos: u64) -> After {
        let last = self.last();
        if pos >= last {
            After::Events(Vec::new())
        } else if pos < self.floor {
            After::Gone
        } else {
            self.replay(pos, last).map_or(After::Gone, After::Events)
        }
    }
}

/// Where the ring is, for sessions waiting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The `seq` of the newest event in the ring.
    pub(crate) last: u64,
    /// False once the task ended (shutdown, or the engine is gone): no event will come any more.
    pub(crate) open: bool,
}

/// The one encoding of the latest snapshot (progress, timeline) asked for, with the value it encodes.
type Cached<T> = Mutex<Option<(Arc<T>, Utf8Bytes)>>;

/// The shared ring, its filler task and the shared snapshot, progress and timeline encodings.
#[derive(Debug)]
pub(crate) struct EventLog {
    ring: Mutex<Ring>,
    tail: watch::Sender<Tail>,
    snapshot: Cached<Snapshot>,
    progress: Cached<ProgressMap>,
    timeline: Cached<Timelines>,
}

impl EventLog {
    /// Subscribes to the engine now (so nothing after this call is missed) and spawns the task that
    /// fills the ring until `shutdown` or the engine's end.
    pub(crate) fn start(
        engine: &EngineHandle,
        cap: usize,
        max_bytes: usize,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let mut rx = engine.subscribe();
        // Subscribed first, then read: every event after this snapshot's seq reaches `rx`.
        let floor = engine.snapshot().seq;
        let log = Arc::new(EventLog {
            ring: Mutex::new(Ring::new(floor, cap, max_bytes)),
            tail: watch::Sender::new(Tail {
                last: floor,
                open: true,
            }),
            snapshot: Mutex::new(None),
            progress: Mutex::new(None),
            timeline: Mutex::new(None),
        });
        let filler = Arc::clone(&log);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = shutdown.cancelled() => break,
                    r = rx.recv() => r,
                };
                match event {
                    Ok(event) => match encode_event(&event) {
                        Ok(text) => filler.push(event.seq, shared(text)),
                        // Not reachable with the protocol's types; a session that misses this
                        // event finds the hole and resynchronises from a snapshot.
                        Err(e) => {
                            tracing::error!(error = %e, seq = event.seq, "event not encodable")
                        }
                    },
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "websocket event log lagged behind the engine");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            filler.tail.send_modify(|t| t.open = false);
        });
        log
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // Ring operations leave it consistent at every step, so a poisoned lock is still usable.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, seq: u64, text: Utf8Bytes) {
        let last = {
            let mut ring = self.lock();
            ring.push(seq, text);
            ring.last()
        };
        self.tail.send_modify(|t| t.last = last);
    }

    /// A receiver that sees every later change of the ring. Subscribe *before* reading the position
    /// you start from: an event pushed after that is then always noticed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Tail> {
        self.tail.subscribe()
    }

    /// The events after `pos` that the ring has, or `Gone` when the next one is not there.
    pub(crate) fn after(&self, pos: u64) -> After {
        self.lock().after(pos)
    }

    /// The events with `since < seq <= to`, if the ring has every one of them.
    pub(crate) fn replay(&self, since: u64, to: u64) -> Option<Vec<Encoded>> {
        self.lock().replay(since, to)
    }

    /// Waits (at most `within`) until the ring has seen event `seq`: the filler task and the
    /// engine's snapshot advance independently, so the ring may be a few events behind.
    pub(crate) async fn caught_up(&self, seq: u64, within: Duration) -> bool {
        let mut rx = self.tail.subscribe();
        matches!(
            tokio::time::timeout(within, rx.wait_for(|t| t.last >= seq)).await,
            Ok(Ok(_))
        )
    }

    /// The snapshot's wire text, encoded once per snapshot the engine published (so once per
    /// `seq`) however many sessions ask.
    pub(crate) fn snapshot(&self, snap: &Arc<Snapshot>) -> Result<Utf8Bytes, serde_json::Error> {
        once(&self.snapshot, snap, encode_snapshot)
    }

    /// The progress message's wire text, encoded once per update of the engine's progress.
    pub(crate) fn progress(
        &self,
        progress: &Arc<ProgressMap>,
    ) -> Result<Utf8Bytes, serde_json::Error> {
        once(&self.progress, progress, encode_progress)
    }

    /// The timeline message's wire text, encoded once per timeline the engine published: with a
    /// thousand entries per playlist it is the biggest message after the snapshot.
    pub(crate) fn timeline(
        &self,
        timelines: &Arc<Timelines>,
    ) -> Result<Utf8Bytes, serde_json::Error> {
        once(&self.timeline, timelines, encode_timeline)
    }
}

/// `encode(value)`, or the text cached for this very value. The cache is keyed by the engine's `Arc`
/// (kept alive in it, so the address cannot be reused by another value): a snapshot or progress map
/// is immutable once published, so the same `Arc` always has the same text. The encoding is done
/// under the lock on purpose: sessions asking for the same value wait for that one encoding
/// instead of each doing their own.
fn once<T>(
    cache: &Cached<T>,
    value: &Arc<T>,
    encode: impl FnOnce(&T) -> Result<String, serde_json::Error>,
) -> Result<Utf8Bytes, serde_json::Error> {
    let mut cached = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((key, text)) = cached.as_ref()
        && Arc::ptr_eq(key, value)
    {
        return Ok(text.clone());
    }
    let text = shared(encode(value)?);
    *cached = Some((Arc::clone(value), text.clone()));
    Ok(text)
}

/// A text to be kept and shared: without its growth slack, so what is counted is what is held.
fn shared(mut text: String) -> Utf8Bytes {
    text.shrink_to_fit();
    Utf8Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(ring: &mut Ring, seq: u64) {
        ring.push(seq, Utf8Bytes::from(format!("{seq:04}")));
    }

    fn seqs(v: Option<Vec<Encoded>>) -> Option<Vec<u64>> {
        v.map(|v| v.iter().map(|e| e.0).collect())
    }

    fn after(ring: &Ring, pos: u64) -> Option<Vec<u64>> {
        match ring.after(pos) {
            After::Events(v) => seqs(Some(v)),
            After::Gone => None,
        }
    }

    #[test]
    fn replays_only_complete_ranges() {
        let mut ring = Ring::new(10, 3, 1 << 20);
        assert_eq!(seqs(ring.replay(10, 10)), Some(vec![]));
        for s in 11..=14 {
            push(&mut ring, s);
        }
        // 11 was evicted: the ring holds (11, 14].
        assert_eq!(ring.floor, 11);
        assert_eq!(seqs(ring.replay(11, 14)), Some(vec![12, 13, 14]));
        assert_eq!(seqs(ring.replay(12, 13)), Some(vec![13]));
        assert_eq!(seqs(ring.replay(10, 14)), None, "11 is gone");
        assert_eq!(seqs(ring.replay(12, 15)), None, "15 has not happened");
        assert_eq!(seqs(ring.replay(14, 13)), None);
        push(&mut ring, 14);
        assert_eq!(ring.events.len(), 3, "duplicates are ignored");
    }

    #[test]
    fn bounded_in_bytes_and_keeps_the_newest() {
        // Four bytes per event: room for two.
        let mut ring = Ring::new(0, 100, 9);
        for s in 1..=5 {
            push(&mut ring, s);
        }
        assert_eq!((ring.floor, ring.last(), ring.bytes), (3, 5, 8));
        ring.push(6, Utf8Bytes::from("x".repeat(100)));
        assert_eq!(
            (ring.floor, ring.last(), ring.events.len()),
            (5, 6, 1),
            "an event above the budget evicts the rest but stays"
        );
        assert_eq!(after(&ring, 5), Some(vec![6]));
    }

    #[test]
    fn sessions_read_what_follows_their_position() {
        let mut ring = Ring::new(0, 3, 1 << 20);
        for s in 1..=5 {
            push(&mut ring, s);
        }
        assert_eq!(after(&ring, 2), Some(vec![3, 4, 5]));
        assert_eq!(after(&ring, 4), Some(vec![5]));
        assert_eq!(after(&ring, 5), Some(vec![]));
        assert_eq!(after(&ring, 9), Some(vec![]), "ahead of the ring: wait");
        assert_eq!(after(&ring, 1), None, "2 was evicted");
    }

    #[test]
    fn a_hole_restarts_the_run() {
        let mut ring = Ring::new(0, 10, 1 << 20);
        push(&mut ring, 1);
        push(&mut ring, 2);
        push(&mut ring, 5);
        assert_eq!(seqs(ring.replay(1, 5)), None);
        assert_eq!(seqs(ring.replay(4, 5)), Some(vec![5]));
        assert_eq!(after(&ring, 2), None, "3 and 4 were never seen");
        assert_eq!(ring.bytes, 4);
    }

    #[test]
    fn one_encoding_per_value_shared_by_every_caller() {
        let cache: Cached<u64> = Mutex::new(None);
        let encodings = std::cell::Cell::new(0);
        let encode = |v: &u64| {
            encodings.set(encodings.get() + 1);
            Ok(format!("{v}"))
        };
        let first = Arc::new(7);
        let a = once(&cache, &first, encode).unwrap();
        let b = once(&cache, &Arc::clone(&first), encode).unwrap();
        assert_eq!(encodings.get(), 1);
        assert_eq!(
            a.as_str().as_ptr(),
            b.as_str().as_ptr(),
            "the same bytes, not a copy"
        );
        // An equal value published anew is another value: encoded again.
        let c = once(&cache, &Arc::new(7), encode).unwrap();
        assert_eq!((encodings.get(), c.as_str()), (2, "7"));
    }

    #[test]
    fn a_one_event_ring_only_knows_the_present() {
        let mut ring = Ring::new(0, 1, 1 << 20);
        push(&mut ring, 1);
        push(&mut ring, 2);
        assert_eq!(seqs(ring.replay(2, 2)), Some(vec![]));
        assert_eq!(seqs(ring.replay(1, 2)), Some(vec![2]));
        assert_eq!(seqs(ring.replay(0, 2)), None);
    }
}
