//! Typed outcomes of a command and reasons a link went down: what callers and metrics match on.

use std::fmt;

use thiserror::Error;

use crate::amcp::EncodeError;

/// Why a command did not produce a successful reply. Every request gets exactly one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The link is down (or still connecting); nothing was sent. Nothing is replayed later either.
    #[error("not connected to CasparCG")]
    NotConnected,
    /// No reply within the command's deadline; a late reply will be counted and dropped.
    #[error("no reply from CasparCG within {0:?}")]
    Timeout(std::time::Duration),
    /// The link went down after the command was accepted; it may or may not have been executed.
    #[error("connection to CasparCG lost before the reply")]
    ConnectionLost,
    /// The server answered with an error code (4xx/5xx other than 504).
    #[error("CasparCG answered {code} {text}")]
    Server { code: u16, text: String },
    /// The server's queue overflowed (`504 QUEUE OVERFLOW`): back-pressure, try again later.
    #[error("CasparCG queue overflow (504): too many commands in flight")]
    Overloaded,
    /// The server sent something that is not AMCP; the link is reset.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The command cannot be expressed in AMCP (CR in a value, keyword as clip name, …).
    #[error("invalid command: {0}")]
    Invalid(#[from] EncodeError),
    /// The command is handled by the connection itself or needs an API of its own (PING, BYE,
    /// BEGIN/COMMIT/DISCARD).
    #[error("{0} cannot be sent through CasparHandle::send")]
    Unsupported(&'static str),
    /// Cluster mode: the command changes playout and this daemon's leader lease ran out before it
    /// could be written (`caspar::Fence`); nothing was sent.
    #[error("not sent: this daemon no longer leads the station (its leader lease ran out)")]
    NotLeading,
}

impl CommandError {
    /// A short stable label for metrics (`timeout`, `server`, …).
    pub fn label(&self) -> &'static str {
        match self {
            CommandError::NotConnected => "not_connected",
            CommandError::Timeout(_) => "timeout",
            CommandError::ConnectionLost => "connection_lost",
            CommandError::Server { .. } => "server",
            CommandError::Overloaded => "overloaded",
            CommandError::Protocol(_) => "protocol",
            CommandError::Invalid(_) => "invalid",
            CommandError::Unsupported(_) => "unsupported",
            CommandError::NotLeading => "not_leading",
        }
    }
}

/// Why the link to CasparCG is (or went) down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// TCP connect failed or timed out (server down, refused, unreachable).
    ConnectFailed(String),
    /// The REQ/VERSION probe after connecting failed.
    ProbeFailed(String),
    /// The server closed the connection (restart, BYE, crash).
    Closed,
    /// No PONG within the ping timeout: a half-open or hung link.
    PingTimeout,
    /// The server sent bytes that are not AMCP, or a frame over the size limit.
    Protocol(String),
    /// A socket read or write failed.
    Io(String),
    /// `shutdown()` was called.
    Shutdown,
}

impl DisconnectReason {
    /// Every label, in a fixed order, for per-reason counters.
    pub const LABELS: [&'static str; 7] = [
        "connect_failed",
        "probe_failed",
        "closed",
        "ping_timeout",
        "protocol",
        "io",
        "shutdown",
    ];

    /// A short stable label for metrics.
    pub fn label(&self) -> &'static str {
        Self::LABELS[self.index()]
    }

    pub(crate) fn index(&self) -> usize {
        match self {
            DisconnectReason::ConnectFailed(_) => 0,
            DisconnectReason::ProbeFailed(_) => 1,
            DisconnectReason::Closed => 2,
            DisconnectReason::PingTimeout => 3,
            DisconnectReason::Protocol(_) => 4,
            DisconnectReason::Io(_) => 5,
            DisconnectReason::Shutdown => 6,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            DisconnectReason::ProbeFailed(e) => write!(f, "handshake failed: {e}"),
            DisconnectReason::Closed => f.write_str("closed by the server"),
            DisconnectReason::PingTimeout => f.write_str("no PONG within the ping timeout"),
            DisconnectReason::Protocol(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::Io(e) => write!(f, "socket error: {e}"),
            DisconnectReason::Shutdown => f.write_str("shut down"),
        }
    }
}
