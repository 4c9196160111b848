//! Cluster mode's fence at the wire (docs/operations.md, "Cluster mode"): a link of a daemon that
//! may lead writes a command that changes playout only while the leader lease's drive window is
//! open, and stamps every command it writes while leading with the lease's term in its `REQ` id
//! (`REQ t<term>-<n> …`, ids of `[A-Za-z0-9_-]` as the AMCP reference asks).
//!
//! The engine checks the window before it issues a command; this is the last check, at the moment
//! the bytes are written, so a command that waited behind flow control while the lease ran out is
//! failed instead of reaching the server after the lease's expiry. The term in the id lets the
//! server's log (and the simulator's command log) tell which leader sent what.

use tokio::sync::watch;
use tokio::time::Instant;

/// The lease's drive window and term, as `cluster::lease::Lease` publishes them.
#[derive(Debug, Clone)]
pub struct Fence {
    drive: watch::Receiver<Option<Instant>>,
    term: watch::Receiver<u64>,
}

impl Fence {
    pub fn new(drive: watch::Receiver<Option<Instant>>, term: watch::Receiver<u64>) -> Fence {
        Fence { drive, term }
    }

    /// The term to stamp while this daemon may drive at `now`; `None` when it may not.
    pub fn leading(&self, now: Instant) -> Option<u64> {
        let open = self.drive.borrow().is_some_and(|until| now < until);
        // The lease publishes the term before it opens a window, so an open window's term is the
        // tenure's own.
        open.then(|| *self.term.borrow()).filter(|t| *t > 0)
    }
}

/// The command number in a reply's `RES` id: `17` or, stamped with a term, `t4-17`.
pub fn command_number(req_id: &str) -> Option<u64> {
    let number = match req_id.strip_prefix('t') {
        Some(rest) => rest.split_once('-')?.1,
        None => req_id,
    };
    number.parse().ok()
}

/// The term a `REQ` id was stamped with (`t4-17` → 4), for logs and tests reading a server's log.
pub fn term_of(req_id: &str) -> Option<u64> {
    req_id.strip_prefix('t')?.split_once('-')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_with_and_without_a_term_parse_to_their_number() {
        assert_eq!(command_number("17"), Some(17));
        assert_eq!(command_number("t4-17"), Some(17));
        assert_eq!(term_of("t4-17"), Some(4));
        assert_eq!(term_of("17"), None);
        for bad in ["t4", "t-", "x-1", "", "t4-x"] {
            assert_eq!(command_number(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_fence_leads_only_inside_its_window_and_with_a_term() {
        let now = Instant::now();
        let (drive_tx, drive) = watch::channel(None);
        let (term_tx, term) = watch::channel(0);
        let fence = Fence::new(drive, term);
        assert_eq!(fence.leading(now), None);
        drive_tx.send_replace(Some(now + Duration::from_secs(1)));
        assert_eq!(fence.leading(now), None, "no term yet");
        term_tx.send_replace(7);
        assert_eq!(fence.leading(now), Some(7));
        assert_eq!(fence.leading(now + Duration::from_secs(1)), None, "expired");
        drive_tx.send_replace(None);
        assert_eq!(fence.leading(now), None);
    }
}
