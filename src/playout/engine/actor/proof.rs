//! What an `INFO` reading can prove about an AUTO switch, from the order of commands on a link.
//!
//! AMCP runs a connection's commands in the order they were written, and the engine hands a
//! playout command to every side's link before it gives any reading (`INFO` goes out later, from a
//! task). So a reading issued after a side confirmed the `LOADBG … AUTO` that armed the background
//! shows that background, waiting or promoted: an empty background with the armed clip in front
//! is the switch, even when the same clip follows itself and the readings are further apart than
//! an item (a server that answers slowly), and whichever side's reading shows it first.
//!
//! A reading issued before the layer's last change of what is on air is stale: it may show an item
//! the engine has already moved past (another side saw the switch first), so it proves nothing and
//! is not kept as the previous reading either.

use std::collections::HashMap;

use tokio::time::Instant;

use super::groups::Route;

/// Per layer and side, the confirmations a reading is compared with.
#[derive(Debug, Default)]
pub(super) struct Proof {
    /// The lane ticket of the last background `LOADBG` confirmed on the layer, and when the first
    /// side confirmed it.
    armed: HashMap<Route, (u64, Instant)>,
    /// Per side and layer, the ticket of the last `LOADBG` that side confirmed.
    confirmed: HashMap<(usize, Route), u64>,
    /// When the engine last changed what is on air on the layer.
    changed: HashMap<Route, Instant>,
}

impl Proof {
    /// `side` confirmed the `LOADBG` of lane ticket `ticket`; `first` when it completed the lane's
    /// command (no side had confirmed it before).
    pub(super) fn loadbg_ok(
        &mut self,
        side: usize,
        cl: Route,
        ticket: u64,
        first: bool,
        at: Instant,
    ) {
        self.confirmed.insert((side, cl), ticket);
        if first {
            self.armed.insert(cl, (ticket, at));
        }
    }

    /// What is on air on `cl` changed now.
    pub(super) fn changed(&mut self, cl: Route, now: Instant) {
        self.changed.insert(cl, now);
    }

    /// Whether a reading of `cl` issued at `issued` predates the layer's last change.
    pub(super) fn stale(&self, cl: Route, issued: Instant) -> bool {
        self.changed.get(&cl).is_some_and(|&at| issued < at)
    }

    /// Whether a reading of `cl` from `side`, issued at `issued`, comes after the armed background
    /// landed on that side.
    pub(super) fn shows_armed(&self, side: usize, cl: Route, issued: Instant) -> bool {
        self.armed.get(&cl).is_some_and(|&(ticket, at)| {
            issued >= at && self.confirmed.get(&(side, cl)) == Some(&ticket)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn route() -> Route {
        Route {
            group: 0,
            channel: 1,
            layer: Some(10),
        }
    }

    #[test]
    fn a_reading_proves_the_background_only_after_its_side_confirmed_it() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(10);
        let mut p = Proof::default();
        assert!(!p.shows_armed(0, route(), later), "nothing armed");
        p.loadbg_ok(1, route(), 7, true, t0);
        assert!(p.shows_armed(1, route(), later));
        assert!(
            !p.shows_armed(1, route(), t0 - Duration::from_millis(1)),
            "issued before"
        );
        // The main has not confirmed ticket 7 (an older LOADBG answered late does not count).
        p.loadbg_ok(0, route(), 6, false, later);
        assert!(!p.shows_armed(0, route(), later));
        p.loadbg_ok(0, route(), 7, false, later);
        assert!(p.shows_armed(0, route(), later));
    }

    #[test]
    fn a_reading_issued_before_the_last_change_is_stale() {
        let t0 = Instant::now();
        let mut p = Proof::default();
        assert!(!p.stale(route(), t0));
        p.changed(route(), t0 + Duration::from_millis(5));
        assert!(p.stale(route(), t0));
        assert!(!p.stale(route(), t0 + Duration::from_millis(5)));
    }
}
