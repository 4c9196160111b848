//! `CG` as the 2.3–2.5 server runs it with the html producer, and the template instances tests read
//! back (docs/simulator.md, "CG and templates"; docs/amcp-notes.md §4.8).
//!
//! What the server's code does, and so the simulator:
//! - The html producer is not reusable: every `CG ADD` creates a new page and loads and plays it in
//!   the layer, replacing whatever it showed (another template included) and its background.
//! - The html cg proxy ignores the cg-layer: `CG PLAY/STOP/NEXT/UPDATE/REMOVE` act on the layer's
//!   page whatever number they name. The number is still parsed, with `std::stoi`.
//! - Without an html producer in the layer's foreground the proxy is the empty one: `CG PLAY`
//!   answers `202` and does nothing, the other calls fail with `403`.
//! - `CG REMOVE` calls the page's `remove()`, which closes it: the layer keeps an html producer that
//!   shows and publishes nothing.
//! - `CG INFO` is no command since 2.2 (the parser answers `400 ERROR`, never reaching this module).
//!
//! Each call that reaches a page is noted for the take log (`CgAdd`, `CgPlay`, …).

use super::model::SimState;
use super::producer::{CgItem, Producer, TemplateHost};
use super::request::SimRequest;
use super::takes::TakeHow;

/// `cg_proxy::DEFAULT_LAYER`: CG commands without a layer act on 9999.
pub const CG_DEFAULT_LAYER: i32 = 9999;

/// `std::out_of_range` (a missing parameter or character, a number beyond `int`).
const MISSING: u16 = 402;
/// `expected_user_error`: no template host on the layer.
const NO_HOST: u16 = 403;
/// `file_not_found`: no such template.
const NOT_FOUND: u16 = 404;
/// Anything else, such as `std::invalid_argument` from `std::stoi`.
const OTHER: u16 = 501;

/// Executes `CG <SUB>`: success is `202 CG OK` (`201 CG OK` + an empty line for `INVOKE`),
/// failures name the subcommand (`404 CG ADD FAILED`).
pub fn execute(state: &mut SimState, req: &SimRequest) -> String {
    let name = req.name;
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let layer = req.layer.unwrap_or(CG_DEFAULT_LAYER);
    let sub = name.strip_prefix("CG ").unwrap_or(name);
    let result = match sub {
        "ADD" => add(state, ch, layer, &req.params),
        "CLEAR" => {
            state.clear_layer(ch, layer);
            Ok(None)
        }
        _ => call(state, ch, layer, sub, &req.params),
    };
    match result {
        Ok(None) => "202 CG OK\r\n".into(),
        Ok(Some(value)) => format!("201 CG OK\r\n{value}\r\n"),
        Err(code) => format!("{code} {name} FAILED\r\n"),
    }
}

/// `CG n-l ADD <cg-layer> <template> [<label>] <0|1> [<data>]`, read in the server's order.
fn add(
    state: &mut SimState,
    ch: usize,
    layer: i32,
    params: &[String],
) -> Result<Option<String>, u16> {
    let cg_layer = stoi(at(params, 0)?)?;
    let third = at(params, 2)?;
    // A third parameter longer than one character is a start label (for Flash templates); the
    // play flag follows it.
    let (play, data_index) = if third.chars().count() > 1 {
        (at(params, 3)?.starts_with('1'), 4)
    } else {
        (first_char(third)? == '1', 3)
    };
    let data = match params.get(data_index) {
        None => String::new(),
        // Neither XML nor JSON: a DATA file, found case-insensitively; a missing one is no data.
        Some(d) => inline(d)?.unwrap_or_else(|| data_file(state, d, false)),
    };
    let template = at(params, 1)?.clone();
    // Looking for the proxy creates the layer, even when the template is then not found.
    state.channels[ch].layer_mut(layer);
    let url = state.media.template_url(&template).ok_or(NOT_FOUND)?;
    let l = state.channels[ch].layer_mut(layer);
    // Loaded into the background (cancelling AUTO) and played at once, without a transition.
    l.background = None;
    l.auto_delta = None;
    l.frames_left = None;
    l.transition = None;
    l.paused = false;
    l.foreground = Producer::Template(TemplateHost {
        url,
        page: Some(CgItem {
            cg_layer,
            template: template.clone(),
            playing: play,
            data,
        }),
    });
    let how = if play {
        TakeHow::CgPlay
    } else {
        TakeHow::CgAdd
    };
    state.note_event(ch, layer, template, how, None);
    Ok(None)
}

