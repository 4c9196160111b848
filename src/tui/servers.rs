//! The station's CasparCG servers (a main and its backup, issue 17) in the console's words: what
//! each side is doing (`lead`, `in step`, the note that says why it is not, `down: …`), its drift
//! (`drift +1f`), the clips it lacks (`2 clips missing on backup`), and the log lines for a change
//! (`CasparCG backup down: connection refused`).
//!
//! The status bar, the servers dialog and the log use these words, and the web page uses the same
//! ones (assets/servers.js), so an operator reads one vocabulary, the one of docs/console.md and
//! docs/operations.md, "Main and backup servers".

use crate::playout::model::escape_hidden;
use crate::protocol::{LinkView, ServerRole, ServerView};

use super::model::Level;
use super::text::sanitize;

/// Beyond this many frames of drift the console shows it as a warning. It is the daemon's default
/// `playout.max_drift_frames`; the snapshot does not carry the configured limit, and a station
/// that set another one still gets the daemon's `drift` alarm at its own limit.
pub const DRIFT_WARN_FRAMES: i64 = 2;

/// Missing clips named in one log line at most; the servers dialog lists more.
const NAMED_IN_LOG: usize = 5;

/// Whether the station has a main/backup pair, so each side is shown; a single server is shown
/// as before pairs existed (the status bar's `CasparCG …`).
pub fn is_pair(link: &LinkView) -> bool {
    link.servers.len() > 1
}

/// What a side is doing, from worst to best: each has its colour and mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not connected (`◌`, red).
    Down,
    /// Connected but not playing what the station plays (`◐`, yellow).
    OutOfStep,
    /// Connected and in step (`●`, green).
    InStep,
}

pub fn health(s: &ServerView) -> Health {
    if !s.connected {
        Health::Down
    } else if s.in_step {
        Health::InStep
    } else {
        Health::OutOfStep
    }
}

/// The mark before a side's status, the same shapes as the daemon link's (`●`, `◐`, `◌`).
pub fn mark(h: Health) -> &'static str {
    match h {
        Health::Down => "◌",
        Health::OutOfStep => "◐",
        Health::InStep => "●",
    }
}

/// Text from the daemon as shown: control characters replaced, invisible ones named.
pub fn shown(text: &str) -> String {
    escape_hidden(&sanitize(text)).into_owned()
}

pub fn role_name(role: ServerRole) -> &'static str {
    match role {
        ServerRole::Main => "main",
        ServerRole::Backup => "backup",
    }
}

/// The side's name, with its role when the name does not say it (`caspar-b (backup)`) and there
/// is room for it.
pub fn label(s: &ServerView, with_role: bool) -> String {
    let name = shown(&s.name);
    let role = role_name(s.role);
    if with_role && name != role {
        format!("{name} ({role})")
    } else {
        name
    }
}

/// What the side is doing in a few words: `lead` for the side the daemon follows, `in step`, the
/// daemon's note when it is out of step (`being brought to the other side's state`, `PLAY failed:
/// 404 …`), or its link state when it is down (`down: connection refused`).
pub fn status(s: &ServerView) -> String {
    match health(s) {
        Health::Down if s.state.is_empty() => "down".into(),
        Health::Down => shown(&s.state),
        Health::OutOfStep => s
            .note
            .as_deref()
            .map_or_else(|| "out of step".into(), shown),
        Health::InStep if s.lead => "lead".into(),
        Health::InStep => "in step".into(),
    }
}

/// `drift +1f`, or `+1f` where room is short.
pub fn drift(frames: i64, short: bool) -> String {
    if short {
        format!("{frames:+}f")
    } else {
        format!("drift {frames:+}f")
    }
}

/// Whether a drift is worth the operator's attention (see [`DRIFT_WARN_FRAMES`]).
pub fn drift_is_high(frames: i64) -> bool {
    frames.abs() > DRIFT_WARN_FRAMES
}

/// `caught up in 212 ms` (or `in 1.4 s`): how long the side's last catch-up took.
pub fn caught_up(ms: u64) -> String {
    if ms < 1000 {
        format!("caught up in {ms} ms")
    } else {
        format!("caught up in {:.1} s", ms as f64 / 1000.0)
    }
}

