//! A client's commands: run by a per-client task, answered in the order they came.
//!
//! The session hands commands to the task and keeps forwarding events while they run (an op can
//! wait seconds for CasparCG). Consecutive edits are handed to the engine one after another
//! without waiting for each answer, so a client's pipelined edits share one journal write (group
//! commit) instead of waiting for one `fdatasync` each; the engine applies them in that order, each
//! checked against the ones before it. Any other command (a playout action, `playlist.select`,
//! `health`, …) waits until everything before it is answered, and holds back what comes after
//! it, as all commands did before edits were pipelined. Each command gets a local number; answers,
//! including the ones the session decides at once (bad arguments, forbidden, busy), are released
//! strictly in that order, and an engine op's ack is also held until the events it caused have
//! been queued, so a client always sees the change before the ack that confirms it.
//!
//! At most [`QUEUED`] commands are unanswered per client; a command beyond that is answered `busy`
//! at once and never run, and the connection stays open (closing it would hide from the client
//! which of its earlier commands were applied). Answers held back for ordering are kept encoded and
//! weighed against the client's byte budget: a client whose unanswered commands hold more than
//! `server.ws_send_queue_bytes` of acks is sending faster than it can be answered, and is
//! disconnected (the only bound left on a flood within the rate limit).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::dispatch::Handling;
use super::outbox::OVERHEAD;
use crate::playout::engine::{EngineError, OpResult};
use crate::protocol::{Ack, AckResult, ErrorBody, ServerMsg, codes, encode};
use crate::server::AppState;

/// Commands unanswered per client (queued for the task, or running); more get `busy`.
const QUEUED: usize = 32;

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
    /// Queued or running; what it weighs (its id) until it is answered.
    Running { weight: usize },
    /// Answered, waiting for its turn.
    Ready { min_seq: u64, answer: Answer },
}

impl Pending {
    fn weight(&self) -> usize {
        match self {
            Pending::Running { weight } => *weight,
            Pending::Ready { answer, .. } => OVERHEAD + answer.text.len(),
        }
    }
}

/// An encoded ack, ready to be queued.
pub(crate) struct Answer {
    pub(crate) ok: bool,
    pub(crate) text: Utf8Bytes,
}

impl Answer {
    fn new(ack: Ack) -> Result<Self, Refused> {
        let ok = ack.ok;
        let text = encode(&ServerMsg::Ack(ack)).map_err(|_| Refused::Internal)?;
        Ok(Answer {
            ok,
            text: Utf8Bytes::from(text),
        })
    }
}

/// Why the session must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The acks held for this client exceed its byte budget.
    TooMany,
    /// An ack could not be encoded (a bug).
    Internal,
}

/// The session's side: submit commands, collect results, release acks in order.
pub(crate) struct Commands {
    jobs: mpsc::Sender<Job>,
    pub(crate) done: mpsc::Receiver<Done>,
    pending: BTreeMap<u64, Pending>,
    /// `Running` entries in `pending`: the client's unanswered commands.
    running: usize,
    next: u64,
    /// What `pending` weighs, and the most it may.
    held: usize,
    max_held: usize,
}

impl Commands {
    /// Starts the task; it ends when this is dropped (after the non-edit command it is running, if
    /// any; edits already handed to the engine are still applied, their answers dropped, as when
    /// any client goes away).
    pub(crate) fn start(state: Arc<AppState>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUED);
        let (done_tx, done) = mpsc::channel(QUEUED);
        let max_held = state.config.ws_send_queue_bytes;
        tokio::spawn(run(state, rx, done_tx));
        Commands {
            jobs,
            done,
            pending: BTreeMap::new(),
            running: 0,
            next: 0,
            held: 0,
            max_held,
        }
    }

    /// Queues a parsed command, or an immediate error answer.
    pub(crate) fn submit(
        &mut self,
        id: String,
        command: Result<Handling, ErrorBody>,
    ) -> Result<(), Refused> {
        let n = self.next;
        self.next += 1;
        let weight = OVERHEAD + id.len();
        let entry = match command {
            Err(error) => ready(Ack::err(id, error))?,
            Ok(_) if self.running >= QUEUED => ready(busy(id))?,
            Ok(command) => match self.jobs.try_send(Job { n, id, command }) {
                Ok(()) => Pending::Running { weight },
                // Not expected (the channel holds `QUEUED`, at most `running` are in it).
                Err(mpsc::error::TrySendError::Full(job)) => ready(busy(job.id))?,
                Err(mpsc::error::TrySendError::Closed(job)) => ready(Ack::err(
                    job.id,
                    ErrorBody::new(codes::SHUTTING_DOWN, "the daemon is shutting down"),
                ))?,
            },
        };
        self.insert(n, entry);
        // One answer always fits, however big, so that a lone command is never refused.
        if self.held > self.max_held && self.pending.len() > 1 {
            return Err(Refused::TooMany);
        }
        Ok(())
    }

    fn insert(&mut self, n: u64, entry: Pending) {
        self.held += entry.weight();
        self.running += usize::from(matches!(entry, Pending::Running { .. }));
        if let Some(old) = self.pending.insert(n, entry) {
            self.held -= old.weight();
            self.running -= usize::from(matches!(old, Pending::Running { .. }));
        }
    }

    /// Records a finished job.
    pub(crate) fn finish(&mut self, done: Done) -> Result<(), Refused> {
        let answer = Answer::new(done.ack)?;
        self.insert(
            done.n,
            Pending::Ready {
                min_seq: done.min_seq,
                answer,
            },
        );
        Ok(())
    }

    /// The next ack that may be sent now that events up to `seq` are queued.
    pub(crate) fn next_ready(&mut self, seq: u64) -> Option<Answer> {
        let first = self.pending.first_entry()?;
        match first.get() {
            Pending::Ready { min_seq, .. } if *min_seq <= seq => {
                let entry = first.remove();
                self.held -= entry.weight();
                match entry {
                    Pending::Ready { answer, .. } => Some(answer),
                    Pending::Running { .. } => None,
                }
            }
            _ => None,
        }
    }
}

