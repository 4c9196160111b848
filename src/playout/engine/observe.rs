//! What is on a layer, as CasparCG reports it (INFO XML or OSC), and how to read an AUTO switch from it.
//!
//! CasparCG sends no notification when `LOADBG … AUTO` promotes the background (docs/amcp-notes.md §5): the
//! switch is inferred from the layer state. A switch to the armed item is recognised when the
//! background slot has emptied and the foreground plays the armed clip; because the same clip may follow
//! itself, a foreground whose elapsed time went backwards also counts.

use crate::amcp::body::{ChannelState, ProducerState};
use crate::amcp::format::VideoFormat;

/// One layer at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerObs {
    /// Foreground clip name as the server reports it (the name given in the command).
    pub fg_clip: Option<String>,
    /// Whether the foreground has a producer at all.
    pub fg_present: bool,
    pub paused: bool,
    /// Elapsed seconds in the clip (from its in point) and the clip's length in seconds.
    pub elapsed: Option<f64>,
    pub length: Option<f64>,
    /// Background clip, when something waits there.
    pub bg_clip: Option<String>,
    pub frames_left: Option<u64>,
}

/// A channel's frame rate (frames per second as a fraction) and its layers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelObs {
    pub frame_rate: Option<(u32, u32)>,
    pub layers: std::collections::BTreeMap<i32, LayerObs>,
}

fn producer_present(p: &ProducerState) -> bool {
    !p.is_empty() && p.producer != "empty"
}

/// Reads the INFO channel document.
pub fn from_info(state: &ChannelState) -> ChannelObs {
    // INFO reports the field rate for interlaced formats; the format name gives the frame rate.
    let frame_rate = state
        .format
        .as_deref()
        .and_then(VideoFormat::parse)
        .map(|f| (f.fps_num, f.fps_den))
        .or(state.framerate);
    let layers = state
        .layers
        .iter()
        .map(|(l, s)| {
            let fg = &s.foreground;
            let (elapsed, length) = match (fg.time, fg.clip) {
                (Some((t, _)), Some((start, len))) if len > 0.0 => {
                    (Some((t - start).max(0.0)), Some(len))
                }
                (Some((t, total)), _) => (Some(t), Some(total)),
                _ => (None, None),
            };
            let obs = LayerObs {
                fg_clip: fg.file_name.clone().filter(|_| producer_present(fg)),
                fg_present: producer_present(fg),
                paused: fg.paused.unwrap_or(false),
                elapsed,
                length,
                bg_clip: s
                    .background
                    .file_name
                    .clone()
                    .filter(|_| producer_present(&s.background)),
                frames_left: fg.frames_left,
            };
            (*l, obs)
        })
        .collect();
    ChannelObs { frame_rate, layers }
}

/// Reads one channel of the OSC telemetry.
pub fn from_osc(ch: &crate::caspar::osc::ChannelTelemetry) -> ChannelObs {
    // OSC reports the field rate for interlaced formats too; the format name gives the frame rate.
    let frame_rate = ch
        .format
        .as_deref()
        .and_then(VideoFormat::parse)
        .map(|f| (f.fps_num, f.fps_den))
        .or_else(|| {
            ch.framerate
                .and_then(|(n, d)| Some((u32::try_from(n).ok()?, u32::try_from(d).ok()?)))
        });
    let layers = ch
        .layers
        .iter()
        .map(|(l, t)| {
            let fg = &t.foreground;
            let (elapsed, length) = match t.clip_progress() {
                Some((e, len)) => (Some(e), Some(len)),
                None => (t.elapsed_secs(), fg.time.map(|(_, total)| total)),
            };
            let bg_present = t
                .background_producer
                .as_deref()
                .is_some_and(|p| p != "empty");
            let obs = LayerObs {
                fg_clip: t.on_air_file().map(str::to_owned),
                fg_present: fg.producer.as_deref().is_some_and(|p| p != "empty"),
                paused: fg.paused.unwrap_or(false),
                elapsed,
                length,
                bg_clip: t
                    .background_file
                    .as_deref()
                    .filter(|_| bg_present)
                    .map(str::to_owned),
                frames_left: t.frames_left.and_then(|f| u64::try_from(f).ok()),
            };
            (*l, obs)
        })
        .collect();
    ChannelObs { frame_rate, layers }
}

