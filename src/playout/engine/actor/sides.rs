//! Main/backup pairs: every playout command goes to each connected server of the pair, the main
//! first and neither waiting for the other's answer; a lane moves on with the first success, so a
//! slow, failing or absent side never delays the other (docs/operations.md, "Main and backup
//! servers").
//!
//! Each side has its own link, OSC telemetry and media library. The engine follows the telemetry
//! of one side, the *lead*: the main while it is up, else the backup. A side that (re)connects
//! while the other is up is brought to the station's state on its own (the on-air item from the
//! live position, then the background), without a command to the side that stayed up; a side that
//! comes up alone is reconciled as a single server is. Both sides' positions are compared for
//! drift.

use std::collections::HashMap;

use tokio::time::Instant;

use super::lanes::{After, Intent, Plan};
use super::*;
use crate::amcp::Command;
use crate::caspar::LinkState;
use crate::playout::engine::state::Status;
use crate::playout::engine::state::{ServerRole, ServerView};
use crate::playout::engine::transport;

/// A server of the station as the engine was given it.
pub struct SideDeps {
    pub name: String,
    /// `HOST:PORT`, for the views.
    pub address: String,
    pub caspar: CasparHandle,
    pub osc: Option<OscTelemetry>,
}

/// One server of the station as the engine drives it.
pub(crate) struct Side {
    /// The group it belongs to (see `groups`).
    pub(super) group: usize,
    pub(super) caspar: CasparHandle,
    pub(super) osc: Option<OscTelemetry>,
    pub(super) view: ServerView,
    /// Since when it is connected and being brought to the other side's state.
    catching_up: Option<Instant>,
    /// Catch-up commands sent to it alone and not answered yet.
    pub(super) resync_pending: usize,
    /// The latest position per layer from this side's own telemetry (for drift).
    pub(super) positions: HashMap<Route, (LayerObs, Instant)>,
    /// Clip names (upper case) of its media library, once scanned.
    pub(super) clips: Option<HashSet<String>>,
    /// When its drift was last published.
    pub(super) drift_published: Option<Instant>,
    /// Counts its connections: a catch-up queued for an earlier one is dropped.
    pub(super) generation: u64,
    /// When the connection the engine last saw came up (`LinkState::Connected::since`).
    session: Option<std::time::SystemTime>,
}

impl Side {
    /// Connected, playing what the other side plays, and not being brought to its state.
    pub(super) fn steady(&self) -> bool {
        self.view.connected && self.view.in_step && self.catching_up.is_none()
    }

    pub(super) fn new(deps: SideDeps, role: ServerRole, group: usize) -> Side {
        Side {
            group,
            caspar: deps.caspar,
            osc: deps.osc,
            view: ServerView {
                name: deps.name,
                role,
                address: deps.address,
                state: "connecting".into(),
                ..ServerView::default()
            },
            catching_up: None,
            resync_pending: 0,
            positions: HashMap::new(),
            clips: None,
            drift_published: None,
            generation: 0,
            session: None,
        }
    }
}

impl Engine {
    /// The side whose telemetry the engine follows: the main while it is up and in step, else the
    /// backup (a side being brought in step shows nothing of ours yet: following it would look
    /// like the layer was emptied), else any connected side, else the main.
    pub(super) fn lead(&self, g: usize) -> usize {
        let members = &self.groups[g].sides;
        let up = |in_step: bool| {
            members.iter().copied().find(|&i| {
                let v = &self.sides[i].view;
                v.connected && (v.in_step || !in_step)
            })
        };
        up(true).or_else(|| up(false)).unwrap_or(members[0])
    }

    /// Notes a change of the side followed: readings of the other side are not compared with it.
    fn check_lead(&mut self, g: usize) {
        let lead = self.lead(g);
        if lead != self.groups[g].followed {
            tracing::info!(server = %self.sides[lead].view.name, "following this server's telemetry");
            self.groups[g].followed = lead;
            self.observed.retain(|r, _| r.group != g);
            // Durations and missing clips come from the side followed: read its library (a side
            // that connected while another led was scanned then, but not applied).
            if self.sides[lead].view.connected {
                self.start_side_rescan(lead);
            }
        }
    }

