//! Operator actions as AMCP (docs/amcp-notes.md §4.5), and the rundown arithmetic they need.
//!
//! The rules that matter on air: `LOADBG … AUTO` only arms behind a clip with a known length (a looping
//! foreground never ends, so AUTO would never fire); `PLAY n-l` without a clip promotes the background
//! through its transition; `STOP` keeps the background, `CLEAR` empties the layer. None of these are ever
//! sent by the engine on its own account during shutdown, restart or reconnect.

use crate::amcp::{ChannelLayer, Clip, Command};
use crate::playout::model::{Item, Playlist};

/// The AMCP clip parameters of an item. In/out points become `SEEK`/`LENGTH` so that the server's AUTO
/// arithmetic (which compares the clip length with the frame number) stays correct.
pub fn clip_of(item: &Item, auto: bool) -> Clip {
    let length = match (item.in_point, item.out_point) {
        (Some(i), Some(o)) => o.checked_sub(i),
        (None, Some(o)) => Some(o),
        _ => None,
    };
    Clip {
        name: item.clip.clone(),
        looping: item.looping,
        seek: item.in_point.filter(|s| *s > 0),
        in_point: None,
        out_point: None,
        length,
        transition: item.transition.to_amcp(),
        auto,
        clear_on_404: false,
    }
}

/// `LOADBG` of an item, armed with AUTO when asked.
pub fn loadbg(cl: ChannelLayer, item: &Item, auto: bool) -> Command {
    Command::LoadBg(cl, clip_of(item, auto))
}

/// `PLAY` of an item, optionally starting `seek` channel frames after its in point.
pub fn play(cl: ChannelLayer, item: &Item, seek: Option<u64>) -> Command {
    let mut clip = clip_of(item, false);
    if let Some(extra) = seek {
        clip.seek = Some(item.in_point.unwrap_or(0) + extra);
        clip.length = clip.length.map(|l| l.saturating_sub(extra));
        // A resumed item must not replay its transition from black.
        clip.transition = None;
    }
    Command::Play(cl, Some(clip))
}

/// The item after `current` (or the first), honouring the playlist's loop flag.
pub fn next_after(playlist: &Playlist, current: Option<&str>) -> Option<String> {
    let items = &playlist.items;
    let next = match current.and_then(|c| playlist.index_of(c)) {
        None => 0,
        Some(i) => i + 1,
    };
    match items.get(next) {
        Some(it) => Some(it.id.clone()),
        None if playlist.looping => items.front().map(|it| it.id.clone()),
        None => None,
    }
}

/// The item before `current`, honouring the loop flag.
pub fn previous_before(playlist: &Playlist, current: Option<&str>) -> Option<String> {
    let items = &playlist.items;
    let i = current.and_then(|c| playlist.index_of(c))?;
    match i.checked_sub(1) {
        Some(p) => items.get(p).map(|it| it.id.clone()),
        None if playlist.looping => items.back().map(|it| it.id.clone()),
        None => None,
    }
}

/// Duration of an item in seconds, when its clip length is known.
pub fn item_seconds(item: &Item) -> Option<f64> {
    let frames = item.frames?;
    let (num, den) = item.fps?;
    if num == 0 || den == 0 {
        return None;
    }
    let full = frames as f64 * f64::from(den) / f64::from(num);
    // In/out points are channel frames; without the channel rate here, approximate with the clip's.
    let fps = f64::from(num) / f64::from(den);
    let start = item.in_point.map_or(0.0, |i| i as f64 / fps);
    let end = item.out_point.map_or(full, |o| (o as f64 / fps).min(full));
    Some((end - start).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amcp::TransitionKind;
    use crate::playout::model::Transition;

    fn item(id: &str) -> Item {
        Item::new(id.into(), "CLIP1")
    }

    #[test]
    fn loadbg_carries_transition_and_auto() {
        let mut it = item("a");
        it.transition = Transition {
            kind: TransitionKind::Mix,
            frames: 12,
            tween: None,
        };
        it.in_point = Some(25);
        it.out_point = Some(125);
        let cl = "1-10".parse().unwrap();
        assert_eq!(
            loadbg(cl, &it, true).encode().unwrap(),
            r#"LOADBG 1-10 "CLIP1" SEEK 25 LENGTH 100 MIX 12 AUTO"#
        );
        assert_eq!(
            play(cl, &it, Some(50)).encode().unwrap(),
            r#"PLAY 1-10 "CLIP1" SEEK 75 LENGTH 50"#
        );
    }

    #[test]
    fn next_and_previous_respect_loop() {
        let mut p = Playlist::new("p", "p", "1-10".parse().unwrap());
        p.items = [item("a").into(), item("b").into()].into_iter().collect();
        assert_eq!(next_after(&p, None).as_deref(), Some("a"));
        assert_eq!(next_after(&p, Some("a")).as_deref(), Some("b"));
        assert_eq!(next_after(&p, Some("b")), None);
        assert_eq!(previous_before(&p, Some("a")), None);
        p.looping = true;
        assert_eq!(next_after(&p, Some("b")).as_deref(), Some("a"));
        assert_eq!(previous_before(&p, Some("a")).as_deref(), Some("b"));
    }

    #[test]
    fn seconds_from_clip_rate() {
        let mut it = item("a");
        it.frames = Some(500);
        it.fps = Some((50, 1));
        assert_eq!(item_seconds(&it), Some(10.0));
        it.fps = Some((30000, 1001));
        it.frames = Some(300);
        assert!((item_seconds(&it).unwrap() - 10.01).abs() < 1e-9);
    }
}
