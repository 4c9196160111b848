//! One playlist's playout at run time: what is on air, what waits in the background, what comes
//! next, and the transitions between those states.
//!
//! The fields are private so the invariants hold everywhere: an armed background is a cued one
//! (`armed_auto ⇒ cued`), `Stopped` has nothing on air, a start time belongs to an on-air item.
//! The wire view ([`Playout`]) is derived from it. Besides the view it keeps what only the engine
//! needs: the background a `LOADBG` on its way will establish, and an epoch that changes whenever
//! playout changes, so an answer computed from an older state (a reconcile reading taken before
//! an operator's take) is recognised and dropped.

use super::state::{Playout, Status};

/// A background the engine has asked for and not yet seen confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loading {
    pub item: String,
    pub auto: bool,
}

/// One playlist's playout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runtime {
    view: Playout,
    loading: Option<Loading>,
    epoch: u64,
}

/// What left the air in a transition: the item and when it started, for the as-run log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub item: String,
    pub since_ms: Option<u64>,
}

impl Runtime {
    /// From the state saved before a restart; a background is never trusted across a restart
    /// (reconciliation reads the server), and the invariants are re-established.
    pub fn restored(mut view: Playout) -> Runtime {
        if view.on_air.is_none() {
            view.status = Status::Stopped;
            view.on_air_since_ms = None;
        }
        if view.cued.is_none() {
            view.armed_auto = false;
        }
        Runtime {
            view,
            loading: None,
            epoch: 0,
        }
    }

    /// The wire view.
    pub fn view(&self) -> &Playout {
        &self.view
    }

    pub fn status(&self) -> Status {
        self.view.status
    }

    pub fn on_air(&self) -> Option<&str> {
        self.view.on_air.as_deref()
    }

    pub fn cued(&self) -> Option<&str> {
        self.view.cued.as_deref()
    }

    pub fn armed_auto(&self) -> bool {
        self.view.armed_auto
    }

    pub fn next(&self) -> Option<&str> {
        self.view.next.as_deref()
    }

    pub fn left_after(&self) -> Option<&str> {
        self.view.left_after.as_deref()
    }

    pub fn on_air_since_ms(&self) -> Option<u64> {
        self.view.on_air_since_ms
    }

    /// Changes whenever playout changes; see the module docs.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The background as it will be once the `LOADBG` on its way has landed.
    pub fn background_target(&self) -> (Option<&str>, bool) {
        match &self.loading {
            Some(l) => (Some(l.item.as_str()), l.auto),
            None => (self.cued(), self.armed_auto()),
        }
    }

    fn bump(&mut self) {
        self.epoch += 1;
    }

    /// `item` started on air at `at_ms` (take, AUTO, reconcile); the background was consumed or
    /// replaced. Returns what it replaced.
    pub fn went_on_air(&mut self, item: &str, next: Option<String>, at_ms: u64) -> Option<Ended> {
        let ended = self.take_off_air();
        self.view.status = Status::Playing;
        self.view.left_after = None;
        self.view.on_air = Some(item.to_owned());
        self.view.on_air_since_ms = Some(at_ms);
        self.view.cued = None;
        self.view.armed_auto = false;
        self.view.next = next;
        self.loading = None;
        self.bump();
        ended
    }

    /// A `LOADBG` of `item` (with AUTO or not) was sent and is on its way.
    pub fn loading(&mut self, item: &str, auto: bool) {
        self.loading = Some(Loading {
            item: item.to_owned(),
            auto,
        });
    }

    /// The server confirmed the background: `item` is cued, armed for autoplay when `auto`.
    pub fn cued_as(&mut self, item: &str, auto: bool) {
        self.view.cued = Some(item.to_owned());
        self.view.armed_auto = auto;
        self.view.next = Some(item.to_owned());
        if self.loading.as_ref().is_some_and(|l| l.item == item) {
            self.loading = None;
        }
        self.bump();
    }

    /// The `LOADBG` on its way failed: the background is what it was.
    pub fn load_failed(&mut self) {
        self.loading = None;
    }

    /// `skip`: the next take plays `after`; a cued background is forgotten (the next re-arm loads
    /// the right one).
    pub fn skip_to(&mut self, after: Option<String>) {
        self.view.next = after;
        self.view.cued = None;
        self.view.armed_auto = false;
        self.loading = None;
        self.bump();
    }

