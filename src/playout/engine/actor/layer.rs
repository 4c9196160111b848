//! Several playlists on one channel-layer: a rundown, the layer's filler, the next day's rundown.
//!
//! A layer has one foreground and one background, so the playlists that share it take turns:
//!
//! - Whatever goes on air takes the layer: every other playlist there is off air at that moment
//!   (its as-run end says why: `auto` when the filler followed the rundown's last item, `hard` or
//!   `soft` when a fixed time took over) and resumes, when its turn comes, after the item that
//!   was on air.
//! - The background holds what comes next *in time* on the layer: the on-air playlist's next item
//!   (with AUTO), the filler's next clip (with AUTO) when the plan has a gap after the item on air,
//!   or another playlist's fixed-time item (without AUTO, taken on its frame by the schedule) when
//!   its time comes before the item on air ends or nothing else follows.
//! - The filler's clips play in its order (as listed or shuffled, looped): the sequence number of
//!   the next play is kept per filler, so the filler goes on where it stopped at the next gap.

use super::*;
use crate::playout::engine::state::Status;
use crate::playout::fill::{EndAction, FillerMode};
use crate::playout::timing;
use crate::schedule::filler::next_play;
use crate::schedule::{Filler, FrameRate};

/// What a layer's background should hold: (playlist, item, AUTO).
pub(super) type Target = (String, String, bool);

/// The "item" of a target that empties the layer by AUTO after a rundown's last item
/// (`end_action = "black"`): `LOADBG … EMPTY AUTO`. Item ids never contain `#`.
pub(super) const BLACK: &str = "#black";

impl Engine {
    /// The playlists on `cl`, in id order.
    pub(super) fn on_layer(&self, cl: Route) -> Vec<String> {
        self.playlists
            .values()
            .filter(|pl| self.route_of(pl) == Some(cl))
            .map(|pl| pl.id.clone())
            .collect()
    }

    /// The layer's filler: the first filler playlist on it by id (the ops allow only one; files
    /// placed by hand could hold two).
    pub(super) fn filler_of(&self, cl: Route) -> Option<&Playlist> {
        self.playlists
            .values()
            .find(|pl| pl.filler.is_some() && self.route_of(pl) == Some(cl))
    }

    /// Each filler clip's ticks at `rate` before the next clip follows it by AUTO (its length and
    /// one more, see [`timing::auto_frames`]; 0 when unknown: the planner skips it).
    pub(super) fn filler_lengths(filler: &Playlist, rate: FrameRate) -> Vec<u64> {
        filler
            .items
            .iter()
            .map(|it| timing::auto_frames(it, rate).unwrap_or(0))
            .collect()
    }

    /// The filler's next clip and its sequence number.
    pub(super) fn filler_next(&self, filler: &Playlist) -> Option<(String, u64)> {
        let next = self
            .scheduler
            .filler_seq
            .get(&filler.id)
            .copied()
            .unwrap_or(0);
        let mode = filler.filler.unwrap_or_default();
        let rate = self.rate_of_pl(filler);
        let lengths = Self::filler_lengths(filler, rate);
        let spec = Filler {
            clips: &lengths,
            order: mode.order(&filler.id),
            next,
        };
        let (index, seq) = match next_play(&spec) {
            Some(play) => play,
            // No clip has a known length: they still play, in order.
            None if !filler.items.is_empty() => (
                usize::try_from(next % filler.items.len() as u64).ok()?,
                next,
            ),
            None => return None,
        };
        Some((filler.items.get(index)?.id.clone(), seq))
    }

    /// A filler clip went on air: the sequence goes on after it.
    fn filler_played(&mut self, id: &str, item: &str) {
        let Some(filler) = self.playlists.get(id).filter(|pl| pl.filler.is_some()) else {
            return;
        };
        let next = match (filler.filler.unwrap_or_default(), self.filler_next(filler)) {
            (FillerMode::Shuffle, Some((predicted, seq))) if predicted == item => seq + 1,
            (FillerMode::Shuffle, _) => return,
            // As listed: the clip after the one on air, whoever started it.
            (FillerMode::InOrder, _) => filler.index_of(item).map_or(0, |i| i as u64 + 1),
        };
        if self.scheduler.filler_seq.insert(id.to_owned(), next) != Some(next) {
            self.persistence.state_dirty = true;
        }
    }

    /// The channel's frame rate, 25 fps until it is read.
    pub(super) fn rate_of(&self, ch: Chan) -> FrameRate {
        self.frame_rates
            .get(&ch)
            .and_then(|&(n, d)| FrameRate::new(n, d))
            .unwrap_or(FrameRate::FPS_25)
    }

    /// The frame rate of `pl`'s channel.
    pub(super) fn rate_of_pl(&self, pl: &Playlist) -> FrameRate {
        self.route_of(pl)
            .map_or(FrameRate::FPS_25, |r| self.rate_of(r.chan()))
    }