    /// The sides a playout command for everyone goes to: the connected ones, main first (the main
    /// alone when none is connected, so the command fails as it would with one server).
    pub(super) fn targets(&self, g: usize) -> Vec<usize> {
        let members = &self.groups[g].sides;
        let up: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| self.sides[i].view.connected)
            .collect();
        if up.is_empty() { vec![members[0]] } else { up }
    }

    /// A side's link changed state.
    /// Whether the side's link is up on a connection the engine has not seen yet (a reading that
    /// came back on it shows the server after whatever happened in between). A link seen up that
    /// is down now is not: a reading answered before the drop is still true of that connection.
    pub(super) fn link_moved_on(&self, side: usize) -> bool {
        let s = &self.sides[side];
        match &*s.caspar.watch_state().borrow() {
            LinkState::Connected { since, .. } => !s.view.connected || s.session != Some(*since),
            _ => false,
        }
    }

    pub(super) fn on_side_link(&mut self, side: usize, state: LinkState) {
        if let LinkState::Connected { since, .. } = &state {
            let s = &mut self.sides[side];
            let known = s.session.replace(*since);
            if s.view.connected && known.is_some_and(|k| k != *since) {
                // A new connection while the engine still saw the old one: the link went down and
                // came back between two looks at its state (a watch keeps only the latest), as
                // when a server restarts quickly while the loop is busy. The server may have lost
                // everything: handle it as the drop and the reconnect it was, so the side is
                // reconciled (or brought in step) instead of its empty layer being taken for an
                // operator's clear.
                self.on_side_link(
                    side,
                    LinkState::Disconnected {
                        reason: crate::caspar::DisconnectReason::Closed,
                        since: *since,
                    },
                );
            }
        }
        let g = self.sides[side].group;
        let others_up = self.groups[g]
            .sides
            .iter()
            .any(|&i| i != side && self.sides[i].view.connected);
        let s = &mut self.sides[side];
        let was_connected = s.view.connected;
        match &state {
            LinkState::Connected { server_version, .. } => {
                s.view.connected = true;
                s.view.server_version = Some(server_version.clone());
                s.view.state = "connected".into();
            }
            LinkState::Connecting { attempt } => {
                s.view.connected = false;
                s.view.state = format!("connecting (attempt {attempt})");
            }
            LinkState::Disconnected { reason, .. } => {
                s.view.connected = false;
                s.view.state = format!("down: {reason}");
            }
        }
        let connected = s.view.connected;
        // Drift cannot be measured without the backup: its alarm goes with it (the `server` alarm
        // says the backup is down).
        let lost_backup = !connected && was_connected && s.view.role == ServerRole::Backup;
        if !connected {
            s.view.in_step = false;
            s.view.drift_frames = None;
            s.catching_up = None;
            s.resync_pending = 0;
            s.positions.clear();
        }
        if lost_backup {
            self.clear_alarms("drift");
        }
        if connected && !was_connected {
            self.sides[side].generation += 1;
            if let LinkState::Connected { server_version, .. } = &state {
                self.subscribe_osc(side, server_version);
            }
            if others_up {
                // The station plays on the other side: bring this one to it, touching nothing else
                // (in cluster mode, once this daemon leads: see `drive`).
                self.start_side_rescan(side);
                if self.driving {
                    self.resync_side(side);
                } else {
                    let s = &mut self.sides[side].view;
                    s.in_step = false;
                    s.note = Some("brought in step when this daemon leads the station".into());
                }
            } else {
                self.sides[side].view.in_step = true;
                self.sides[side].view.note = None;
                self.group_link(side, &state);
            }
        } else if !connected && was_connected && others_up {
            let s = &self.sides[side];
            let message = format!(
                "{} server {:?} {}; playout goes on on the other side",
                role_name(s.view.role),
                s.view.name,
                s.view.state
            );
            self.raise(Severity::Warning, "server", message);
        } else if !connected && !others_up {
            self.group_link(side, &state);
        }
        self.check_lead(g);
        self.publish_servers();
    }

    /// A group's link changed: its first side came up, or its last went down.
    fn group_link(&mut self, side: usize, state: &LinkState) {
        self.on_link(self.sides[side].group, state.clone());
    }

    /// Brings a side that connected while the other plays to the station's state: each on-air item
    /// from where it should be now, then each layer's background, queued on the layers' lanes so
    /// that they stay in order with everything else sent to the layer.
    pub(super) fn resync_side(&mut self, side: usize) {
        let s = &mut self.sides[side];
        // Anything counted for an earlier catch-up is void (dropped while not driving).
        s.resync_pending = 0;
        s.catching_up = Some(Instant::now());
        s.view.in_step = false;
        s.view.note = Some("being brought to the other side's state".into());
        let ids: Vec<String> = self
            .playout
            .iter()
            .filter(|(_, p)| p.on_air().is_some())
            .map(|(id, _)| id.clone())
            .collect();
        self.clear_server_alarms(side);
        // One catch-up per layer of its group that shows or holds something of ours.
        let g = self.sides[side].group;
        let mut layers: BTreeMap<Route, String> = BTreeMap::new();
        for id in ids {
            if let Some(r) = self.route(&id).filter(|r| r.group == g) {
                layers.entry(r).or_insert(id);
            }
        }
        for (id, p) in &self.playout {
            if p.background_target().0.is_some()
                && let Some(r) = self.route(id).filter(|r| r.group == g)
            {
                layers.entry(r).or_insert_with(|| id.clone());
            }
        }
        if layers.is_empty() {
            self.side_in_step(side);
            return;
        }
        for id in layers.into_values() {
            self.sides[side].resync_pending += 1;
            let intent = Intent::Resync {
                side,
                id: id.clone(),
                background: false,
                generation: self.sides[side].generation,
            };
            self.enqueue(&id, intent, None);
        }
    }

    /// The catch-up command for `id`'s layer on `side`: the on-air item from where the lead side
    /// shows it now (paused with `LOAD` when it is paused), or (`background`) what the layer's
    /// background holds.
    pub(super) fn plan_resync(
        &mut self,
        side: usize,
        id: String,
        background: bool,
        generation: u64,
    ) -> Plan {
        let s = &self.sides[side];
        if !s.view.connected || s.generation != generation {
            return Plan::Skip;
        }
        let Some(cl) = self.route(&id) else {
            self.resync_answered(side, None);
            return Plan::Skip;
        };
        let after = |id: String, background| After::Resync {
            side,
            id,
            background,
            generation,
        };
        if background {
            let cmd = match self.layer_background(cl) {
                Some((_, item, auto)) if item == super::layer::BLACK => {
                    let empty = crate::amcp::Clip {
                        auto,
                        ..crate::amcp::Clip::new("EMPTY")
                    };
                    Command::LoadBg(cl.wire(), empty)
                }
                Some((pid, item, auto)) => match self.item_of(&pid, &item) {
                    Ok((cl, it)) => transport::loadbg(cl.wire(), &it, auto),
                    Err(_) => {
                        self.resync_answered(side, None);
                        return Plan::Skip;
                    }
                },
                None => {
                    self.resync_answered(side, None);
                    return Plan::Skip;
                }
            };
            return Plan::SendTo(side, cmd, after(id, true));
        }
        let owner = self.on_layer(cl).into_iter().find_map(|q| {
            let item = self.playout.get(&q)?.on_air()?.to_owned();
            Some((q, item))
        });
        let Some((owner, item)) = owner else {
            return self.plan_resync(side, id, true, generation);
        };
        let Ok((cl, it)) = self.item_of(&owner, &item) else {
            return self.plan_resync(side, id, true, generation);
        };
        // The command shows on the frame after it arrives: one frame further in.
        let elapsed = self.expected_elapsed(&owner, cl);
        let (num, den) = self.frame_rates.get(&cl.chan()).copied().unwrap_or((25, 1));
        let fps = f64::from(num) / f64::from(den.max(1));
        let frames = (elapsed * fps).round().max(0.0) as u64 + 1;
        if transport::item_seconds(&it).is_some_and(|d| (frames as f64) / fps >= d) {
            // It ends now: what follows it (armed below with AUTO) starts on an empty layer at once.
            return self.plan_resync(side, id, true, generation);
        }
        let paused = self.playout.get(&owner).map(Runtime::status) == Some(Status::Paused);
        let cmd = match transport::play(cl.wire(), &it, Some(frames)) {
            Command::Play(wire, clip) if paused => Command::Load(wire, clip),
            cmd => cmd,
        };
        Plan::SendTo(side, cmd, after(owner, false))
    }

    /// A catch-up command was answered: after the foreground comes the background.
    pub(super) fn resynced(&mut self, side: usize, id: &str, background: bool, generation: u64) {
        if self.sides[side].generation != generation {
            return;
        }
        if background {
            self.resync_answered(side, None);
        } else {
            // The clip is back on that side: its graphics go back over it.
            self.graphics_resync_side(side, id);
            let intent = Intent::Resync {
                side,
                id: id.to_owned(),
                background: true,
                generation,
            };
            self.enqueue_first(id, intent);
        }
    }

    /// One catch-up command of a side was answered.
    pub(super) fn resync_answered(&mut self, side: usize, error: Option<String>) {
        let s = &mut self.sides[side];
        if !s.view.connected {
            return;
        }
        s.resync_pending = s.resync_pending.saturating_sub(1);
        if let Some(e) = error {
            s.view.note = Some(format!("could not be brought in step: {e}"));
            s.catching_up = None;
            let message = format!(
                "{} server {:?} could not be brought in step: {e}",
                role_name(s.view.role),
                s.view.name
            );
            self.raise(Severity::Warning, "server", message);
            self.publish_servers();
            return;
        }
        if s.resync_pending == 0 && s.catching_up.is_some() {
            self.side_in_step(side);
        }
    }

    fn side_in_step(&mut self, side: usize) {
        let s = &mut self.sides[side];
        s.view.in_step = true;
        s.view.note = None;
        if let Some(since) = s.catching_up.take() {
            s.view.resync_ms = Some(u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX));
            tracing::info!(server = %s.view.name, resync_ms = s.view.resync_ms, "in step again");
        }
        self.clear_server_alarms(side);
        self.check_lead(self.sides[side].group);
        self.publish_servers();
    }

    /// One side's answer to a command sent to every side: a failure on one side while the other
    /// plays puts it out of step (the operator sees which); a later success of a take puts it back.
    pub(super) fn side_answered(
        &mut self,
        side: usize,
        name: &'static str,
        result: &Result<(), CommandError>,
        take: bool,
    ) {
        let g = self.sides[side].group;
        if self.groups[g].sides.len() < 2 {
            return;
        }
        let s = &mut self.sides[side];
        match result {
            // A side that is down is shown by its link state; it is brought back when it returns.
            Err(CommandError::NotConnected | CommandError::ConnectionLost) => {}
            Err(e) => {
                let note = format!("{name} failed: {e}");
                if s.view.note.as_deref() != Some(note.as_str()) || s.view.in_step {
                    s.view.in_step = false;
                    s.view.note = Some(note.clone());
                    let message = format!(
                        "{} server {:?}: {note}",
                        role_name(s.view.role),
                        s.view.name
                    );
                    self.raise(Severity::Warning, "server", message);
                    self.check_lead(g);
                    self.publish_servers();
                }
            }
            Ok(()) if take && !s.view.in_step && s.catching_up.is_none() && s.view.connected => {
                // It plays the same item as the other side again.
                self.side_in_step(side);
            }
            Ok(()) => {}
        }
    }

    fn clear_server_alarms(&mut self, side: usize) {
        let s = &self.sides[side];
        let prefix = format!("{} server {:?}", role_name(s.view.role), s.view.name);
        let ids: Vec<String> = self
            .alarms
            .iter()
            .filter(|a| a.kind == "server" && a.message.starts_with(&prefix))
            .map(|a| a.message.clone())
            .collect();
        for message in ids {
            self.clear_alarm("server", &message);
        }
    }

    /// Publishes the servers' views with the station's link.
    pub(super) fn publish_servers(&mut self) {
        let servers: Vec<ServerView> = self
            .sides
            .iter()
            .enumerate()
            .map(|(i, s)| ServerView {
                lead: i == self.lead(s.group) && s.view.connected,
                ..s.view.clone()
            })
            .collect();
        if servers != self.link.servers {
            self.link.servers = servers;
            self.publish(EventKind::Link {
                link: self.link.clone(),
            });
        }
    }
}

/// How a side is named in alarms.
pub(super) fn role_name(role: ServerRole) -> &'static str {
    match role {
        ServerRole::Main => "main",
        ServerRole::Backup => "backup",
    }
}
