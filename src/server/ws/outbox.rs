//! A client's bounded outgoing queue, shared by its session (producer) and its writer (consumer).
//!
//! The session never waits on a client: it pushes and moves on. The queue is bounded twice: in
//! messages (events, snapshots and progress, `server.ws_send_queue`) and in bytes (everything,
//! `server.ws_send_queue_bytes`), because one whole-playlist event can weigh a megabyte and a count
//! alone let a stuck client hold hundreds of them. When a message does not fit, what can be
//! recomputed is thrown away (events, snapshots and progress, all superseded by a fresh snapshot)
//! and what cannot (acks, hello, shutdown, close) stays. Progress and the timeline are coalesced: at
//! most one of each is queued.
//!
//! Bytes stay counted until the writer has handed the message to the socket, so the messages a
//! stuck writer holds in its batch count too. A snapshot's text is not counted (only a fixed
//! overhead): it is the one message a client must be able to receive whatever the size of the
//! state, at most one is queued (a new one replaces it) and its text is shared with every client
//! resynchronised at the same `seq`. So a client holds at most the byte budget plus two snapshots
//! (one queued, one being written).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// What a queued message costs besides its text: the queue entry itself, so that many small or
/// empty messages (pings, tiny acks) are bounded by the byte budget too.
pub(crate) const OVERHEAD: usize = 64;

/// What a queued message is, which decides whether it may be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A sequenced event: superseded by a snapshot.
    Event,
    /// A snapshot: superseded by a newer one.
    Snapshot,
    /// Progress: superseded by the next progress.
    Progress,
    /// The planned timeline: superseded by the next one (a session sends one after every
    /// snapshot, so dropping it for a snapshot loses nothing).
    Timeline,
    /// Everything else (hello, acks, pong, errors, shutdown, pings, close): never dropped.
    Control,
}

impl Kind {
    fn droppable(self) -> bool {
        self != Kind::Control
    }
}

/// One queued message.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) kind: Kind,
    pub(crate) message: Message,
    /// What it counts against the byte budget (fixed when it is made, released once written).
    cost: usize,
}

impl Out {
    /// A text message; `text` is typically shared with other clients (cloning it copies nothing).
    pub(crate) fn text(kind: Kind, text: Utf8Bytes) -> Self {
        let cost = OVERHEAD
            + if kind == Kind::Snapshot {
                0
            } else {
                text.len()
            };
        Out {
            kind,
            message: Message::Text(text),
            cost,
        }
    }

    pub(crate) fn ping() -> Self {
        Out {
            kind: Kind::Control,
            message: Message::Ping(Default::default()),
            cost: OVERHEAD,
        }
    }

    pub(crate) fn close(code: u16, reason: &'static str) -> Self {
        Out {
            kind: Kind::Control,
            message: Message::Close(Some(CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from_static(reason),
            })),
            cost: OVERHEAD + reason.len(),
        }
    }

    /// What this message counts against the byte budget.
    pub(crate) fn cost(&self) -> usize {
        self.cost
    }
}

/// The queue has no room for the message (nothing is queued then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug)]
struct Inner {
    items: VecDeque<Out>,
    /// Most droppable messages (events, snapshots, progress) queued at once.
    cap: usize,
    /// Byte budget.
    max_bytes: usize,
    /// Cost of every queued message plus those the writer took and has not written yet.
    bytes: usize,
    /// Cost of the queued control messages (which a snapshot cannot replace).
    control_bytes: usize,
    /// Droppable messages queued.
    droppable: usize,
    closed: bool,
}

impl Inner {
    /// Whether `out` fits. Any message fits an idle queue (nothing queued or being written), so a
    /// message bigger than the whole budget still goes out to a client that keeps up.
    fn fits(&self, out: &Out) -> bool {
        !self.closed
            && (!out.kind.droppable() || self.droppable < self.cap)
            && (self.bytes == 0 || self.bytes + out.cost <= self.max_bytes)
    }

    fn add(&mut self, out: &Out) {
        self.bytes += out.cost;
        if out.kind.droppable() {
            self.droppable += 1;
        } else {
            self.control_bytes += out.cost;
        }
    }

    fn remove(&mut self, out: &Out) {
        self.bytes -= out.cost;
        if out.kind.droppable() {
            self.droppable -= 1;
        } else {
            self.control_bytes -= out.cost;
        }
    }

    /// Drops every droppable message; returns how many there were and where the first one was.
    fn drop_droppable(&mut self) -> (usize, Option<usize>) {
        let at = self.items.iter().position(|o| o.kind.droppable());
        let mut dropped = 0;
        let mut kept = VecDeque::with_capacity(self.items.len());
        for out in std::mem::take(&mut self.items) {
            if out.kind.droppable() {
                self.remove(&out);
                dropped += 1;
            } else {
                kept.push_back(out);
            }
        }
        self.items = kept;
        (dropped, at)
    }
}

