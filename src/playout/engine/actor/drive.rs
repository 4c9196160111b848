//! Whether this daemon may drive the servers. Alone, it always may. In cluster mode (two daemons,
//! one station; docs/operations.md, "Cluster mode") only the holder of the leader lease may, and
//! only until the instant its lease is sure to be valid (fencing by time): the engine checks that
//! instant before every command it hands to a link, not only when it hears the lease changed, so
//! a lease that lapses while a renewal hangs stops playout commands on time.
//!
//! A daemon that may not drive still reads the servers (INFO, OSC) and answers clients, but sends
//! nothing that changes playout: operator commands fail with `not_leader`, autoplay and the
//! schedule arm and fire nothing, reconciliation waits. When it gains the right it takes over as
//! after a reconnect: it reads every channel, adopts what is on air (never restarting it), brings
//! out-of-step sides in step and re-arms every layer.

use tokio::time::Instant;

use super::*;

/// Until when the daemon may drive (`None`: it may not). See [`EngineDeps::drive`].
pub type DriveUntil = watch::Receiver<Option<Instant>>;

impl Engine {
    /// Whether this daemon holds the lease now (always, without one).
    fn leased(&self) -> bool {
        match &self.drive {
            None => true,
            Some(rx) => rx.borrow().is_some_and(|until| Instant::now() < until),
        }
    }

    /// Whether a playout command may leave now.
    pub(super) fn may_drive(&self) -> bool {
        // In cluster mode, only with the station's playlists (see `replicate`).
        self.leased() && self.replica.as_ref().is_none_or(|r| r.ready())
    }

    /// When the right to drive lapses unless renewed (far ahead when it is not held or there is
    /// no lease).
    pub(super) fn drive_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        match &self.drive {
            Some(rx) if self.driving => rx.borrow().map_or(far, |u| u.min(far)),
            _ => far,
        }
    }

    /// The lease changed or lapsed: start or stop driving.
    pub(super) fn on_drive_change(&mut self) {
        let leased = self.leased();
        self.sync_with_lease(leased);
        let now = self.may_drive();
        if now == self.driving {
            return;
        }
        self.driving = now;
        if let Some(r) = &self.replica {
            r.driving_now(now);
        }
        if now {
            tracing::info!("this daemon leads the station: taking over playout");
            self.clear_alarms("cluster");
            self.take_over();
        } else {
            tracing::warn!("this daemon no longer leads the station: it stops driving the servers");
            self.raise(
                Severity::Warning,
                "cluster",
                "this daemon does not hold the leader lease: it sends no playout command".into(),
            );
            self.drop_queued();
        }
    }

    /// As after a reconnect, for every group that is up: read and adopt what is on air, bring
    /// out-of-step sides in step, plan every layer again and re-arm it.
    fn take_over(&mut self) {
        for g in 0..self.groups.len() {
            if !self.group_connected(g) {
                continue;
            }
            self.reconcile_group(g);
            let members = self.groups[g].sides.clone();
            let up = members
                .iter()
                .filter(|&&i| self.sides[i].view.connected)
                .count();
            for side in members {
                let s = &self.sides[side].view;
                if up > 1 && s.connected && !s.in_step {
                    self.resync_side(side);
                }
            }
        }
        let ids: Vec<String> = self.playlists.keys().cloned().collect();
        for id in &ids {
            self.scheduler.touch(id);
            self.rearm(id);
        }
    }

    /// Every waiting lane entry is dropped (a command already handed to a link is left to
    /// answer): an operator waiting on one hears `not_leader`.
    fn drop_queued(&mut self) {
        for reply in self.lanes.drain_queued() {
            let _ = reply.send(Err(EngineError::NotLeader));
        }
    }
}