/// Whether `clip` names the same media as `name` (CasparCG matches case-insensitively).
pub fn same_clip(name: Option<&str>, clip: &str) -> bool {
    name.is_some_and(|n| n.eq_ignore_ascii_case(clip))
}

/// Whether the layer shows the armed clip in front and nothing behind it: the promotion, when the
/// reading is known to come after the background was loaded (else see [`switched_to`]).
pub fn promoted(obs: &LayerObs, armed_clip: &str) -> bool {
    obs.bg_clip.is_none() && same_clip(obs.fg_clip.as_deref(), armed_clip)
}

/// Whether the layer shows that the armed clip has been promoted. `previous` is the observation
/// before this one: if it showed the armed clip waiting in the background, an emptied background with
/// that clip in the foreground is the promotion even when the same clip follows itself.
pub fn switched_to(
    obs: &LayerObs,
    armed_clip: &str,
    on_air_clip: Option<&str>,
    previous: Option<&LayerObs>,
) -> bool {
    if !promoted(obs, armed_clip) {
        return false;
    }
    let was_waiting = previous.is_some_and(|p| same_clip(p.bg_clip.as_deref(), armed_clip));
    let last_elapsed = previous.and_then(|p| p.elapsed);
    let different_clip = !on_air_clip.is_some_and(|c| c.eq_ignore_ascii_case(armed_clip));
    let restarted = match (obs.elapsed, last_elapsed) {
        (Some(now), Some(before)) => now + 0.001 < before,
        _ => false,
    };
    different_clip || restarted || was_waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(fg: &str, bg: Option<&str>, elapsed: f64) -> LayerObs {
        LayerObs {
            fg_clip: Some(fg.into()),
            fg_present: true,
            elapsed: Some(elapsed),
            length: Some(10.0),
            bg_clip: bg.map(str::to_owned),
            ..LayerObs::default()
        }
    }

    #[test]
    fn switch_detection() {
        // Still waiting in the background.
        let before = |e: f64, bg: Option<&str>| obs("A", bg, e);
        assert!(!switched_to(
            &obs("A", Some("B"), 9.0),
            "B",
            Some("A"),
            Some(&before(8.0, Some("B")))
        ));
        // Promoted: background empty, foreground is the armed clip.
        assert!(switched_to(
            &obs("B", None, 0.1),
            "b",
            Some("A"),
            Some(&before(9.9, Some("B")))
        ));
        // Same clip twice: a restart of the elapsed time, or the background seen waiting, proves it.
        assert!(!switched_to(
            &obs("A", None, 9.5),
            "A",
            Some("A"),
            Some(&before(9.4, None))
        ));
        assert!(switched_to(
            &obs("A", None, 0.2),
            "A",
            Some("A"),
            Some(&before(9.9, None))
        ));
        assert!(switched_to(
            &obs("A", None, 1.5),
            "A",
            Some("A"),
            Some(&before(0.0, Some("A")))
        ));
    }

    #[test]
    fn reads_the_recorded_info_document() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <format>640x360p2500</format>\n   <framerate>25</framerate>\n   <framerate>1</framerate>\n   <stage>\n      <layer>\n         <layer_10>\n            <background>\n               <file>\n                  <name>CLIP2</name>\n               </file>\n               <producer>transition</producer>\n            </background>\n            <foreground>\n               <file>\n                  <clip>0</clip>\n                  <clip>10</clip>\n                  <name>CLIP1</name>\n                  <time>0.88</time>\n                  <time>10</time>\n               </file>\n               <frames_left>229</frames_left>\n               <paused>false</paused>\n               <producer>ffmpeg</producer>\n            </foreground>\n         </layer_10>\n      </layer>\n   </stage>\n</channel>\n";
        let state = crate::amcp::body::parse_info_xml(xml).unwrap();
        let ch = from_info(&state);
        assert_eq!(ch.frame_rate, Some((25, 1)));
        let l = &ch.layers[&10];
        assert_eq!(l.fg_clip.as_deref(), Some("CLIP1"));
        assert_eq!(l.bg_clip.as_deref(), Some("CLIP2"));
        assert_eq!(
            (l.elapsed, l.length, l.frames_left),
            (Some(0.88), Some(10.0), Some(229))
        );
    }
}