/// The bounded queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
}

impl Outbox {
    /// A queue of at most `cap` droppable messages (at least 2: a snapshot and one more) and
    /// `max_bytes` bytes.
    pub(crate) fn new(cap: usize, max_bytes: usize) -> Self {
        Outbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                cap: cap.max(2),
                max_bytes,
                bytes: 0,
                control_bytes: 0,
                droppable: 0,
                closed: false,
            }),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change leaves the queue and its counters consistent before anything can panic, so
        // a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message; `Err(Full)` when there is no room (nothing is queued then).
    pub(crate) fn push(&self, out: Out) -> Result<(), Full> {
        let mut inner = self.lock();
        if !inner.fits(&out) {
            return Err(Full);
        }
        inner.add(&out);
        inner.items.push_back(out);
        drop(inner);
        self.ready.notify_one();
        Ok(())
    }

    /// Whether `n` more events weighing `bytes` of text in all would fit now.
    pub(crate) fn fits(&self, n: usize, bytes: usize) -> bool {
        let inner = self.lock();
        !inner.closed
            && inner.droppable + n <= inner.cap
            && inner.bytes + bytes + n * OVERHEAD <= inner.max_bytes
    }

    /// Queues progress, replacing any progress still waiting (only the latest matters); when the
    /// queue is full it is skipped, since the next one will come.
    pub(crate) fn push_progress(&self, text: Utf8Bytes) {
        let _ = self.push_latest(Kind::Progress, text);
    }

    /// Queues a timeline like progress, one at most; `Err(Full)` when it was not queued (the
    /// timeline only changes now and then, so the session tries again rather than wait for it).
    pub(crate) fn push_timeline(&self, text: Utf8Bytes) -> Result<(), Full> {
        self.push_latest(Kind::Timeline, text)
    }

    /// Queues a message of `kind` in place of the one of that kind still waiting, if any.
    fn push_latest(&self, kind: Kind, text: Utf8Bytes) -> Result<(), Full> {
        let out = Out::text(kind, text);
        let mut inner = self.lock();
        if let Some(i) = inner.items.iter().position(|o| o.kind == kind) {
            inner.add(&out);
            let old = std::mem::replace(&mut inner.items[i], out);
            inner.remove(&old);
            return Ok(());
        }
        drop(inner);
        self.push(out)
    }

    /// Replaces every droppable message with `snapshot`, placed where the first dropped message was
    /// (so acks queued behind an event stay behind the state that contains it). Returns how many
    /// messages were dropped, or `Err(Full)` when control messages alone fill the byte budget.
    pub(crate) fn replace_with_snapshot(&self, snapshot: Utf8Bytes) -> Result<usize, Full> {
        let mut inner = self.lock();
        let (dropped, at) = inner.drop_droppable();
        if inner.closed || inner.control_bytes >= inner.max_bytes {
            return Err(Full);
        }
        let at = at.unwrap_or(inner.items.len());
        let out = Out::text(Kind::Snapshot, snapshot);
        inner.add(&out);
        inner.items.insert(at, out);
        drop(inner);
        self.ready.notify_one();
        Ok(dropped)
    }

    /// Ends the queue: drops what can be dropped, appends `last` (e.g. `shutdown` and a close
    /// frame) whatever the room, and lets the writer finish once it has sent them.
    pub(crate) fn close_with(&self, last: Vec<Out>) {
        let mut inner = self.lock();
        inner.drop_droppable();
        for out in last {
            inner.add(&out);
            inner.items.push_back(out);
        }
        inner.closed = true;
        drop(inner);
        self.ready.notify_one();
    }

    /// Waits for messages and takes up to `max` of them; empty once the queue is closed and sent.
    /// Their bytes stay counted until [`Outbox::written`].
    pub(crate) async fn next_batch(&self, max: usize) -> Vec<Out> {
        loop {
            {
                let mut inner = self.lock();
                if !inner.items.is_empty() {
                    let n = inner.items.len().min(max.max(1));
                    let batch: Vec<Out> = inner.items.drain(..n).collect();
                    for out in &batch {
                        if out.kind.droppable() {
                            inner.droppable -= 1;
                        } else {
                            inner.control_bytes -= out.cost;
                        }
                    }
                    return batch;
                }
                if inner.closed {
                    return Vec::new();
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check above
            // and this await is not missed.
            self.ready.notified().await;
        }
    }

    /// The writer handed a message of this cost to the socket: its bytes are free again.
    pub(crate) fn written(&self, cost: usize) {
        let mut inner = self.lock();
        inner.bytes = inner.bytes.saturating_sub(cost);
    }

    #[cfg(test)]
    fn kinds(&self) -> Vec<Kind> {
        self.lock().items.iter().map(|o| o.kind).collect()
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roomy enough in bytes for the count tests.
    const ROOMY: usize = 1 << 20;

    fn t(kind: Kind) -> Out {
        Out::text(kind, format!("{kind:?}").into())
    }

    fn sized(kind: Kind, len: usize) -> Out {
        Out::text(kind, "x".repeat(len).into())
    }

    #[test]
    fn bounded_and_resynced_in_place() {
        let q = Outbox::new(3, ROOMY);
        q.push(t(Kind::Control)).unwrap();
        q.push(t(Kind::Event)).unwrap();
        q.push(t(Kind::Control)).unwrap();
        q.push(t(Kind::Event)).unwrap();
        q.push(t(Kind::Event)).unwrap();
        assert_eq!(q.push(t(Kind::Event)), Err(Full));
        assert_eq!(q.replace_with_snapshot("s".into()), Ok(3));
        assert_eq!(
            q.kinds(),
            [Kind::Control, Kind::Snapshot, Kind::Control],
            "the snapshot takes the first dropped event's place"
        );
    }

    #[test]
    fn control_messages_count_in_bytes_not_in_messages() {
        let q = Outbox::new(2, 10 * OVERHEAD);
        for _ in 0..10 {
            q.push(Out::ping()).unwrap();
        }
        assert_eq!(
            q.push(Out::ping()),
            Err(Full),
            "ten pings fill 10 × OVERHEAD"
        );
        assert_eq!(q.replace_with_snapshot("s".into()), Err(Full));
    }

    #[test]
    fn bounded_in_bytes() {
        let q = Outbox::new(100, 1000);
        q.push(sized(Kind::Event, 300)).unwrap();
        q.push(sized(Kind::Control, 300)).unwrap();
        assert_eq!(q.bytes(), 2 * (300 + OVERHEAD));
        assert_eq!(q.push(sized(Kind::Event, 300)), Err(Full));
        assert!(q.fits(0, 0) && !q.fits(1, 300));
        // The event is replaced by a snapshot whose text, however big, is not counted.
        assert_eq!(q.replace_with_snapshot("s".repeat(5000).into()), Ok(1));
        assert_eq!(q.bytes(), 300 + 2 * OVERHEAD);
    }

    #[test]
    fn an_oversized_message_still_goes_to_an_idle_client() {
        let q = Outbox::new(8, 100);
        q.push(sized(Kind::Event, 1000)).unwrap();
        assert_eq!(q.push(t(Kind::Event)), Err(Full), "but nothing after it");
    }

    #[tokio::test]
    async fn bytes_stay_counted_until_written() {
        let q = Outbox::new(8, 1000);
        q.push(sized(Kind::Event, 300)).unwrap();
        let batch = q.next_batch(10).await;
        assert_eq!(
            q.bytes(),
            300 + OVERHEAD,
            "taken by the writer, not yet written"
        );
        q.push(sized(Kind::Event, 300)).unwrap();
        assert_eq!(q.push(sized(Kind::Event, 300)), Err(Full));
        q.written(batch[0].cost());
        q.push(sized(Kind::Event, 300)).unwrap();
        assert_eq!(q.bytes(), 2 * (300 + OVERHEAD));
    }

    #[test]
    fn progress_is_coalesced() {
        let q = Outbox::new(8, ROOMY);
        q.push_progress("1".into());
        q.push(t(Kind::Event)).unwrap();
        q.push_progress("22".into());
        assert_eq!(q.kinds(), [Kind::Progress, Kind::Event]);
        assert_eq!(q.bytes(), 2 + "Event".len() + 2 * OVERHEAD);
        let Message::Text(text) = &q.lock().items[0].message else {
            panic!("text expected")
        };
        assert_eq!(text.as_str(), "22");
    }

    #[test]
    fn the_timeline_is_coalesced_apart_from_progress_and_gives_way_to_a_snapshot() {
        let q = Outbox::new(8, ROOMY);
        q.push_timeline("t1".into()).unwrap();
        q.push_progress("p".into());
        q.push_timeline("t2".into()).unwrap();
        assert_eq!(q.kinds(), [Kind::Timeline, Kind::Progress]);
        {
            let inner = q.lock();
            let Message::Text(text) = &inner.items[0].message else {
                panic!("text expected")
            };
            assert_eq!(text.as_str(), "t2");
        }
        assert_eq!(q.replace_with_snapshot("s".into()), Ok(2));
        assert_eq!(q.kinds(), [Kind::Snapshot]);
    }

    #[tokio::test]
    async fn close_keeps_control_messages_and_ends_the_writer() {
        let q = Outbox::new(8, ROOMY);
        q.push(t(Kind::Event)).unwrap();
        q.push(t(Kind::Control)).unwrap();
        q.close_with(vec![Out::close(1001, "bye")]);
        assert_eq!(q.push(t(Kind::Control)), Err(Full));
        assert_eq!(q.next_batch(10).await.len(), 2);
        assert!(q.next_batch(10).await.is_empty());
    }
}
