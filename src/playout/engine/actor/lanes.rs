//! Playout commands, one lane per channel-layer: strictly in order and one in flight, so CasparCG
//! sees a layer's `PLAY` before the `LOADBG` that follows it; lanes of different layers run side by
//! side, so a stalled command on one channel never delays another.
//!
//! A lane holds *intents* (take this item, arm what comes next), not commands: the command is
//! decided when the intent's turn comes, from the state as every earlier answer left it. A take
//! queued behind a `LOADBG` therefore promotes what that `LOADBG` loaded, and a re-arm that an
//! earlier one already satisfied is dropped. The answer comes back to the loop as
//! [`Internal::Done`]; what it means (went on air, cued, stopped) is applied then, stamped with the
//! time the answer arrived (`answers`).

use std::collections::VecDeque;

use super::*;
use crate::amcp::Command;
use crate::playout::engine::transport;

/// What a lane entry is for.
#[derive(Debug)]
pub(super) enum Intent {
    /// An operator take (`how`: take, next, previous).
    Take {
        id: String,
        target: String,
        how: &'static str,
    },
    Cue {
        id: String,
        target: String,
    },
    /// Load what comes next into the background (with AUTO when autoplay applies).
    Rearm {
        id: String,
    },
    Simple {
        id: String,
        action: Action,
    },
    /// Reconciliation's recovery: play `item` again `seek` frames in, or (`fresh`) the next item
    /// from its start; dropped if playout changed since the decision (`epoch`).
    Recover {
        id: String,
        item: String,
        seek: Option<u64>,
        fresh: bool,
        epoch: u64,
    },
    /// Brings `side`, which connected while the other side plays, to the station's state on `id`'s
    /// layer: the on-air item from where it should be now, then the layer's background
    /// (`background`), sent to that side alone.
    Resync {
        side: usize,
        id: String,
        background: bool,
        /// The side's connection it was queued for (see `sides::Side::generation`).
        generation: u64,
    },
}

/// The one-command actions on a playlist's layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Stop,
    Pause,
    Resume,
    Clear,
}

/// What an answered command means, decided when it was sent.
#[derive(Debug)]
pub(super) enum After {
    Take {
        id: String,
        target: String,
        how: &'static str,
    },
    Cued {
        id: String,
        target: String,
        auto: bool,
        op: bool,
    },
    Simple {
        id: String,
        action: Action,
    },
    Recovered {
        id: String,
        item: String,
        fresh: bool,
    },
    /// `EMPTY` armed behind the rundown's last item.
    Black {
        id: String,
    },
    /// A catch-up command of one side (see `sides`).
    Resync {
        side: usize,
        id: String,
        background: bool,
        generation: u64,
    },
}

pub(super) enum Plan {
    /// To every connected side (see `sides::targets`).
    Send(Command, After),
    /// To one side only.
    SendTo(usize, Command, After),
    /// Nothing to send any more (a re-arm already satisfied, a recovery overtaken).
    Skip,
    Fail(EngineError),
}

/// One side's answer to a lane's command.
pub(crate) struct Done {
    cl: Route,
    side: usize,
    ticket: u64,
    name: &'static str,
    /// Whether the command put an item on air (a success brings an out-of-step side back).
    take: bool,
    result: Result<(), CommandError>,
    at: tokio::time::Instant,
}

struct Queued {
    intent: Intent,
    reply: Option<Reply>,
}

struct InFlight {
    after: After,
    reply: Option<Reply>,
    name: &'static str,
    /// Tells this command's answers from late answers of earlier ones.
    ticket: u64,
    /// Sides whose answer is awaited.
    waiting: usize,
    /// Sides that failed so far, with their error (the main's is the one reported when all fail).
    failed: Vec<(usize, CommandError)>,
    /// When it left: the server ran it about then, well before its answer came back.
    sent: tokio::time::Instant,
}

#[derive(Default)]
struct Lane {
    queue: VecDeque<Queued>,
    in_flight: Option<InFlight>,
}

/// Every channel-layer's lane.
#[derive(Default)]
pub(crate) struct Lanes {
    lanes: HashMap<Route, Lane>,
    next_ticket: u64,
}

