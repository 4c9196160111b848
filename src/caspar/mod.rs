//! The CasparCG connection: a reconnecting AMCP client with keepalive and a pending-command table.
//!
//! [`CasparHandle::spawn`] starts the connection actor ([`actor`]) and returns a cheap-clone handle.
//! The actor owns the socket and the pending table ([`session`]); callers get exactly one outcome per
//! command ([`CommandError`] says which failure). The link's state is a `watch` of [`LinkState`], and
//! [`Stats`] counts connects, disconnects by reason, replies by code, timeouts, late replies and
//! round-trip times.
//!
//! Behaviour:
//! - Every command goes out as `REQ <id> …` with a per-connection counter id and is matched by `RES <id>`;
//!   servers without REQ are served one command at a time and matched first-in, first-out.
//! - Deadlines per command class (media-scanner commands get longer); a late reply is counted and dropped.
//! - At most `max_in_flight_per_queue` commands in flight per server queue; the rest wait in order.
//! - While the link is down commands fail at once with `NotConnected`; nothing is replayed later.
//! - Liveness: TCP keepalive plus a `PING` every `ping_interval`; no `PONG` within `ping_timeout` closes
//!   the link (the half-open TCP case), which fails everything pending with `ConnectionLost`.
//! - Reconnects forever with exponential backoff and full jitter; `shutdown()` stops it.
//! - Cluster mode ([`Fence`]): a playout command is written only while the leader lease is held, and
//!   ids carry the lease's term (`REQ t<term>-<n>`).

mod actor;
mod error;
mod fence;
mod handle;
pub mod osc;
mod reconnect_log;
pub mod responder;
pub mod session;
mod stats;

use std::time::SystemTime;

pub use error::{CommandError, DisconnectReason};
pub use fence::{Fence, command_number, term_of};
pub use handle::CasparHandle;
pub use stats::{RTT_BUCKETS, Stats, StatsSnapshot};

use crate::amcp::Command;

/// The state of the AMCP link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Trying to connect; `attempt` counts since the last successful connection.
    Connecting { attempt: u32 },
    /// Connected and probed.
    Connected {
        server_version: String,
        since: SystemTime,
        req_supported: bool,
    },
    /// Down; the actor is waiting for its backoff delay (or has shut down).
    Disconnected {
        reason: DisconnectReason,
        since: SystemTime,
    },
}

impl LinkState {
    /// Whether commands can be sent now.
    pub fn is_connected(&self) -> bool {
        matches!(self, LinkState::Connected { .. })
    }
}

/// Messages from handles to the actor.
pub(crate) enum Msg {
    /// Commands to send, pipelined, each with its own responder.
    Submit(Vec<(Command, session::Responder)>),
}
