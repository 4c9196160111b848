//! Why a session ends, which close frame (if any) tells the client, and whether it counts as a kick.

use super::writer::WriteEnd;

/// Why a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The client closed, or its connection failed.
    ClientGone,
    Shutdown,
    EngineGone,
    RateLimited,
    TooBig,
    /// No frame (or pong) within two ping intervals.
    Silent,
    /// Fell behind repeatedly, or its queue is full of acks it does not read.
    Slow,
    /// Its unanswered commands hold back more acks than its byte budget (commands beyond the
    /// in-flight limit are answered `busy`; this only ends a flood).
    TooManyCommands,
    Writer(WriteEnd),
    /// A message could not be encoded (a bug); the client reconnects and gets a snapshot.
    Internal,
}

impl Exit {
    /// The close frame to send, if the socket is still usable.
    pub(crate) fn close(self) -> Option<(u16, &'static str)> {
        match self {
            Exit::ClientGone | Exit::Writer(_) => None,
            Exit::Shutdown | Exit::EngineGone => Some((1001, "server shutting down")),
            Exit::RateLimited => Some((1008, "rate limit exceeded")),
            Exit::TooBig => Some((1009, "message too big")),
            Exit::Silent => Some((1008, "ping timeout")),
            Exit::Slow => Some((1008, "client too slow")),
            Exit::TooManyCommands => Some((1008, "too many commands in flight")),
            Exit::Internal => Some((1011, "internal error")),
        }
    }

    /// Whether the server disconnected a misbehaving client.
    pub(crate) fn kicked(self) -> bool {
        matches!(
            self,
            Exit::RateLimited
                | Exit::TooBig
                | Exit::Silent
                | Exit::Slow
                | Exit::TooManyCommands
                | Exit::Writer(WriteEnd::Stuck)
        )
    }
}
