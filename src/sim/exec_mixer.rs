//! The `MIXER` command: setters (with duration/tween/DEFER) and the query replies, applied to the
//! layer state (`super::mixer::MixerState`) that the model owns. Opacity changes are noted for the
//! take log ([`super::takes`]).

use super::mixer::MixerState;
use super::model::SimState;
use super::ptree::format_g17;
use super::request::SimRequest;
use super::takes::{OpacityChange, TakeHow, clip_name};

/// A failed MIXER command, as the command queue words it.
enum Fail {
    /// Missing positional value (`std::out_of_range`): 402.
    Missing,
    /// Unparsable value or tween: 403.
    Bad,
}

fn nums<const N: usize>(p: &[String]) -> Result<[f64; N], Fail> {
    let mut out = [0.0; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = p
            .get(i)
            .ok_or(Fail::Missing)?
            .parse()
            .map_err(|_| Fail::Bad)?;
    }
    // Optional `<duration> [<tween>]` after the values; the change is applied at once.
    if let Some(d) = p.get(N) {
        d.parse::<i64>().map_err(|_| Fail::Bad)?;
    }
    if let Some(t) = p.get(N + 1) {
        let t = t.to_ascii_lowercase();
        if t != "linear" && !t.starts_with("ease") {
            return Err(Fail::Bad);
        }
    }
    Ok(out)
}

fn six(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.6}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn flag(p: &[String]) -> Result<bool, Fail> {
    let v: i64 = p
        .first()
        .ok_or(Fail::Missing)?
        .parse()
        .map_err(|_| Fail::Bad)?;
    Ok(v == 1)
}