fn busy(id: String) -> Ack {
    Ack::err(
        id,
        ErrorBody::new(
            codes::BUSY,
            format!("{QUEUED} commands are already unanswered: not run, retry later"),
        ),
    )
}

fn ready(ack: Ack) -> Result<Pending, Refused> {
    Ok(Pending::Ready {
        min_seq: 0,
        answer: Answer::new(ack)?,
    })
}

/// The task: edits go to the engine as they come (their answers are awaited together, in
/// `flying`); any other command first waits for everything in flight, then runs alone.
async fn run(state: Arc<AppState>, mut jobs: mpsc::Receiver<Job>, done: mpsc::Sender<Done>) {
    let mut flying = FuturesUnordered::new();
    loop {
        let finished = tokio::select! {
            // Answers first: they free the client's in-flight slots.
            biased;
            Some(finished) = flying.next(), if !flying.is_empty() => finished,
            job = jobs.recv() => {
                let Some(Job { n, id, command }) = job else {
                    break; // the session is gone; answers still in flight are dropped
                };
                match command {
                    Handling::Engine(op) if op.is_edit() => {
                        match state.engine.queue(*op).await {
                            Ok(queued) => {
                                let state = Arc::clone(&state);
                                flying.push(async move {
                                    let (min_seq, ack) = answered(&state, id, queued.answer().await);
                                    Done { n, min_seq, ack }
                                });
                                continue;
                            }
                            Err(e) => {
                                let (min_seq, ack) = answered(&state, id, Err(e));
                                Done { n, min_seq, ack }
                            }
                        }
                    }
                    command => {
                        // In order: after every edit before it, before anything after it.
                        while let Some(finished) = flying.next().await {
                            if done.send(finished).await.is_err() {
                                return;
                            }
                        }
                        let (min_seq, ack) = execute(&state, id, command).await;
                        Done { n, min_seq, ack }
                    }
                }
            }
        };
        if done.send(finished).await.is_err() {
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
        Handling::Engine(op) => answered(state, id, state.engine.execute(*op).await),
    }
}

/// An engine op's ack, and the `seq` whose events must be queued before it.
fn answered(state: &AppState, id: String, result: Result<OpResult, EngineError>) -> (u64, Ack) {
    // The engine publishes a change's events before it answers, so the current seq covers every
    // event this op caused.
    let seq = state.engine.snapshot().seq;
    let ack = match result {
        Ok(r) => Ack::ok(
            id,
            AckResult {
                seq: Some(seq),
                ..AckResult::from(r)
            },
        ),
        Err(e) => {
            let mut body = ErrorBody::from(&e);
            if matches!(e, EngineError::NotLeader) {
                body.leader = leader_of(state);
            }
            Ack::err(id, body)
        }
    };
    (seq, ack)
}

/// The station's leader as the cluster probe last saw it (cluster mode), for `not_leader`.
fn leader_of(state: &AppState) -> Option<crate::protocol::LeaderRef> {
    let probe = state.probes.cluster.as_ref()?();
    let node = probe["leader"].as_str()?.to_owned();
    let address = probe["leader_address"].as_str().map(str::to_owned);
    let url = address.as_ref().map(|a| format!("ws://{a}/ws"));
    Some(crate::protocol::LeaderRef { node, address, url })
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