impl Lanes {
    /// Empties every lane's queue (not what is in flight); the replies of the ops that waited.
    pub(super) fn drain_queued(&mut self) -> Vec<Reply> {
        self.lanes
            .values_mut()
            .flat_map(|lane| std::mem::take(&mut lane.queue))
            .filter_map(|q| q.reply)
            .collect()
    }
}

impl Engine {
    /// Why playlist `id` cannot be played: it is gone, or its server is not configured.
    fn unroutable(&self, id: &str) -> EngineError {
        match self.playlists.get(id).map(|pl| self.check_server(pl)) {
            Some(Err(e)) => e.into(),
            _ => PlaylistError::PlaylistNotFound(id.to_owned()).into(),
        }
    }

    /// Queues `intent` on the lane of playlist `id`'s layer; `reply` is answered when it is done.
    pub(super) fn enqueue(&mut self, id: &str, intent: Intent, reply: Option<Reply>) {
        let Some(cl) = self.route(id) else {
            if let Some(reply) = reply {
                let _ = reply.send(Err(self.unroutable(id)));
            }
            return;
        };
        let lane = self.lanes.lanes.entry(cl).or_default();
        if let Intent::Rearm { .. } = &intent {
            // One waiting re-arm per layer is enough: it decides for the whole layer (whichever
            // playlist asked) from the state when its turn comes.
            let waiting = lane
                .queue
                .iter()
                .any(|q| matches!(&q.intent, Intent::Rearm { .. }));
            if waiting {
                return;
            }
        }
        lane.queue.push_back(Queued { intent, reply });
        self.pump(cl);
    }

    /// Queues a schedule's take ahead of everything waiting on its lane: a fixed time does not
    /// wait for re-arms (a command already in flight still goes first).
    pub(super) fn enqueue_first(&mut self, id: &str, intent: Intent) {
        let Some(cl) = self.route(id) else {
            return;
        };
        let lane = self.lanes.lanes.entry(cl).or_default();
        lane.queue.push_front(Queued {
            intent,
            reply: None,
        });
        self.pump(cl);
    }