/// `CG n-l PLAY|STOP|NEXT|REMOVE <cg-layer>`, `UPDATE <cg-layer> <data>`, `INVOKE <cg-layer> <f>`.
fn call(
    state: &mut SimState,
    ch: usize,
    layer: i32,
    sub: &str,
    params: &[String],
) -> Result<Option<String>, u16> {
    stoi(at(params, 0)?)?;
    let data = if sub == "UPDATE" {
        let d = at(params, 1)?;
        // The server reads an `UPDATE` data file by its exact name (no case-insensitive lookup).
        Some(inline(d)?.unwrap_or_else(|| data_file(state, d, true)))
    } else {
        None
    };
    let Producer::Template(host) = &mut state.channels[ch].layer_mut(layer).foreground else {
        return if sub == "PLAY" {
            Ok(None)
        } else {
            Err(NO_HOST)
        };
    };
    // The html producer's `call` never returns anything.
    let reply = (sub == "INVOKE").then(String::new);
    let Some(page) = &mut host.page else {
        return Ok(reply); // a closed page: the call goes nowhere
    };
    let template = page.template.clone();
    let how = match sub {
        "PLAY" => {
            page.playing = true;
            TakeHow::CgPlay
        }
        "STOP" => {
            page.playing = false;
            TakeHow::CgStop
        }
        "NEXT" => TakeHow::CgNext,
        "UPDATE" => {
            page.data = data.unwrap_or_default();
            TakeHow::CgUpdate
        }
        "REMOVE" => {
            host.page = None;
            TakeHow::CgRemove
        }
        _ => return Ok(reply),
    };
    state.note_event(ch, layer, template, how, None);
    Ok(reply)
}

fn at(params: &[String], i: usize) -> Result<&String, u16> {
    params.get(i).ok_or(MISSING)
}

/// `wstring::at(0)`: an empty parameter is `std::out_of_range`.
fn first_char(s: &str) -> Result<char, u16> {
    s.chars().next().ok_or(MISSING)
}

/// Data starting with `<` or `{` is XML or JSON, sent as it is; `None` for a DATA file name.
fn inline(d: &str) -> Result<Option<String>, u16> {
    Ok(matches!(first_char(d)?, '<' | '{').then(|| d.to_string()))
}

/// The content of the stored DATA file `name` (as `DATA STORE` gave it), or nothing.
fn data_file(state: &SimState, name: &str, exact_case: bool) -> String {
    match state.data.get(&name.to_uppercase()) {
        Some((stored, value)) if !exact_case || stored == name => value.clone(),
        _ => String::new(),
    }
}

/// `std::stoi`: white space, a sign and digits, the rest ignored (`"2x"` is 2). No digits is
/// `std::invalid_argument` (501); a value beyond `int` is `std::out_of_range` (402).
fn stoi(s: &str) -> Result<i32, u16> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0B', '\x0C', '\r']);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = t.bytes().take_while(u8::is_ascii_digit);
    let mut value: i64 = 0;
    let mut any = false;
    for d in digits {
        any = true;
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or(MISSING)?;
    }
    if !any {
        return Err(OTHER);
    }
    i32::try_from(if negative { -value } else { value }).map_err(|_| MISSING)
}

/// A template page as the simulator holds it (see [`SimState::templates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInstance {
    /// 0-based channel, as in `Sim::with_state` and the take log.
    pub channel: usize,
    pub layer: i32,
    /// The cg-layer of the `CG ADD` that created the page.
    pub cg_layer: i32,
    /// The template name as `CG ADD` gave it.
    pub template: String,
    /// What the html producer opened (`file:///opt/casparcg/templates/LOWER_THIRD.html`).
    pub url: String,
    /// Set by `CG ADD … 1` and `CG PLAY`, cleared by `CG STOP`.
    pub playing: bool,
    /// The last data the server received for it, after AMCP unescaping.
    pub data: String,
}

impl TemplateInstance {
    /// The JavaScript the html producer runs to hand the data over: `update("…")`.
    pub fn update_call(&self) -> String {
        update_call(&self.data)
    }