    /// `item` of `id` went on air on its layer at `at_ms` (`how` it started): every other
    /// playlist there is off air, and forgets its background.
    pub(super) fn take_layer(&mut self, id: &str, item: &str, how: &str, at_ms: u64) {
        let Some(cl) = self.route(id) else {
            return;
        };
        self.scheduler.black_armed.remove(&cl);
        for other in self.on_layer(cl) {
            if other == id {
                continue;
            }
            let Some(p) = self.playout.get(&other) else {
                continue;
            };
            if p.on_air().is_none() && p.background_target().0.is_none() {
                continue;
            }
            let next = self.next_of(&other);
            let ended = self.runtime(&other).replaced(next);
            if let Some(ended) = ended {
                self.log_off_air(&other, ended, how, at_ms);
            }
            self.persistence.state_dirty = true;
            self.publish_playout(&other);
            self.scheduler.touch(&other);
        }
        self.filler_played(id, item);
    }

    /// Before a take sent at `sent_ms` on `cl`: the item on air there ended earlier, with an item
    /// armed by AUTO behind it, so the server switched to that item then, whether or not a
    /// reading saw it (a take right after the switch replaces it before the next reading). It
    /// went on air, and into the as-run, at that moment. (A frame of margin: the switch comes on
    /// the frame after the last one.) The send time, not the answer's: the server ran the take
    /// about when it left, and a switch due between the two was most likely replaced before it
    /// showed (at 60x a millisecond's answer is three frames: a CI run's as-run had a filler start
    /// the simulator never showed, right before a soft start's take).
    pub(super) fn auto_switches_unseen(&mut self, cl: Route, taken: (&str, &str), sent_ms: u64) {
        let frame_ms = self.rate_of(cl.chan()).frame_nanos() / 1_000_000;
        // A few switches at most: each one needs a whole clip to have played.
        for _ in 0..8 {
            let Some(owner) = self.layer_owner(cl) else {
                return;
            };
            let Some((bg, item, true)) = self.layer_background(cl) else {
                return;
            };
            // The take itself promoted the armed item: that is this take, not an earlier switch.
            if item == BLACK || (bg.as_str(), item.as_str()) == taken {
                return;
            }
            let Some(end_ms) = self
                .on_air_end(&owner)
                .and_then(|e| u64::try_from(e / 1_000_000).ok())
                .filter(|&e| e.saturating_add(u64::try_from(frame_ms).unwrap_or(0)) < sent_ms)
            else {
                return;
            };
            tracing::info!(playlist = %bg, item = %item, "on air by AUTO (seen only by its end)");
            // As an observed AUTO switch: the owner's item ends, the armed item starts.
            self.went_on_air(&bg, &item, "auto", end_ms);
        }
    }

    /// A `LOADBG` for `id` was answered: the layer's background is `id`'s now.
    pub(super) fn background_taken(&mut self, id: &str) {
        let Some(cl) = self.route(id) else {
            return;
        };
        self.scheduler.black_armed.remove(&cl);
        for other in self.on_layer(cl) {
            if other != id
                && self
                    .playout
                    .get(&other)
                    .is_some_and(|p| p.background_target().0.is_some())
            {
                self.runtime(&other).lost_background();
                self.publish_playout(&other);
            }
        }
    }

    /// What the layer's background holds, or is about to.
    pub(super) fn layer_background(&self, cl: Route) -> Option<Target> {
        let item = self.on_layer(cl).into_iter().find_map(|id| {
            let (item, auto) = self.playout.get(&id)?.background_target();
            let item = item?.to_owned();
            Some((id, item, auto))
        });
        item.or_else(|| {
            let id = self.scheduler.black_armed.get(&cl)?;
            Some((id.clone(), BLACK.to_owned(), true))
        })
    }

    /// The playlist with an item on air on `cl`.
    fn layer_owner(&self, cl: Route) -> Option<String> {
        self.on_layer(cl)
            .into_iter()
            .find(|id| self.playout.get(id).is_some_and(|p| p.on_air().is_some()))
    }

    /// When the item on air of `id` ends (ns since the epoch); `None` when it never does (a loop)
    /// or its length is unknown.
    pub(super) fn on_air_end(&self, id: &str) -> Option<i64> {
        let pl = self.playlists.get(id)?;
        let p = self.playout.get(id)?;
        let item = pl.item(p.on_air()?)?;
        if item.looping {
            return None;
        }
        let rate = self.rate_of_pl(pl);
        let frames = timing::channel_frames(item, rate)?;
        let since = i64::try_from(p.on_air_since_ms()?)
            .ok()?
            .saturating_mul(1_000_000);
        Some(since.saturating_add(rate.frames_to_nanos(i64::try_from(frames).ok()?)))
    }

