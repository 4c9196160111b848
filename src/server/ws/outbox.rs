//! A client's bounded outgoing queue, shared by its session (producer) and its writer (consumer).
//!
//! The session never waits on a client: it pushes and moves on. When the queue is full, what can be
//! recomputed is thrown away (events, snapshots and progress, all superseded by a fresh snapshot)
//! and what cannot (acks, hello, shutdown, close) stays, so memory per client is bounded by the
//! queue length whatever the client does. Progress is coalesced: at most one is ever queued.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use tokio::sync::Notify;

/// What a queued message is, which decides whether it may be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A sequenced event: superseded by a snapshot.
    Event,
    /// A snapshot: superseded by a newer one.
    Snapshot,
    /// Progress: superseded by the next progress.
    Progress,
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
}

impl Out {
    pub(crate) fn text(kind: Kind, text: String) -> Self {
        Out {
            kind,
            message: Message::Text(Utf8Bytes::from(text)),
        }
    }

    pub(crate) fn ping() -> Self {
        Out {
            kind: Kind::Control,
            message: Message::Ping(Default::default()),
        }
    }

    pub(crate) fn close(code: u16, reason: &'static str) -> Self {
        Out {
            kind: Kind::Control,
            message: Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })),
        }
    }
}

/// The queue is full of messages that cannot be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug)]
struct Inner {
    items: VecDeque<Out>,
    cap: usize,
    closed: bool,
}

/// The bounded queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
}