    /// Sends the lane's next command if none is in flight.
    fn pump(&mut self, cl: Route) {
        if !self.may_drive() {
            // Fenced: nothing more leaves for any server (see `drive`).
            let queued = self
                .lanes
                .lanes
                .get_mut(&cl)
                .map(|lane| std::mem::take(&mut lane.queue))
                .unwrap_or_default();
            for q in queued {
                if let Some(reply) = q.reply {
                    let _ = reply.send(Err(EngineError::NotLeader));
                }
            }
            return;
        }
        loop {
            let Some(lane) = self.lanes.lanes.get_mut(&cl) else {
                return;
            };
            if lane.in_flight.is_some() {
                return;
            }
            let Some(Queued { intent, reply }) = lane.queue.pop_front() else {
                self.lanes.lanes.remove(&cl);
                return;
            };
            match self.plan(intent) {
                Plan::Skip => {}
                Plan::Fail(e) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(e));
                    }
                }
                Plan::Send(cmd, after) => {
                    let targets = self.targets(cl.group);
                    self.send_to(cl, &targets, cmd, after, reply);
                    return;
                }
                Plan::SendTo(side, cmd, after) => {
                    self.send_to(cl, &[side], cmd, after, reply);
                    return;
                }
            }
        }
    }

    /// Submits `cmd` to each of `sides` in order, the main first, each without waiting for any
    /// answer: the pair's commands leave within microseconds of each other. Every answer comes back
    /// as [`Internal::Done`].
    fn send_to(
        &mut self,
        cl: Route,
        sides: &[usize],
        cmd: Command,
        after: After,
        reply: Option<Reply>,
    ) {
        let name = cmd.name();
        let take = matches!(after, After::Take { .. } | After::Recovered { .. });
        let ticket = self.lanes.next_ticket;
        self.lanes.next_ticket += 1;
        if let Some(lane) = self.lanes.lanes.get_mut(&cl) {
            lane.in_flight = Some(InFlight {
                after,
                reply,
                name,
                ticket,
                waiting: sides.len(),
                failed: Vec::new(),
                sent: tokio::time::Instant::now(),
            });
        }
        for &side in sides {
            let answer = self.sides[side].caspar.dispatch(cmd.clone());
            let internal = self.internal_tx.clone();
            tokio::spawn(async move {
                let result = answer.await.map(drop);
                let at = tokio::time::Instant::now();
                let _ = internal.send(Internal::Done(Done {
                    cl,
                    side,
                    ticket,
                    name,
                    take,
                    result,
                    at,
                }));
            });
        }
    }

    /// Decides the command for an intent from the current state.
    fn plan(&mut self, intent: Intent) -> Plan {
        match intent {
            Intent::Take { id, target, how } => {
                let (cl, item) = match self.item_of(&id, &target) {
                    Ok(v) => v,
                    Err(e) => return Plan::Fail(e),
                };
                // A cued background is promoted with its transition; anything else plays directly.
                let promoted = self.playout.get(&id).and_then(Runtime::cued) == Some(&target);
                let cmd = if promoted {
                    Command::Play(cl.wire(), None)
                } else {
                    transport::play(cl.wire(), &item, None)
                };
                Plan::Send(cmd, After::Take { id, target, how })
            }
            Intent::Cue { id, target } => {
                let (cl, item) = match self.item_of(&id, &target) {
                    Ok(v) => v,
                    Err(e) => return Plan::Fail(e),
                };
                let auto = self.auto_allowed(&id);
                self.runtime(&id).loading(&target, auto);
                let cmd = transport::loadbg(cl.wire(), &item, auto);
                Plan::Send(
                    cmd,
                    After::Cued {
                        id,
                        target,
                        auto,
                        op: true,
                    },
                )
            }
            Intent::Rearm { id } => {
                // The layer's background may go to another playlist on it (the filler's next
                // clip, the next day's first item).
                let Some((id, next, auto)) = self.rearm_target(&id) else {
                    return Plan::Skip;
                };
                if next == super::layer::BLACK {
                    let Some(cl) = self.route(&id) else {
                        return Plan::Skip;
                    };
                    let empty = crate::amcp::Clip {
                        auto: true,
                        ..crate::amcp::Clip::new("EMPTY")
                    };
                    return Plan::Send(Command::LoadBg(cl.wire(), empty), After::Black { id });
                }
                let Ok((cl, item)) = self.item_of(&id, &next) else {
                    return Plan::Skip;
                };
                self.runtime(&id).loading(&next, auto);
                let cmd = transport::loadbg(cl.wire(), &item, auto);
                Plan::Send(
                    cmd,
                    After::Cued {
                        id,
                        target: next,
                        auto,
                        op: false,
                    },
                )
            }
            Intent::Simple { id, action } => {
                let Some(cl) = self.route(&id) else {
                    return Plan::Fail(self.unroutable(&id));
                };
                let cmd = match action {
                    Action::Stop => Command::Stop(cl.wire()),
                    Action::Pause => Command::Pause(cl.wire()),
                    Action::Resume => Command::Resume(cl.wire()),
                    Action::Clear => Command::Clear(cl.wire()),
                };
                Plan::Send(cmd, After::Simple { id, action })
            }
            Intent::Recover {
                id,
                item,
                seek,
                fresh,
                epoch,
            } => {
                if self.playout.get(&id).map(Runtime::epoch) != Some(epoch) {
                    return Plan::Skip;
                }
                let Ok((cl, it)) = self.item_of(&id, &item) else {
                    return Plan::Skip;
                };
                let cmd = transport::play(cl.wire(), &it, seek);
                Plan::Send(cmd, After::Recovered { id, item, fresh })
            }
            Intent::Resync {
                side,
                id,
                background,
                generation,
            } => self.plan_resync(side, id, background, generation),
        }
    }

    /// A playlist's layer and one of its items.
    pub(super) fn item_of(&self, id: &str, item: &str) -> Result<(Route, Item), EngineError> {
        let pl = self
            .playlists
            .get(id)
            .ok_or_else(|| PlaylistError::PlaylistNotFound(id.to_owned()))?;
        let it = pl
            .item(item)
            .ok_or_else(|| PlaylistError::ItemNotFound(item.to_owned()))?;
        let cl = self.route_of(pl).ok_or_else(|| self.unroutable(id))?;
        Ok((cl, it.clone()))
    }
}

mod answers;