/// `2 clips missing on backup` (`2 missing on backup` where room is short); `None` when the side
/// has every clip the rundowns use.
pub fn missing(s: &ServerView, short: bool) -> Option<String> {
    let n = s.missing.len();
    if n == 0 {
        return None;
    }
    let name = shown(&s.name);
    Some(if short {
        format!("{n} missing on {name}")
    } else {
        format!(
            "{n} clip{} missing on {name}",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// `CLIP2, NEWS/OPENER` and, past `max` names, `and 3 more`.
pub fn clip_list(clips: &[String], max: usize) -> String {
    let mut names: Vec<String> = clips.iter().take(max).map(|c| shown(c)).collect();
    if clips.len() > max {
        names.push(format!("and {} more", clips.len() - max));
    }
    names.join(", ")
}

/// The log lines for a `link` event of a pair: which side connected, went down, fell out of step
/// or came back in step (with its catch-up time), which one the daemon follows now, and which clips
/// a side lacks. Sides are matched by name. Drift is not logged: it changes every second, and
/// beyond the limit the daemon raises a `drift` alarm, which the log shows.
pub fn changes(before: &[ServerView], after: &[ServerView]) -> Vec<(Level, String)> {
    let mut out = Vec::new();
    let any_up = after.iter().any(|s| s.connected);
    for s in after {
        let name = shown(&s.name);
        let old = before.iter().find(|b| b.name == s.name);
        let was_up = old.is_some_and(|b| b.connected);
        let was_in_step = old.is_some_and(|b| b.connected && b.in_step);
        if s.connected && !was_up {
            let version = s
                .server_version
                .as_deref()
                .map_or_else(String::new, |v| format!(" ({})", shown(v)));
            let mut line = format!("CasparCG {name} connected{version}");
            if !s.in_step {
                line.push_str(&format!(", {}", status(s)));
            }
            out.push((Level::Info, line));
        } else if !s.connected && (was_up || old.is_none()) {
            let reason = s.state.strip_prefix("down: ").unwrap_or(&s.state);
            // With the other side up, playout goes on there: a warning, as the daemon's alarm.
            let level = if any_up { Level::Warn } else { Level::Error };
            out.push((level, format!("CasparCG {name} down: {}", shown(reason))));
        } else if s.connected && s.in_step && !was_in_step {
            let took = s
                .resync_ms
                .map_or_else(String::new, |ms| format!(" ({})", caught_up(ms)));
            out.push((Level::Info, format!("CasparCG {name} in step{took}")));
        } else if s.connected && !s.in_step && old.is_some_and(|b| b.note != s.note || b.in_step) {
            out.push((
                Level::Warn,
                format!("CasparCG {name} out of step: {}", status(s)),
            ));
        }
        if s.lead && s.connected && old.is_some_and(|b| !b.lead) {
            out.push((
                Level::Info,
                format!("CasparCG {name} leads: the daemon follows its telemetry"),
            ));
        }
        let old_missing = old.map_or(&[][..], |b| b.missing.as_slice());
        if s.missing != old_missing {
            out.push(if s.missing.is_empty() {
                (Level::Info, format!("CasparCG {name} has every clip again"))
            } else {
                let n = s.missing.len();
                (
                    Level::Warn,
                    format!(
                        "CasparCG {name} lacks {n} clip{}: {}",
                        if n == 1 { "" } else { "s" },
                        clip_list(&s.missing, NAMED_IN_LOG)
                    ),
                )
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures;

    fn texts(lines: &[(Level, String)]) -> Vec<&str> {
        lines.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn each_side_says_what_it_does_in_one_word_or_the_daemons_note() {
        let [main, backup] = fixtures::pair();
        assert_eq!(status(&main), "lead");
        assert_eq!(status(&backup), "in step");
        let [_, down] = fixtures::pair_backup_down();
        assert_eq!(status(&down), "down: connection refused");
        assert_eq!(health(&down), Health::Down);
        let [_, out] = fixtures::pair_backup_out_of_step();
        assert_eq!(status(&out), "PLAY failed: 404 PLAY FAILED");
        assert_eq!(mark(health(&out)), "◐");
        let mut bare = out.clone();
        bare.note = None;
        assert_eq!(status(&bare), "out of step");
        assert_eq!(label(&out, true), "backup");
        bare.name = "caspar-b".into();
        assert_eq!(label(&bare, true), "caspar-b (backup)");
        assert_eq!(label(&bare, false), "caspar-b");
    }

    #[test]
    fn drift_missing_and_catch_up_in_words() {
        assert_eq!(drift(1, false), "drift +1f");
        assert_eq!(drift(-3, true), "-3f");
        assert_eq!(drift(0, false), "drift +0f");
        assert!(!drift_is_high(2) && !drift_is_high(-2));
        assert!(drift_is_high(3) && drift_is_high(-3));
        assert_eq!(caught_up(212), "caught up in 212 ms");
        assert_eq!(caught_up(1450), "caught up in 1.4 s");
        let [_, out] = fixtures::pair_backup_out_of_step();
        assert_eq!(
            missing(&out, false).as_deref(),
            Some("2 clips missing on backup")
        );
        assert_eq!(missing(&out, true).as_deref(), Some("2 missing on backup"));
        let mut one = out.clone();
        one.missing.truncate(1);
        assert_eq!(
            missing(&one, false).as_deref(),
            Some("1 clip missing on backup")
        );
        one.missing.clear();
        assert_eq!(missing(&one, false), None);
        let many: Vec<String> = (0..8).map(|k| format!("C{k}")).collect();
        assert_eq!(clip_list(&many, 3), "C0, C1, C2, and 5 more");
    }

    #[test]
    fn a_side_going_down_and_coming_back_is_logged_by_name() {
        let pair = fixtures::pair();
        let down = fixtures::pair_backup_down();
        let lines = changes(&pair, &down);
        assert_eq!(texts(&lines), ["CasparCG backup down: connection refused"]);
        assert_eq!(lines[0].0, Level::Warn, "the main plays on");

        let mut back = pair.clone();
        back[1].in_step = false;
        back[1].note = Some("being brought to the other side's state".into());
        back[1].resync_ms = None;
        assert_eq!(
            texts(&changes(&down, &back)),
            [
                "CasparCG backup connected (2.4.3 fd9168c73 Stable), being brought to the other side's state"
            ]
        );
        assert_eq!(
            texts(&changes(&back, &pair)),
            ["CasparCG backup in step (caught up in 212 ms)"]
        );
        assert!(changes(&pair, &pair).is_empty(), "nothing changed");
    }

    #[test]
    fn the_last_side_down_is_an_error_and_the_lead_moving_is_said() {
        let pair = fixtures::pair();
        let mut main_down = pair.clone();
        main_down[0].connected = false;
        main_down[0].in_step = false;
        main_down[0].lead = false;
        main_down[0].state = "connecting (attempt 2)".into();
        main_down[1].lead = true;
        let lines = changes(&pair, &main_down);
        assert_eq!(
            texts(&lines),
            [
                "CasparCG main down: connecting (attempt 2)",
                "CasparCG backup leads: the daemon follows its telemetry",
            ]
        );
        assert_eq!(lines[0].0, Level::Warn);
        let mut both = main_down.clone();
        both[1].connected = false;
        both[1].in_step = false;
        both[1].state = "down: timed out".into();
        let lines = changes(&main_down, &both);
        assert_eq!(texts(&lines), ["CasparCG backup down: timed out"]);
        assert_eq!(lines[0].0, Level::Error, "nothing plays any more");
    }

    #[test]
    fn out_of_step_and_missing_clips_name_the_command_and_the_clips() {
        let pair = fixtures::pair();
        let out = fixtures::pair_backup_out_of_step();
        let lines = changes(&pair, &out);
        assert_eq!(
            texts(&lines),
            [
                "CasparCG backup out of step: PLAY failed: 404 PLAY FAILED",
                "CasparCG backup lacks 2 clips: CLIP2, NEWS/OPENER",
            ]
        );
        assert!(lines.iter().all(|(l, _)| *l == Level::Warn));
        let mut fixed = out.clone();
        fixed[1].missing.clear();
        assert_eq!(
            texts(&changes(&out, &fixed)),
            ["CasparCG backup has every clip again"]
        );
    }

    #[test]
    fn a_link_event_logs_the_side_that_changed_and_one_server_keeps_its_words() {
        use crate::protocol::{Event, EventKind, ServerMsg};
        use crate::tui::client::NetEvent;
        use crate::tui::message::Message;
        use crate::tui::model::Model;
        use crate::tui::update::update;
        let link_event = |m: &mut Model, link: LinkView| {
            let event = Event {
                seq: m.seq + 1,
                kind: EventKind::Link { link },
            };
            let msg = ServerMsg::Event(Box::new(event));
            update(m, Message::Net(NetEvent::Server(Box::new(msg))));
            m.log.lines.back().map(|l| (l.level, l.text.clone()))
        };
        let mut m = fixtures::model_of(80, 24, fixtures::snapshot_with(6, fixtures::pair()));
        let mut link = m.state.link.clone();
        link.servers = fixtures::pair_backup_down().into();
        assert_eq!(
            link_event(&mut m, link),
            Some((
                Level::Warn,
                "CasparCG backup down: connection refused".into()
            ))
        );

        let mut m = fixtures::live_model(80, 24, 6);
        let mut link = m.state.link.clone();
        link.connected = false;
        link.state = "down: connection refused".into();
        assert_eq!(
            link_event(&mut m, link),
            Some((
                Level::Error,
                "CasparCG link down: connection refused".into()
            ))
        );
    }
}
