//! What a side's answer to a lane's command means: the first success completes it, a side that
//! failed while another succeeded is out of step, and an op's result is made from it.

use super::*;

impl Engine {
    /// One side answered a lane's command. The first success completes it (a slower side never
    /// holds the lane); it fails only when every side failed. A side that failed while another
    /// succeeded is out of step (see `sides`).
    pub(in crate::playout::engine::actor) fn on_done(&mut self, done: Done) {
        let Done {
            cl,
            side,
            ticket,
            name,
            take,
            result,
            at,
        } = done;
        let first = self
            .lanes
            .lanes
            .get(&cl)
            .and_then(|l| l.in_flight.as_ref())
            .is_some_and(|f| f.ticket == ticket);
        if name == "LOADBG" && result.is_ok() {
            self.proof.loadbg_ok(side, cl, ticket, first, at);
        }
        let Some(flight) = self
            .lanes
            .lanes
            .get_mut(&cl)
            .and_then(|l| l.in_flight.as_mut())
            .filter(|f| f.ticket == ticket)
        else {
            // A slower side's answer to a command another side already completed.
            self.side_answered(side, name, &result, take);
            return;
        };
        flight.waiting = flight.waiting.saturating_sub(1);
        let result = match result {
            Ok(()) => Ok(()),
            Err(e) => {
                flight.failed.push((side, e));
                if flight.waiting > 0 {
                    return;
                }
                let main = flight
                    .failed
                    .iter()
                    .position(|(s, _)| self.sides[*s].view.role == ServerRole::Main);
                let (_, e) = flight.failed.swap_remove(main.unwrap_or(0));
                Err(e)
            }
        };
        let Some(InFlight {
            after,
            reply,
            name,
            failed,
            sent,
            ..
        }) = self
            .lanes
            .lanes
            .get_mut(&cl)
            .and_then(|l| l.in_flight.take())
        else {
            return;
        };
        if result.is_ok() {
            for (s, e) in failed {
                self.side_answered(s, name, &Err(e), take);
            }
            self.side_answered(side, name, &Ok(()), take);
        }
        let outcome = match result {
            Ok(()) => Ok(self.complete(after, self.wall_ms_at(at), self.wall_ms_at(sent))),
            Err(e) => {
                self.failed(&after, name, &e);
                Err(EngineError::Caspar(e))
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
        self.pump(cl);
    }

    /// `after` of a command sent at `sent_ms` and answered at `at_ms`.
    fn complete(&mut self, after: After, at_ms: u64, sent_ms: u64) -> OpResult {
        match after {
            After::Take { id, target, how } => {
                if let Some(cl) = self.route(&id) {
                    self.auto_switches_unseen(cl, (&id, &target), sent_ms);
                }
                self.went_on_air(&id, &target, how, at_ms);
                self.rearm(&id);
                OpResult {
                    playlist: Some(id),
                    item: Some(target),
                    clips: None,
                }
            }
            After::Cued {
                id,
                target,
                auto,
                op,
            } => {
                self.background_taken(&id);
                self.runtime(&id).cued_as(&target, auto);
                self.publish_playout(&id);
                OpResult {
                    playlist: Some(id),
                    item: op.then_some(target),
                    clips: None,
                }
            }
            After::Simple { id, action } => {
                let ended = match action {
                    Action::Stop => self.runtime(&id).stopped().map(|e| (e, "stop")),
                    Action::Clear => self.runtime(&id).cleared().map(|e| (e, "clear")),
                    Action::Pause | Action::Resume => {
                        self.runtime(&id).set_paused(action == Action::Pause);
                        None
                    }
                };
                if let Some((ended, how)) = ended {
                    self.log_off_air(&id, ended, how, at_ms);
                }
                self.persistence.state_dirty = true;
                self.publish_playout(&id);
                OpResult {
                    playlist: Some(id),
                    ..OpResult::default()
                }
            }
            After::Black { id } => {
                self.background_taken(&id);
                self.black_armed(&id);
                OpResult::default()
            }
            After::Resync {
                side,
                id,
                background,
                generation,
            } => {
                self.resynced(side, &id, background, generation);
                OpResult::default()
            }
            After::Recovered { id, item, fresh } => {
                if fresh {
                    self.went_on_air(&id, &item, "reconcile", at_ms);
                } else {
                    self.runtime(&id).resumed();
                    if let Some(cl) = self.route(&id) {
                        self.observed.remove(&cl);
                    }
                    self.publish_playout(&id);
                }
                self.rearm(&id);
                OpResult::default()
            }
        }
    }

    /// A playout command failed: the operator hears it as an alarm as well as the op's error.
    fn failed(&mut self, after: &After, name: &str, e: &CommandError) {
        if let After::Cued { id, .. } = after {
            self.runtime(id).load_failed();
        }
        if let After::Resync { side, .. } = after {
            // One side's catch-up: the station plays on; the side shows why it is not in step.
            self.resync_answered(*side, Some(format!("{name} failed: {e}")));
            return;
        }
        if matches!(e, CommandError::NotLeading) {
            // The lease ran out while the command waited to be written: the `cluster` alarm
            // already says this node stopped driving, and the next leader re-arms the layer.
            return;
        }
        let severity = if matches!(e, CommandError::NotConnected) {
            Severity::Warning
        } else {
            Severity::Critical
        };
        self.raise(severity, "playout", format!("{name} failed: {e}"));
    }
}
