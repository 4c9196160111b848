//! The resume buffer: the last `event_buffer` engine events, kept by one task for every client.
//!
//! A client that lost its connection sends `resume` with the last `seq` it applied; if every later
//! event is still here they are replayed, otherwise the client gets a snapshot. The ring is always
//! contiguous: it holds exactly the events in `(floor, last]`, so "has them all" is two comparisons.
//! If the task ever misses events (its broadcast receiver lagged), it starts a new contiguous run
//! instead of keeping a ring with a hole.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::playout::engine::EngineHandle;
use crate::protocol::Event;

#[derive(Debug)]
struct Ring {
    /// Every event with a `seq` above this (up to `last`) is in `events`.
    floor: u64,
    events: VecDeque<Arc<Event>>,
    cap: usize,
}

impl Ring {
    fn last(&self) -> u64 {
        self.events.back().map_or(self.floor, |e| e.seq)
    }

    fn push(&mut self, event: Arc<Event>) {
        let last = self.last();
        if event.seq <= last {
            return;
        }
        if event.seq != last + 1 {
            // A hole: what came before can no longer be replayed without it.
            self.events.clear();
            self.floor = event.seq - 1;
        }
        self.events.push_back(event);
        while self.events.len() > self.cap {
            if let Some(old) = self.events.pop_front() {
                self.floor = old.seq;
            }
        }
    }

    fn replay(&self, since: u64, to: u64) -> Option<Vec<Arc<Event>>> {
        if since < self.floor || to > self.last() || since > to {
            return None;
        }
        let from = usize::try_from(since - self.floor).ok()?;
        let n = usize::try_from(to - since).ok()?;
        Some(self.events.iter().skip(from).take(n).cloned().collect())
    }
}

/// The shared ring and its filler task.
#[derive(Debug)]
pub(crate) struct EventLog {
    ring: Mutex<Ring>,
    /// The `seq` of the newest event in the ring, for sessions waiting for it to catch up.
    last: watch::Sender<u64>,
}

impl EventLog {
    /// Subscribes to the engine now (so nothing after this call is missed) and spawns the task that
    /// fills the ring until `shutdown` or the engine's end.
    pub(crate) fn start(
        engine: &EngineHandle,
        cap: usize,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let mut rx = engine.subscribe();
        // Subscribed first, then read: every event after this snapshot's seq reaches `rx`.
        let floor = engine.snapshot().seq;
        let log = Arc::new(EventLog {
            ring: Mutex::new(Ring {
                floor,
                events: VecDeque::new(),
                cap,
            }),
            last: watch::Sender::new(floor),
        });
        let filler = Arc::clone(&log);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = shutdown.cancelled() => break,
                    r = rx.recv() => r,
                };
                match event {
                    Ok(event) => filler.push(event),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "resume buffer lagged behind the engine");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        log
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // Ring operations leave it consistent at every step, so a poisoned lock is still usable.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, event: Arc<Event>) {
        let last = {
            let mut ring = self.lock();
            ring.push(event);
            ring.last()
        };
        self.last.send_replace(last);
    }

    /// The events with `since < seq <= to`, if the ring has every one of them.
    pub(crate) fn replay(&self, since: u64, to: u64) -> Option<Vec<Arc<Event>>> {
        self.lock().replay(since, to)
    }

    /// Waits (at most `within`) until the ring has seen event `seq`: the filler task and a session
    /// read the same broadcast at their own pace, so the ring may be a few events behind.
    pub(crate) async fn caught_up(&self, seq: u64, within: Duration) -> bool {
        let mut rx = self.last.subscribe();
        matches!(
            tokio::time::timeout(within, rx.wait_for(|&last| last >= seq)).await,
            Ok(Ok(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::EventKind;

    fn ev(seq: u64) -> Arc<Event> {
        Arc::new(Event {
            seq,
            kind: EventKind::AlarmCleared { id: seq },
        })
    }

    fn seqs(v: Option<Vec<Arc<Event>>>) -> Option<Vec<u64>> {
        v.map(|v| v.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn replays_only_complete_ranges() {
        let mut ring = Ring {
            floor: 10,
            events: VecDeque::new(),
            cap: 3,
        };
        assert_eq!(seqs(ring.replay(10, 10)), Some(vec![]));
        for s in 11..=14 {
            ring.push(ev(s));
        }
        // 11 was evicted: the ring holds (11, 14].
        assert_eq!(ring.floor, 11);
        assert_eq!(seqs(ring.replay(11, 14)), Some(vec![12, 13, 14]));
        assert_eq!(seqs(ring.replay(12, 13)), Some(vec![13]));
        assert_eq!(seqs(ring.replay(10, 14)), None, "11 is gone");
        assert_eq!(seqs(ring.replay(12, 15)), None, "15 has not happened");
        assert_eq!(seqs(ring.replay(14, 13)), None);
        ring.push(ev(14));
        assert_eq!(ring.events.len(), 3, "duplicates are ignored");
    }

    #[test]
    fn a_hole_restarts_the_run() {
        let mut ring = Ring {
            floor: 0,
            events: VecDeque::new(),
            cap: 10,
        };
        ring.push(ev(1));
        ring.push(ev(2));
        ring.push(ev(5));
        assert_eq!(seqs(ring.replay(1, 5)), None);
        assert_eq!(seqs(ring.replay(4, 5)), Some(vec![5]));
    }

    #[test]
    fn a_zero_capacity_ring_only_knows_the_present() {
        let mut ring = Ring {
            floor: 0,
            events: VecDeque::new(),
            cap: 0,
        };
        ring.push(ev(1));
        assert_eq!(seqs(ring.replay(1, 1)), Some(vec![]));
        assert_eq!(seqs(ring.replay(0, 1)), None);
    }
}
