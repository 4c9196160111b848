//! A client's commands: run one at a time by a per-client task, answered in the order they came.
//!
//! The session hands commands to the task and keeps forwarding events while they run (an op can
//! wait seconds for CasparCG). Each command gets a local number; answers, including the ones the
//! session decides at once (bad arguments, forbidden, busy), are released strictly in that order,
//! and an engine op's ack is also held until the events it caused have been queued, so a client
//! always sees the change before the ack that confirms it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::dispatch::Handling;
use crate::protocol::{Ack, AckResult, ErrorBody, codes};
use crate::server::AppState;

/// Commands queued for the task per client; more get `busy`.
const QUEUED: usize = 32;
/// Unanswered commands per client; a client exceeding it is disconnected (it is not reading).
pub(crate) const MAX_PENDING: usize = 256;

struct Job {
    n: u64,
    id: String,
    command: Handling,
}

/// A finished job: its ack may go out once the session has queued event `min_seq`.
pub(crate) struct Done {
    n: u64,
    min_seq: u64,
    ack: Ack,
}

enum Pending {
    Running,
    Ready { min_seq: u64, ack: Box<Ack> },
}

/// The session's side: submit commands, collect results, release acks in order.
pub(crate) struct Commands {
    jobs: mpsc::Sender<Job>,
    pub(crate) done: mpsc::Receiver<Done>,
    pending: BTreeMap<u64, Pending>,
    next: u64,
}

/// Too many unanswered commands.
#[derive(Debug)]
pub(crate) struct TooMany;

impl Commands {
    /// Starts the task; it ends when this is dropped (after the job it is running, if any).
    pub(crate) fn start(state: Arc<AppState>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUED);
        let (done_tx, done) = mpsc::channel(QUEUED);
        tokio::spawn(run(state, rx, done_tx));
        Commands {
            jobs,
            done,
            pending: BTreeMap::new(),
            next: 0,
        }
    }

    /// Queues a parsed command, or an immediate error answer.
    pub(crate) fn submit(
        &mut self,
        id: String,
        command: Result<Handling, ErrorBody>,
    ) -> Result<(), TooMany> {
        if self.pending.len() >= MAX_PENDING {
            return Err(TooMany);
        }
        let n = self.next;
        self.next += 1;
        let entry = match command {
            Err(error) => ready(Ack::err(id, error)),
            Ok(command) => match self.jobs.try_send(Job {
                n,
                id: id.clone(),
                command,
            }) {
                Ok(()) => Pending::Running,
                Err(mpsc::error::TrySendError::Full(_)) => ready(Ack::err(
                    id,
                    ErrorBody::new(
                        codes::BUSY,
                        format!("more than {QUEUED} commands are waiting; retry later"),
                    ),
                )),
                Err(mpsc::error::TrySendError::Closed(_)) => ready(Ack::err(
                    id,
                    ErrorBody::new(codes::SHUTTING_DOWN, "the daemon is shutting down"),
                )),
            },
        };
        self.pending.insert(n, entry);
        Ok(())
    }

    /// Records a finished job.
    pub(crate) fn finish(&mut self, done: Done) {
        self.pending.insert(
            done.n,
            Pending::Ready {
                min_seq: done.min_seq,
                ack: Box::new(done.ack),
            },
        );
    }

    /// The next ack that may be sent now that events up to `seq` are queued.
    pub(crate) fn next_ready(&mut self, seq: u64) -> Option<Ack> {
        let first = self.pending.first_entry()?;
        match first.get() {
            Pending::Ready { min_seq, .. } if *min_seq <= seq => match first.remove() {
                Pending::Ready { ack, .. } => Some(*ack),
                Pending::Running => None,
            },
            _ => None,
        }
    }
}

fn ready(ack: Ack) -> Pending {
    Pending::Ready {
        min_seq: 0,
        ack: Box::new(ack),
    }
}

async fn run(state: Arc<AppState>, mut jobs: mpsc::Receiver<Job>, done: mpsc::Sender<Done>) {
    while let Some(job) = jobs.recv().await {
        let (min_seq, ack) = execute(&state, job.id, job.command).await;
        if done
            .send(Done {
                n: job.n,
                min_seq,
                ack,
            })
            .await
            .is_err()
        {
            break; // the session is gone
        }
    }
}

async fn execute(state: &AppState, id: String, command: Handling) -> (u64, Ack) {
    match command {
        Handling::Health => {
            let health = Some(crate::server::http::health_document(state));
            (
                0,
                Ack::ok(
                    id,
                    AckResult {
                        health,
                        ..AckResult::default()
                    },
                ),
            )
        }
        Handling::Stats => {
            let stats = Some(crate::server::http::stats_document(state));
            (
                0,
                Ack::ok(
                    id,
                    AckResult {
                        stats,
                        ..AckResult::default()
                    },
                ),
            )
        }
        Handling::Engine(op) => {
            let result = state.engine.execute(op).await;
            // The engine publishes a change's events before it answers, so the current seq covers
            // every event this op caused.
            let seq = state.engine.snapshot().seq;
            let ack = match result {
                Ok(r) => Ack::ok(
                    id,
                    AckResult {
                        seq: Some(seq),
                        ..AckResult::from(r)
                    },
                ),
                Err(e) => Ack::err(id, ErrorBody::from(&e)),
            };
            (seq, ack)
        }
    }
}