    /// STOP: nothing on air; the background stays loaded but AUTO no longer applies.
    pub fn stopped(&mut self) -> Option<Ended> {
        let ended = self.take_off_air();
        self.view.status = Status::Stopped;
        self.view.armed_auto = false;
        self.bump();
        ended
    }

    /// CLEAR: foreground and background both gone.
    pub fn cleared(&mut self) -> Option<Ended> {
        let ended = self.stopped();
        self.view.cued = None;
        self.loading = None;
        ended
    }

    /// PAUSE or RESUME of what is on air (nothing happens without an on-air item).
    pub fn set_paused(&mut self, paused: bool) {
        if self.view.on_air.is_some() {
            self.view.status = if paused {
                Status::Paused
            } else {
                Status::Playing
            };
            self.bump();
        }
    }

    /// The server no longer shows what we expect: wait for the operator. The on-air item stays
    /// recorded (it is what should be on air); the background is not trusted.
    pub fn hold(&mut self) {
        if self.view.on_air.is_some() {
            self.view.status = Status::Held;
        }
        self.view.cued = None;
        self.view.armed_auto = false;
        self.loading = None;
        self.bump();
    }

    /// The layer was emptied outside onair: the item is off air (as-run) and we hold.
    pub fn emptied(&mut self) -> Option<Ended> {
        let ended = self.take_off_air();
        self.view.status = Status::Held;
        self.view.cued = None;
        self.view.armed_auto = false;
        self.loading = None;
        self.bump();
        ended
    }

    /// Reconciliation found the on-air item still playing (or paused) and `bg` in the background.
    pub fn adopted(&mut self, paused: bool, bg: Option<String>, auto_waiting: bool) {
        self.view.status = if paused {
            Status::Paused
        } else {
            Status::Playing
        };
        self.view.armed_auto = bg.is_some() && auto_waiting;
        self.view.cued = bg;
        self.loading = None;
        self.bump();
    }

    /// The on-air item was played again from where it should be (recovery `resume`); its start
    /// time is kept.
    pub fn resumed(&mut self) {
        self.view.status = Status::Playing;
        self.view.cued = None;
        self.view.armed_auto = false;
        self.loading = None;
        self.bump();
    }

    /// Another playlist on the same layer went on air (the filler in a gap, the next day's rundown):
    /// nothing of this one is on air or in the background any more; `next` is where it resumes.
    pub fn replaced(&mut self, next: Option<String>) -> Option<Ended> {
        let ended = self.take_off_air();
        if let Some(e) = &ended {
            self.view.left_after = Some(e.item.clone());
        }
        self.view.status = Status::Stopped;
        self.view.cued = None;
        self.view.armed_auto = false;
        self.view.next = next;
        self.loading = None;
        self.bump();
        ended
    }

    /// The server lost its background (it came back empty).
    pub fn lost_background(&mut self) {
        self.view.cued = None;
        self.view.armed_auto = false;
        self.loading = None;
        self.bump();
    }

    fn take_off_air(&mut self) -> Option<Ended> {
        let since_ms = self.view.on_air_since_ms.take();
        self.view.on_air.take().map(|item| Ended { item, since_ms })
    }

    /// The invariants, checked by the tests after every transition.
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        let v = &self.view;
        if v.armed_auto && v.cued.is_none() {
            return Err("armed without a cued item".into());
        }
        if v.on_air.is_none() && v.status != Status::Stopped && v.status != Status::Held {
            return Err(format!("{:?} with nothing on air", v.status));
        }
        if v.on_air.is_none() && v.on_air_since_ms.is_some() {
            return Err("a start time without an on-air item".into());
        }
        Ok(())
    }
}