/// Executes any `MIXER <X>` request on its channel.
pub fn execute(state: &mut SimState, req: &SimRequest) -> String {
    let name = req.name;
    let sub = name.strip_prefix("MIXER ").unwrap_or(name);
    let ch = usize::from(req.channel.unwrap_or(1).saturating_sub(1));
    let Some(channel) = state.channels.get_mut(ch) else {
        return format!("401 {name} ERROR\r\n");
    };
    let mut params = req.params.clone();
    let defer = params
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("DEFER"));
    if defer {
        params.pop();
    }
    let layer = req.layer.unwrap_or(0);
    let query = params.is_empty();
    let current = channel.mixer.get(&layer).cloned().unwrap_or_default();
    let ok = |v: String| format!("201 MIXER OK\r\n{v}\r\n");
    if query {
        let value = match sub {
            "KEYER" => u8::from(current.keyer).to_string(),
            "INVERT" => u8::from(current.invert).to_string(),
            "CHROMA" => current
                .chroma
                .iter()
                .map(|v| format_g17(*v))
                .collect::<Vec<_>>()
                .join(" "),
            "BLEND" => current.blend.clone(),
            "OPACITY" => format_g17(current.opacity),
            "BRIGHTNESS" => format_g17(current.brightness),
            "SATURATION" => format_g17(current.saturation),
            "CONTRAST" => format_g17(current.contrast),
            "LEVELS" => six(&current.levels),
            "FILL" => six(&current.fill),
            "CLIP" => six(&current.clip),
            "ANCHOR" => six(&current.anchor),
            "CROP" => six(&current.crop),
            "ROTATION" => format_g17(current.rotation),
            "PERSPECTIVE" => six(&current.perspective),
            "VOLUME" => format_g17(current.volume),
            "MASTERVOLUME" => format_g17(channel.master_volume),
            "COMMIT" => return commit(state, ch),
            "CLEAR" => {
                let removed: Vec<(i32, MixerState)> = match req.layer {
                    Some(l) => channel
                        .mixer
                        .remove(&l)
                        .map(|t| (l, t))
                        .into_iter()
                        .collect(),
                    None => {
                        channel.master_volume = 1.0;
                        std::mem::take(&mut channel.mixer).into_iter().collect()
                    }
                };
                // Back to opaque: a graphic faded out reappears.
                let reset = removed.into_iter().filter(|(_, t)| t.opacity != 1.0);
                for (l, _) in reset {
                    note_opacity(state, ch, l, 1.0, 0);
                }
                return "202 MIXER OK\r\n".into();
            }
            _ => return format!("402 {name} FAILED\r\n"),
        };
        return ok(value);
    }
    // Deferred setters build on the changes already waiting for this layer.
    let waiting = channel
        .deferred
        .iter()
        .rev()
        .find(|(l, _)| *l == layer)
        .map(|(_, t)| t.clone());
    let mut next = if defer {
        waiting.unwrap_or(current)
    } else {
        current
    };
    let result: Result<(), Fail> = (|| {
        match sub {
            "KEYER" => next.keyer = flag(&params)?,
            "INVERT" => next.invert = flag(&params)?,
            "CHROMA" => {
                let first = params
                    .first()
                    .map(|p| p.to_ascii_lowercase())
                    .unwrap_or_default();
                next.chroma = if first == "0" || first == "none" {
                    [0.0; 9]
                } else {
                    nums::<9>(&params)?
                };
            }
            "BLEND" => {
                next.blend = params
                    .first()
                    .map(|b| b.to_ascii_lowercase())
                    .unwrap_or_default()
            }
            "OPACITY" => next.opacity = nums::<1>(&params)?[0],
            "BRIGHTNESS" => next.brightness = nums::<1>(&params)?[0],
            "SATURATION" => next.saturation = nums::<1>(&params)?[0],
            "CONTRAST" => next.contrast = nums::<1>(&params)?[0],
            "LEVELS" => next.levels = nums(&params)?,
            "FILL" => next.fill = nums(&params)?,
            "CLIP" => next.clip = nums(&params)?,
            "ANCHOR" => next.anchor = nums(&params)?,
            "CROP" => next.crop = nums(&params)?,
            "ROTATION" => next.rotation = nums::<1>(&params)?[0],
            "PERSPECTIVE" => next.perspective = nums(&params)?,
            "VOLUME" => next.volume = nums::<1>(&params)?[0],
            "MASTERVOLUME" => channel.master_volume = nums::<1>(&params)?[0],
            "GRID" => {
                let n: i32 = params
                    .first()
                    .ok_or(Fail::Missing)?
                    .parse()
                    .map_err(|_| Fail::Bad)?;
                if !(1..=16).contains(&n) {
                    return Err(Fail::Bad);
                }
                let step = 1.0 / f64::from(n);
                for i in 0..n * n {
                    let (x, y) = (f64::from(i % n) * step, f64::from(i / n) * step);
                    let t = channel.mixer.entry(i + 1).or_default();
                    t.fill = [x, y, step, step];
                    t.clip = [x, y, step, step];
                }
                return Ok(());
            }
            "COMMIT" | "CLEAR" => {}
            _ => return Err(Fail::Missing),
        }
        Ok(())
    })();
    match result {
        Err(Fail::Missing) => format!("402 {name} FAILED\r\n"),
        Err(Fail::Bad) => format!("403 {name} FAILED\r\n"),
        Ok(()) if sub == "COMMIT" => commit(state, ch),
        Ok(()) if sub == "CLEAR" => {
            channel.mixer.remove(&layer);
            "202 MIXER OK\r\n".into()
        }
        Ok(()) => {
            // An opacity change is a take of its own: when a graphic fades in or out.
            let fade = (sub == "OPACITY").then(|| OpacityChange {
                opacity: next.opacity,
                frames: tween_frames(&params, 1),
            });
            if matches!(sub, "MASTERVOLUME" | "GRID") {
            } else if defer {
                channel.deferred.push((layer, next));
                if let Some(f) = fade {
                    channel.deferred_opacity.push((layer, f));
                }
            } else {
                channel.mixer.insert(layer, next);
                if let Some(f) = fade {
                    note_opacity(state, ch, layer, f.opacity, f.frames);
                }
            }
            "202 MIXER OK\r\n".into()
        }
    }
}

/// The `<duration>` after `n` values, in frames (validated by [`nums`]; 0 when absent).
fn tween_frames(params: &[String], n: usize) -> u32 {
    params
        .get(n)
        .and_then(|d| d.parse::<i64>().ok())
        .map_or(0, |d| u32::try_from(d.max(0)).unwrap_or(u32::MAX))
}

/// Notes an opacity take on layer `layer`, about what the layer shows.
fn note_opacity(state: &mut SimState, ch: usize, layer: i32, opacity: f64, frames: u32) {
    let clip = state
        .layer(ch, layer)
        .map_or_else(|| "empty".to_string(), |l| clip_name(&l.foreground));
    let change = OpacityChange { opacity, frames };
    state.note_event(ch, layer, clip, TakeHow::Opacity, Some(change));
}

/// `MIXER n COMMIT`: applies every deferred change of the channel.
fn commit(state: &mut SimState, ch: usize) -> String {
    let mut fades = Vec::new();
    if let Some(channel) = state.channels.get_mut(ch) {
        for (layer, t) in std::mem::take(&mut channel.deferred) {
            channel.mixer.insert(layer, t);
        }
        fades = std::mem::take(&mut channel.deferred_opacity);
    }
    for (layer, f) in fades {
        note_opacity(state, ch, layer, f.opacity, f.frames);
    }
    "202 MIXER OK\r\n".into()
}
