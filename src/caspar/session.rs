//! The pending-command table of one connection, without I/O: ids, deadlines, flow control, matching.
//!
//! The actor feeds it commands, decoded frames and the clock; it produces the bytes to write and
//! completes every waiter exactly once. Keeping it free of sockets lets the timeout and matching rules
//! be tested with a hand-driven clock.
//!
//! - Ids are a per-connection counter written in decimal: never random, never reused, so a reply that
//!   arrives after its command timed out can only be counted as late, never matched to another command.
//! - Deadlines live in an ordered set, so the next one is always known exactly (no periodic sweep).
//! - At most `max_in_flight` commands are written per server queue; the rest wait in order. The server
//!   answers `504` above 128 waiting, and its general queue is shared by every client, so staying well
//!   below keeps one busy client from starving the others.
//! - Without REQ support (servers before 2.1) replies carry no id and replies from different queues can
//!   overtake each other, so FIFO matching is only correct with a single command in flight in total.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::time::Instant;

use super::error::CommandError;
use super::stats::Stats;
use crate::amcp::codec::{Body, Frame, Reply};
use crate::amcp::{Command, CommandClass, Queue};

pub use super::responder::Responder;

/// Deadlines per command class.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub normal: Duration,
    pub scanner: Duration,
}

impl Deadlines {
    fn of(&self, class: CommandClass) -> Duration {
        match class {
            CommandClass::Normal => self.normal,
            CommandClass::Scanner => self.scanner,
        }
    }
}

struct Pending {
    responder: Option<Responder>,
    queue: Queue,
    deadline: Instant,
    timeout: Duration,
    /// The encoded line while the command waits for a flow-control slot; `None` once written.
    line: Option<String>,
    written_at: Option<Instant>,
    /// Whether the command changes what a server plays (fenced in cluster mode).
    playout: bool,
}

#[derive(Default)]
struct QueueState {
    in_flight: usize,
    waiting: VecDeque<u64>,
}

/// The table of one connection. Dropping it without [`PendingTable::fail_all`] would drop responders,
/// which callers see as `ConnectionLost` too, but the actor always calls `fail_all`.
pub struct PendingTable {
    req_mode: bool,
    max_in_flight: usize,
    deadlines: Deadlines,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    by_deadline: BTreeSet<(Instant, u64)>,
    queues: HashMap<Queue, QueueState>,
    /// Written ids in order, used only without REQ support.
    fifo: VecDeque<u64>,
    in_flight: usize,
    fifo_desynced: bool,
    out: BytesMut,
    stats: Arc<Stats>,
    /// Cluster mode: the leader lease (see `super::fence`).
    fence: Option<super::Fence>,
}

impl PendingTable {
    /// A table for a fresh connection. `req_mode` is the result of the REQ probe.
    pub fn new(
        req_mode: bool,
        max_in_flight: usize,
        deadlines: Deadlines,
        stats: Arc<Stats>,
    ) -> Self {
        PendingTable {
            req_mode,
            max_in_flight: if req_mode { max_in_flight.max(1) } else { 1 },
            deadlines,
            next_id: 1,
            pending: HashMap::new(),
            by_deadline: BTreeSet::new(),
            queues: HashMap::new(),
            fifo: VecDeque::new(),
            in_flight: 0,
            fifo_desynced: false,
            out: BytesMut::with_capacity(16 * 1024),
            stats,
            fence: None,
        }
    }

    /// Writes playout commands only while `fence` says this daemon leads, stamped with its term.
    pub fn fenced(mut self, fence: Option<super::Fence>) -> Self {
        self.fence = fence;
        self
    }

    /// Commands accepted and not yet answered (written or waiting).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Bytes ready to be written to the socket.
    pub fn output(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// The earliest deadline, for the actor's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(d, _)| *d)
    }