/// Where each playlist stood, from a saved playout state (the state file after a restart; in
/// cluster mode, the leader's from the journal); reconciliation checks it against the server.
pub fn restored_playout(
    state: Option<&crate::playout::store::PlayoutStateFile>,
) -> std::collections::BTreeMap<String, Playout> {
    let Some(state) = state else {
        return Default::default();
    };
    state
        .playlists
        .iter()
        .map(|(id, s)| {
            let status = if s.on_air.is_some() {
                Status::Playing
            } else {
                Status::Stopped
            };
            let playout = Playout {
                status,
                on_air: s.on_air.clone(),
                on_air_since_ms: s.on_air_since,
                next: s.cursor.clone(),
                left_after: s.left_after.clone(),
                ..Playout::default()
            };
            (id.clone(), playout)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Step = fn(&mut Runtime);
    /// A transition applied to [`playing`] and the state it must leave: status, on air, cued, armed.
    type Case = (
        &'static str,
        Step,
        Status,
        Option<&'static str>,
        Option<&'static str>,
        bool,
    );

    fn playing() -> Runtime {
        let mut r = Runtime::default();
        r.went_on_air("a", Some("b".into()), 1000);
        r.cued_as("b", true);
        r
    }

    #[test]
    fn transitions_keep_the_invariants_and_do_what_they_say() {
        let table: Vec<Case> = vec![
            // name, transition from `playing()`, status, on_air, cued, armed
            (
                "take",
                |r| drop(r.went_on_air("b", Some("c".into()), 2000)),
                Status::Playing,
                Some("b"),
                None,
                false,
            ),
            (
                "stop",
                |r| drop(r.stopped()),
                Status::Stopped,
                None,
                Some("b"),
                false,
            ),
            (
                "clear",
                |r| drop(r.cleared()),
                Status::Stopped,
                None,
                None,
                false,
            ),
            (
                "pause",
                |r| r.set_paused(true),
                Status::Paused,
                Some("a"),
                Some("b"),
                true,
            ),
            ("hold", Runtime::hold, Status::Held, Some("a"), None, false),
            (
                "emptied",
                |r| drop(r.emptied()),
                Status::Held,
                None,
                None,
                false,
            ),
            (
                "skip",
                |r| r.skip_to(Some("c".into())),
                Status::Playing,
                Some("a"),
                None,
                false,
            ),
            (
                "adopt",
                |r| r.adopted(false, Some("b".into()), false),
                Status::Playing,
                Some("a"),
                Some("b"),
                false,
            ),
            (
                "resume",
                Runtime::resumed,
                Status::Playing,
                Some("a"),
                None,
                false,
            ),
            (
                "lost bg",
                Runtime::lost_background,
                Status::Playing,
                Some("a"),
                None,
                false,
            ),
            (
                "re-cue",
                |r| r.cued_as("c", false),
                Status::Playing,
                Some("a"),
                Some("c"),
                false,
            ),
        ];
        for (name, step, status, on_air, cued, armed) in table {
            let mut r = playing();
            let before = r.epoch();
            step(&mut r);
            r.check().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (r.status(), r.on_air(), r.cued(), r.armed_auto()),
                (status, on_air, cued, armed),
                "{name}"
            );
            assert!(r.epoch() > before, "{name} changes the epoch");
        }
    }

    #[test]
    fn off_air_transitions_report_what_ended() {
        let mut r = playing();
        assert_eq!(
            r.stopped(),
            Some(Ended {
                item: "a".into(),
                since_ms: Some(1000)
            })
        );
        assert_eq!(r.stopped(), None, "nothing on air twice");
        assert_eq!(r.on_air_since_ms(), None);
    }

    #[test]
    fn a_background_on_its_way_is_the_target_until_confirmed_or_failed() {
        let mut r = playing();
        assert_eq!(r.background_target(), (Some("b"), true));
        r.loading("c", false);
        assert_eq!(r.background_target(), (Some("c"), false));
        assert_eq!(r.cued(), Some("b"), "not cued before the server says so");
        r.load_failed();
        assert_eq!(r.background_target(), (Some("b"), true));
        r.loading("c", true);
        r.cued_as("c", true);
        assert_eq!(r.background_target(), (Some("c"), true));
        r.check().unwrap();
    }

    #[test]
    fn restored_state_is_made_consistent() {
        let r = Runtime::restored(Playout {
            status: Status::Playing,
            on_air: None,
            on_air_since_ms: Some(5),
            cued: None,
            armed_auto: true,
            next: Some("x".into()),
            left_after: None,
        });
        r.check().unwrap();
        assert_eq!(r.status(), Status::Stopped);
        assert_eq!(r.next(), Some("x"));
    }
}
