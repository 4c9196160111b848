//! What the campaign tells the others: the drive watch, the lease state, the log. Kept apart
//! from the NATS calls in `campaign`, which decide; these only report what was decided.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use async_nats::jetstream::kv::{self, Operation};
use tokio::time::Instant;

use super::super::{Holder, Role};
use super::{Campaign, holder_of};

impl Campaign {
    /// A renewal (or the win) sent at `sent` was stored: drive until `sent + ttl - margin`.
    pub(super) fn renewed(&mut self, sent: Instant) {
        let Some(held) = self.held else { return };
        let until = sent + self.ttl.saturating_sub(self.margin);
        let now = Instant::now();
        // The term first: a link that sees the drive window open stamps its commands with the
        // term (`caspar::Fence`), which must already be this tenure's.
        self.out
            .term
            .send_if_modified(|t| std::mem::replace(t, held.term) != held.term);
        if until > now {
            self.until = Some(until);
            self.out.drive.send_replace(Some(until));
        }
        let me = self.me(Some(held.term));
        let leading = until > now;
        self.out.state.send_modify(|st| {
            st.role = if leading { Role::Leader } else { Role::Unknown };
            st.connected = true;
            st.term = Some(held.term);
            st.leader = Some(me);
            st.last_renewal = Some(SystemTime::now());
            st.drive_until = leading.then_some(until);
        });
    }

    /// Another node holds the key (or nobody does): stop driving now, follow.
    pub(super) fn lost(&mut self, leader: Option<Holder>) {
        if let Some(held) = self.held.take() {
            tracing::warn!(term = held.term, leader = ?leader.as_ref().map(|h| &h.node),
                "cluster: lost the leader lease; this node stops driving");
        }
        self.stop_driving();
        self.out.state.send_modify(|st| {
            st.role = Role::Follower;
            st.connected = true;
            st.term = None;
            st.leader = leader;
        });
    }

    /// An entry from the watch. `true` when the key was given back and is worth trying now.
    pub(super) fn saw(&mut self, e: &kv::Entry) -> bool {
        if e.operation != Operation::Put {
            if self.held.is_none() {
                self.out.state.send_modify(|st| st.leader = None);
                return true;
            }
            return false;
        }
        let Some(h) = holder_of(e) else { return false };
        if h.node == self.s.node && h.session == self.session {
            return false;
        }
        if self.held.is_some() {
            // Another node won: our key expired on the server. Do not wait for a refusal.
            self.lost(Some(h));
        } else {
            self.out.state.send_modify(|st| st.leader = Some(h));
        }
        false
    }

    /// A call failed or timed out: no extension; the drive instant runs out by itself.
    pub(super) fn no_answer(&mut self, why: &str) {
        if self.failures_in_row == 0 {
            tracing::warn!(error = %why, "cluster: NATS did not answer the lease call");
        }
        if self.until.is_none() {
            self.set_role(Role::Unknown);
        }
    }

    /// The bucket could not be opened (NATS unreachable).
    pub(super) fn unreachable(&mut self, why: &str) {
        if self.failures_in_row == 0 {
            tracing::warn!(error = %why, "cluster: cannot open the lease bucket; retrying");
        }
        self.failures_in_row = self.failures_in_row.saturating_add(1);
        if self.until.is_none() {
            self.out.state.send_modify(|st| {
                st.role = Role::Unknown;
                st.leader = None;
            });
        }
    }

    /// The drive instant passed without a renewal: stop driving (the engine already has).
    pub(super) fn fence_if_due(&mut self) {
        if self.until.is_some_and(|u| Instant::now() >= u) {
            tracing::warn!(
                "cluster: the leader lease was not renewed in time; this node stops driving"
            );
            self.stop_driving();
            self.set_role(Role::Unknown);
        }
    }

    pub(super) fn stop_driving(&mut self) {
        self.until = None;
        self.out.drive.send_replace(None);
        self.out.state.send_modify(|st| st.drive_until = None);
    }

    pub(super) fn set_role(&self, role: Role) {
        self.out.state.send_if_modified(|st| {
            let changed = st.role != role;
            st.role = role;
            if role == Role::Unknown {
                st.leader = None;
            }
            changed
        });
    }

    /// Reads the client's connection state; a new connection starts a quiet period.
    pub(super) fn note_connection(&mut self, client: &async_nats::Client) {
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        let connects = client.statistics().connects.load(Ordering::Relaxed);
        if connects != self.connects {
            self.connects = connects;
            self.quiet_until = self.quiet_until.max(Instant::now() + self.ttl);
        }
        let quiet = Some(self.quiet_until);
        self.out.state.send_if_modified(|st| {
            let changed = st.connected != connected || st.quiet_until != quiet;
            st.connected = connected;
            st.quiet_until = quiet;
            changed
        });
    }
}