    /// Accepts a command; it is written at once or waits for a slot on its queue.
    pub fn submit(&mut self, cmd: &Command, responder: Responder, now: Instant) {
        if let Err(e) = check_sendable(cmd) {
            responder.deliver(Err(e));
            return;
        }
        let line = match cmd.encode() {
            Ok(line) => line,
            Err(e) => {
                responder.deliver(Err(CommandError::Invalid(e)));
                return;
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let timeout = self.deadlines.of(cmd.class());
        let deadline = now + timeout;
        let queue = if self.req_mode {
            cmd.queue()
        } else {
            Queue::General
        };
        self.pending.insert(
            id,
            Pending {
                responder: Some(responder),
                queue,
                deadline,
                timeout,
                line: Some(line),
                written_at: None,
                playout: cmd.changes_playout(),
            },
        );
        self.by_deadline.insert((deadline, id));
        let q = self.queues.entry(queue).or_default();
        if q.in_flight < self.max_in_flight && q.waiting.is_empty() {
            self.write(id, now);
        } else {
            q.waiting.push_back(id);
        }
        self.publish_load();
    }

    /// Writes command `id` (it has a flow-control slot). `false` when the fence stopped it: it
    /// was failed with `NotLeading` instead and took no slot.
    fn write(&mut self, id: u64, now: Instant) -> bool {
        let term = self.fence.as_ref().map(|f| f.leading(now));
        let Some(p) = self.pending.get_mut(&id) else {
            return false;
        };
        if p.playout && term == Some(None) {
            let (deadline, responder) = (p.deadline, p.responder.take());
            self.pending.remove(&id);
            self.by_deadline.remove(&(deadline, id));
            if let Some(r) = responder {
                r.deliver(Err(CommandError::NotLeading));
            }
            return false;
        }
        let Some(line) = p.line.take() else {
            return false;
        };
        p.written_at = Some(now);
        if let Some(q) = self.queues.get_mut(&p.queue) {
            q.in_flight += 1;
        }
        self.in_flight += 1;
        if self.req_mode {
            // Writing into a BytesMut cannot fail.
            let _ = match term.flatten() {
                Some(term) => write!(self.out, "REQ t{term}-{id} "),
                None => write!(self.out, "REQ {id} "),
            };
        } else {
            self.fifo.push_back(id);
        }
        self.out.put_slice(line.as_bytes());
        self.out.put_slice(b"\r\n");
        true
    }

    /// Handles one decoded frame. PONG is the actor's business and ignored here.
    pub fn on_frame(&mut self, frame: Frame, now: Instant) {
        let Frame::Reply(reply) = frame else { return };
        let id = if self.req_mode {
            reply.req_id.as_deref().and_then(super::command_number)
        } else {
            self.fifo.pop_front()
        };
        match id.and_then(|id| self.pending.remove(&id).map(|p| (id, p))) {
            Some((id, p)) => self.complete(id, p, reply, now),
            None => {
                // A reply to a command that timed out (or was never ours): never match it elsewhere.
                self.stats.late_reply();
                tracing::debug!(req_id = ?reply.req_id, code = reply.code, "caspar: late or unmatched reply dropped");
            }
        }
        self.publish_load();
    }

    fn complete(&mut self, id: u64, mut p: Pending, reply: Reply, now: Instant) {
        self.by_deadline.remove(&(p.deadline, id));
        let rtt = p
            .written_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.stats.reply(reply.code, rtt);
        self.release(p.queue, now);
        let outcome = match reply.code {
            200..=299 => Ok(reply),
            504 => Err(CommandError::Overloaded),
            code => Err(CommandError::Server {
                code,
                text: error_text(&reply),
            }),
        };
        if let Some(r) = p.responder.take() {
            r.deliver(outcome);
        }
    }

    /// Frees a slot on `queue` and writes the next waiting command, if any.
    fn release(&mut self, queue: Queue, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let next = match self.queues.get_mut(&queue) {
            Some(q) => {
                q.in_flight = q.in_flight.saturating_sub(1);
                q.waiting.pop_front()
            }
            None => None,
        };
        if let Some(mut id) = next {
            // A command the fence stops takes no slot: the next one waiting gets it.
            while !self.write(id, now) {
                match self
                    .queues
                    .get_mut(&queue)
                    .and_then(|q| q.waiting.pop_front())
                {
                    Some(next) => id = next,
                    None => break,
                }
            }
        }
        if let Some(q) = self.queues.get(&queue)
            && q.in_flight == 0
            && q.waiting.is_empty()
        {
            self.queues.remove(&queue);
        }
    }

    /// Fails every command whose deadline has passed. A written command's slot is freed: if the
    /// server is merely slow its late reply is counted and dropped; if it swallowed the command (2.4
    /// CALL errors never reply) the slot would otherwise leak forever.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            let Some(mut p) = self.pending.remove(&id) else {
                continue;
            };
            self.stats.timeout();
            if p.written_at.is_some() {
                if !self.req_mode {
                    // Without ids a skipped reply would shift every later match: the caller must
                    // reset the link instead (see `needs_reset`).
                    self.fifo.retain(|x| *x != id);
                    self.fifo_desynced = true;
                }
                self.release(p.queue, now);
            } else if let Some(q) = self.queues.get_mut(&p.queue) {
                q.waiting.retain(|x| *x != id);
            }
            if let Some(r) = p.responder.take() {
                r.deliver(Err(CommandError::Timeout(p.timeout)));
            }
        }
        self.publish_load();
    }

    /// Whether matching can no longer be trusted: in FIFO mode a timed-out command's reply may still
    /// come and would be taken for the next command's.
    pub fn needs_reset(&self) -> bool {
        self.fifo_desynced
    }

    /// Fails everything pending with `err` (the link went down); the table is empty afterwards.
    pub fn fail_all(&mut self, err: &CommandError) {
        let n = self.pending.len() as u64;
        for (_, mut p) in self.pending.drain() {
            if let Some(r) = p.responder.take() {
                r.deliver(Err(err.clone()));
            }
        }
        if *err == CommandError::ConnectionLost {
            self.stats.connection_lost(n);
        }
        self.by_deadline.clear();
        self.queues.clear();
        self.fifo.clear();
        self.in_flight = 0;
        self.out.clear();
        self.publish_load();
    }

    fn publish_load(&self) {
        self.stats.set_load(
            self.in_flight,
            self.pending.len() - self.in_flight.min(self.pending.len()),
        );
    }
}

/// Commands the connection handles itself or that break id matching.
fn check_sendable(cmd: &Command) -> Result<(), CommandError> {
    match cmd {
        Command::Ping(_) => Err(CommandError::Unsupported("PING")),
        Command::Bye => Err(CommandError::Unsupported("BYE")),
        Command::Begin | Command::Commit | Command::Discard => {
            Err(CommandError::Unsupported(cmd.name()))
        }
        Command::Raw(line) => {
            let word = line.split(' ').find(|w| !w.is_empty()).unwrap_or("");
            match word.to_ascii_uppercase().as_str() {
                "REQ" | "PING" | "BYE" | "BEGIN" | "COMMIT" | "DISCARD" => Err(
                    CommandError::Unsupported("REQ, PING, BYE or a batch marker in a raw line"),
                ),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The status text of an error reply, with the echoed line for a 400 so the log says what was wrong.
fn error_text(reply: &Reply) -> String {
    match &reply.body {
        Body::Line(echo) if reply.code == 400 => {
            format!("{} (for: {})", reply.status, echo.escape_debug())
        }
        _ => reply.status.clone(),
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