impl Outbox {
    /// A queue of at most `cap` messages (at least 2: a snapshot and one more).
    pub(crate) fn new(cap: usize) -> Self {
        Outbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                cap: cap.max(2),
                closed: false,
            }),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue inconsistent (every change is one
        // VecDeque call), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message; `Err(Full)` when there is no room (nothing is queued then).
    pub(crate) fn push(&self, out: Out) -> Result<(), Full> {
        let mut inner = self.lock();
        if inner.closed || inner.items.len() >= inner.cap {
            return Err(Full);
        }
        inner.items.push_back(out);
        drop(inner);
        self.ready.notify_one();
        Ok(())
    }

    /// How many more messages fit.
    pub(crate) fn room(&self) -> usize {
        let inner = self.lock();
        inner.cap.saturating_sub(inner.items.len())
    }

    /// Queues progress, replacing any progress still waiting (only the latest matters); when the
    /// queue is full it is skipped, since the next one will come.
    pub(crate) fn push_progress(&self, text: String) {
        let out = Out::text(Kind::Progress, text);
        let mut inner = self.lock();
        if let Some(slot) = inner.items.iter_mut().find(|o| o.kind == Kind::Progress) {
            *slot = out;
            return;
        }
        drop(inner);
        let _ = self.push(out);
    }

    /// Replaces every droppable message with `snapshot`, placed where the first dropped message was
    /// (so acks queued behind an event stay behind the state that contains it). Returns how many
    /// messages were dropped, or `Err(Full)` when even then there is no room.
    pub(crate) fn replace_with_snapshot(&self, snapshot: String) -> Result<usize, Full> {
        let mut inner = self.lock();
        let at = inner.items.iter().position(|o| o.kind.droppable());
        let before = inner.items.len();
        inner.items.retain(|o| !o.kind.droppable());
        let dropped = before - inner.items.len();
        if inner.closed || inner.items.len() >= inner.cap {
            return Err(Full);
        }
        let at = at.unwrap_or(inner.items.len());
        inner.items.insert(at, Out::text(Kind::Snapshot, snapshot));
        drop(inner);
        self.ready.notify_one();
        Ok(dropped)
    }

    /// Ends the queue: drops what can be dropped, appends `last` (e.g. `shutdown` and a close
    /// frame) whatever the room, and lets the writer finish once it has sent them.
    pub(crate) fn close_with(&self, last: Vec<Out>) {
        let mut inner = self.lock();
        inner.items.retain(|o| !o.kind.droppable());
        inner.items.extend(last);
        inner.closed = true;
        drop(inner);
        self.ready.notify_one();
    }

    /// Waits for messages and takes up to `max` of them; empty once the queue is closed and sent.
    pub(crate) async fn next_batch(&self, max: usize) -> Vec<Out> {
        loop {
            {
                let mut inner = self.lock();
                if !inner.items.is_empty() {
                    let n = inner.items.len().min(max.max(1));
                    return inner.items.drain(..n).collect();
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

    #[cfg(test)]
    fn kinds(&self) -> Vec<Kind> {
        self.lock().items.iter().map(|o| o.kind).collect()
    }
}

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteEnd {
    /// The queue was closed and everything in it sent (or a close frame went out).
    Done,
    /// The socket refused a write (the client is gone).
    Failed,
    /// A write did not complete within the timeout: the client stopped reading.
    Stuck,
}

/// Messages written per flush.
const BATCH: usize = 64;

/// Sends queued messages until the queue is closed; every batch must be written within `timeout`,
/// so a client that stops reading cannot hold the task (or its memory) forever.
pub(crate) async fn write<W>(
    mut sink: W,
    outbox: std::sync::Arc<Outbox>,
    timeout: std::time::Duration,
    sent: impl Fn(u64) + Send,
) -> WriteEnd
where
    W: futures_util::Sink<Message> + Unpin,
{
    use futures_util::SinkExt;
    loop {
        let batch = outbox.next_batch(BATCH).await;
        if batch.is_empty() {
            return WriteEnd::Done;
        }
        let texts = batch
            .iter()
            .filter(|o| matches!(o.message, Message::Text(_)))
            .count();
        let closing = batch.iter().any(|o| matches!(o.message, Message::Close(_)));
        let written = tokio::time::timeout(timeout, async {
            for out in batch {
                sink.feed(out.message).await?;
            }
            sink.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => sent(texts as u64),
            Ok(Err(_)) => return WriteEnd::Failed,
            Err(_) => return WriteEnd::Stuck,
        }
        if closing {
            return WriteEnd::Done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: Kind) -> Out {
        Out::text(kind, format!("{kind:?}"))
    }

    #[test]
    fn bounded_and_resynced_in_place() {
        let q = Outbox::new(4);
        q.push(t(Kind::Control)).unwrap();
        q.push(t(Kind::Event)).unwrap();
        q.push(t(Kind::Control)).unwrap();
        q.push(t(Kind::Event)).unwrap();
        assert_eq!(q.push(t(Kind::Event)), Err(Full));
        assert_eq!(q.replace_with_snapshot("s".into()), Ok(2));
        assert_eq!(
            q.kinds(),
            [Kind::Control, Kind::Snapshot, Kind::Control],
            "the snapshot takes the first dropped event's place"
        );
    }

    #[test]
    fn full_of_control_messages_is_full() {
        let q = Outbox::new(2);
        q.push(t(Kind::Control)).unwrap();
        q.push(t(Kind::Control)).unwrap();
        assert_eq!(q.replace_with_snapshot("s".into()), Err(Full));
    }

    #[test]
    fn progress_is_coalesced() {
        let q = Outbox::new(8);
        q.push_progress("1".into());
        q.push(t(Kind::Event)).unwrap();
        q.push_progress("2".into());
        assert_eq!(q.kinds(), [Kind::Progress, Kind::Event]);
        let Message::Text(text) = &q.lock().items[0].message else {
            panic!("text expected")
        };
        assert_eq!(text.as_str(), "2");
    }

    #[tokio::test]
    async fn close_keeps_control_messages_and_ends_the_writer() {
        let q = Outbox::new(8);
        q.push(t(Kind::Event)).unwrap();
        q.push(t(Kind::Control)).unwrap();
        q.close_with(vec![Out::close(1001, "bye")]);
        assert_eq!(q.push(t(Kind::Control)), Err(Full));
        assert_eq!(q.next_batch(10).await.len(), 2);
        assert!(q.next_batch(10).await.is_empty());
    }
}