    /// What the background of `id`'s layer should hold, when that differs from what it holds or
    /// is about to: `None` when nothing needs sending.
    pub(super) fn rearm_target(&self, id: &str) -> Option<Target> {
        let cl = self.route(id)?;
        if !self.group_connected(cl.group) || !self.may_drive() {
            return None;
        }
        let want = self.layer_want(cl)?;
        let have = self.layer_background(cl);
        if have.as_ref() == Some(&want) {
            return None;
        }
        // An AUTO background about to start is left alone: a LOADBG that lands just after the
        // switch would load behind what the server already took, and the engine would believe
        // the wrong item on air. What follows it is decided once it is on air.
        if have.is_some_and(|(_, _, auto)| auto) && self.switch_imminent(cl) {
            tracing::debug!(%cl, "background kept: its AUTO switch is due");
            return None;
        }
        Some(want)
    }

    /// Whether the item on air on `cl` ends within the time a `LOADBG` may take to land: three
    /// frames, and at least 150 ms of real time (on a sped-up test clock, more frames).
    fn switch_imminent(&self, cl: Route) -> bool {
        let Some(end) = self.layer_owner(cl).and_then(|o| self.on_air_end(&o)) else {
            return false;
        };
        let frame = self.rate_of(cl.chan()).frame_nanos();
        let real = 150_000_000_i64.saturating_mul(i64::from(self.scheduler.clock.speed()));
        end.saturating_sub(self.now_ns()) < frame.saturating_mul(3).max(real)
    }

    fn layer_want(&self, cl: Route) -> Option<Target> {
        let owner = self.layer_owner(cl);
        // The earliest fixed time of a playlist not on air (the next day, a rundown waiting in a
        // gap), with its instant.
        let foreign = self
            .on_layer(cl)
            .into_iter()
            .filter(|q| Some(q) != owner.as_ref())
            .filter_map(|q| {
                let item = self.scheduled_background(&q)?;
                let at = self.scheduler.background(&q)?.at;
                Some((at, q, item))
            })
            .min();
        let own = owner.as_deref().and_then(|o| self.own_want(o));
        match (own, foreign) {
            (None, foreign) => foreign.map(|(_, q, item)| (q, item, false)),
            (Some(own), None) => Some(own),
            (Some(own), Some((at, q, item))) => {
                // The fixed time comes first unless the item on air ends (and what follows it
                // starts) before it. Within a frame of its end, what follows would show for a
                // frame at most: the fixed item waits instead, ready to be taken on its frame.
                let ends = owner.as_deref().and_then(|o| self.on_air_end(o));
                let frame = self.rate_of(cl.chan()).frame_nanos();
                if ends.is_none_or(|e| at <= e.saturating_add(frame)) {
                    Some((q, item, false))
                } else {
                    Some(own)
                }
            }
        }
    }

    /// What follows the item on air of `o`, the layer's owner.
    fn own_want(&self, o: &str) -> Option<Target> {
        let p = self.playout.get(o)?;
        if !matches!(p.status(), Status::Playing | Status::Paused) {
            return None;
        }
        let pl = self.playlists.get(o)?;
        if pl.filler.is_some() {
            // The filler loops, with AUTO, clip after clip.
            if !self.auto_allowed(o) {
                return None;
            }
            return self
                .filler_next(pl)
                .map(|(item, _)| (o.to_owned(), item, true));
        }
        if self.scheduler.filler_follows(o)
            && self.auto_allowed(o)
            && let Some(filler) = self.route_of(pl).and_then(|r| self.filler_of(r))
            && let Some((item, _)) = self.filler_next(filler)
        {
            return Some((filler.id.clone(), item, true));
        }
        if let Some(item) = self.scheduled_background(o) {
            // A fixed-time item waits without AUTO: an item ending early must not start it early
            // (the schedule takes it on its frame).
            return (p.on_air() != Some(item.as_str())).then(|| (o.to_owned(), item, false));
        }
        // Nothing follows: a background armed earlier is left alone (the server ignores it
        // unless it was armed with AUTO, and then it is the item that was next at the time),
        // unless the operator chose black after the rundown.
        match self.next_of(o) {
            Some(next) => Some((o.to_owned(), next, self.auto_allowed(o))),
            None if pl.end_action == EndAction::Black && self.auto_allowed(o) => {
                Some((o.to_owned(), BLACK.to_owned(), true))
            }
            None => None,
        }
    }
}

impl Engine {
    /// `EMPTY` was armed behind `id`'s last item: the layer goes black when it ends.
    pub(super) fn black_armed(&mut self, id: &str) {
        if let Some(cl) = self.route(id) {
            self.scheduler.black_armed.insert(cl, id.to_owned());
        }
    }

    /// Past the planned end of the last item with black armed: the item is off air (its as-run
    /// end stamped with its planned end), the layer is empty.
    pub(super) fn went_black(&mut self, id: &str, end_ns: i64) {
        let Some(cl) = self.route(id) else {
            return;
        };
        if self.scheduler.black_armed.get(&cl).map(String::as_str) != Some(id) {
            return;
        }
        let at_ms = u64::try_from(end_ns / 1_000_000).unwrap_or(0);
        if let Some(ended) = self.runtime(id).stopped() {
            self.log_off_air(id, ended, "auto", at_ms);
        }
        self.persistence.state_dirty = true;
        self.publish_playout(id);
    }
}