    /// What the template's `update()` receives: the string that [`update_call`](Self::update_call)
    /// reads as in JavaScript. `None` when that is no valid JavaScript (a line break in the data,
    /// a trailing backslash, a bad `\x`/`\u`): the real template would then never get the data.
    pub fn page_data(&self) -> Option<String> {
        page_argument(&self.update_call())
    }
}

impl SimState {
    /// Every template page on the channels, by channel and layer: what `CG ADD` loaded and the
    /// later calls did to it. Pages that `CG REMOVE` closed are gone.
    pub fn templates(&self) -> Vec<TemplateInstance> {
        let mut out = Vec::new();
        for (channel, c) in self.channels.iter().enumerate() {
            for (layer, l) in &c.layers {
                let Producer::Template(host) = &l.foreground else {
                    continue;
                };
                if let Some(page) = &host.page {
                    out.push(TemplateInstance {
                        channel,
                        layer: *layer,
                        cg_layer: page.cg_layer,
                        template: page.template.clone(),
                        url: host.url.clone(),
                        playing: page.playing,
                        data: page.data.clone(),
                    });
                }
            }
        }
        out
    }
}

/// `html_cg_proxy::update`: spaces and double quotes trimmed from both ends, the remaining double
/// quotes escaped, nothing else (backslashes and line breaks go through as they are).
pub fn update_call(data: &str) -> String {
    let trimmed = data.trim_matches([' ', '"']);
    format!("update(\"{}\")", trimmed.replace('"', "\\\""))
}

/// The argument of `update("…")` as JavaScript (sloppy mode, as the page runs) reads the string
/// literal; `None` for a syntax error.
pub fn page_argument(call: &str) -> Option<String> {
    let body = call.strip_prefix("update(\"")?;
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    loop {
        match chars.next()? {
            '"' => break,
            '\n' | '\r' => return None,
            '\\' => match chars.next()? {
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                'x' => out.push(hex_char(&mut chars, 2)?),
                'u' if chars.peek() == Some(&'{') => {
                    chars.next();
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let v = hex_value(&hex).filter(|v| *v <= 0x10_FFFF)?;
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                'u' => out.push(unicode_escape(&mut chars)?),
                // A line continuation: the escaped line break is dropped.
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                }
                '\n' | '\u{2028}' | '\u{2029}' => {}
                d @ '0'..='7' => {
                    // Legacy octal escapes: up to three digits, at most 0o377.
                    let mut v = d.to_digit(8)?;
                    while let Some(next) = chars.peek().and_then(|c| c.to_digit(8)) {
                        if v * 8 + next > 0o377 {
                            break;
                        }
                        v = v * 8 + next;
                        chars.next();
                    }
                    out.push(char::from_u32(v)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    (chars.collect::<String>() == ")").then_some(out)
}

/// Hex digits only (`from_str_radix` would also take a sign), at most six of them.
fn hex_value(hex: &str) -> Option<u32> {
    let ok = (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u32::from_str_radix(hex, 16).ok()).flatten()
}

fn hex_char(chars: &mut impl Iterator<Item = char>, n: usize) -> Option<char> {
    let hex: String = chars.take(n).collect();
    if hex.chars().count() != n {
        return None;
    }
    char::from_u32(hex_value(&hex)?)
}

/// `\uXXXX`, joining a surrogate pair written as two escapes; a lone surrogate reads as U+FFFD.
fn unicode_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let hex: String = chars.by_ref().take(4).collect();
    if hex.chars().count() != 4 {
        return None;
    }
    let unit = hex_value(&hex)?;
    if !(0xD800..0xDC00).contains(&unit) {
        return Some(char::from_u32(unit).unwrap_or('\u{fffd}'));
    }
    let mut ahead = chars.clone();
    if ahead.next() == Some('\\') && ahead.next() == Some('u') {
        let low: String = ahead.by_ref().take(4).collect();
        if let Some(low) = hex_value(&low).filter(|_| low.len() == 4)
            && (0xDC00..0xE000).contains(&low)
        {
            *chars = ahead;
            let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return char::from_u32(c);
        }
    }
    Some('\u{fffd}')
}

#[cfg(test)]
#[path = "cg_tests.rs"]
mod tests;
