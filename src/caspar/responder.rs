//! Delivery of outcomes: one oneshot per command, or one shared slot per pipelined batch.
//!
//! A batch wakes its caller once when the last of its commands is done instead of once per command;
//! at hundreds of thousands of commands per second those wake-ups (cross-thread futex calls) were the
//! largest cost of `send_many`. Either way every command gets exactly one outcome: a responder that is
//! dropped without one delivers `ConnectionLost`, so no caller can wait forever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::error::CommandError;
use crate::amcp::codec::Reply;

/// The outcome of one command.
pub type Outcome = Result<Reply, CommandError>;

/// Where one command's outcome goes.
#[derive(Debug)]
pub enum Responder {
    One(oneshot::Sender<Outcome>),
    Batch(BatchEntry),
}

impl From<oneshot::Sender<Outcome>> for Responder {
    fn from(tx: oneshot::Sender<Outcome>) -> Self {
        Responder::One(tx)
    }
}

impl Responder {
    /// Delivers the outcome; a caller that went away is simply not told.
    pub fn deliver(self, outcome: Outcome) {
        match self {
            Responder::One(tx) => {
                let _ = tx.send(outcome);
            }
            Responder::Batch(mut entry) => entry.deliver(outcome),
        }
    }
}

/// Shared results of one batch.
#[derive(Debug)]
struct Slot {
    results: Mutex<Vec<Option<Outcome>>>,
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

/// One command's place in a batch.
#[derive(Debug)]
pub struct BatchEntry {
    slot: Arc<Slot>,
    index: usize,
    delivered: bool,
}

impl BatchEntry {
    fn deliver(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.delivered, true) {
            return;
        }
        if let Some(cell) = lock(&self.slot.results).get_mut(self.index) {
            *cell = Some(outcome);
        }
        if self.slot.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(done) = lock(&self.slot.done).take()
        {
            let _ = done.send(());
        }
    }
}

impl Drop for BatchEntry {
    fn drop(&mut self) {
        self.deliver(Err(CommandError::ConnectionLost));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Results stay valid even if a holder panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates `n` responders sharing one completion, and the future side that collects them in order.
pub fn batch(n: usize) -> (Vec<Responder>, BatchWaiter) {
    let (done_tx, done_rx) = oneshot::channel();
    let slot = Arc::new(Slot {
        results: Mutex::new((0..n).map(|_| None).collect()),
        remaining: AtomicUsize::new(n),
        done: Mutex::new(Some(done_tx)),
    });
    let entries = (0..n)
        .map(|index| {
            Responder::Batch(BatchEntry {
                slot: slot.clone(),
                index,
                delivered: false,
            })
        })
        .collect();
    (
        entries,
        BatchWaiter {
            slot,
            done: done_rx,
            n,
        },
    )
}

/// Waits for every outcome of a batch.
#[derive(Debug)]
pub struct BatchWaiter {
    slot: Arc<Slot>,
    done: oneshot::Receiver<()>,
    n: usize,
}

impl BatchWaiter {
    /// The outcomes, in submission order.
    pub async fn wait(self) -> Vec<Outcome> {
        if self.n > 0 {
            // Every entry delivers on drop, so `done` always fires; an error here would mean the
            // slot itself was dropped, and then the results below say ConnectionLost.
            let _ = self.done.await;
        }
        let mut results = lock(&self.slot.results);
        results
            .drain(..)
            .map(|r| r.unwrap_or(Err(CommandError::ConnectionLost)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batch_collects_in_order_and_dropped_entries_are_lost() {
        let (mut entries, waiter) = batch(3);
        let third = entries.pop().unwrap();
        let second = entries.pop().unwrap();
        let first = entries.pop().unwrap();
        third.deliver(Err(CommandError::Overloaded));
        drop(second);
        first.deliver(Err(CommandError::NotConnected));
        let results = waiter.wait().await;
        assert_eq!(
            results,
            [
                Err(CommandError::NotConnected),
                Err(CommandError::ConnectionLost),
                Err(CommandError::Overloaded)
            ]
        );
    }

    #[tokio::test]
    async fn empty_batch_resolves() {
        let (entries, waiter) = batch(0);
        assert!(entries.is_empty());
        assert!(waiter.wait().await.is_empty());
    }
}
