//! Command semantics: executes a parsed [`SimRequest`] against the [`SimState`] and words the reply as
//! the 2.3/2.4/2.5 server does (docs/amcp-notes.md §4). Parser-level errors, REQ/RES, PING/BYE, batches and
//! OSC SUBSCRIBE are the read path's business, not this module's.

use super::cg;
use super::exec_misc;
use super::exec_mixer;
use super::model::{LoadError, SimState};
use super::monitor::info_xml;
use super::producer::{CallError, Producer, TransitionInfo};
use super::ptree::PTree;
use super::request::{Outcome, SimRequest};
use super::takes::{TakeHow, clip_name};

/// Every command name [`execute`] implements (the parser's registry should be a subset).
pub const EXECUTABLE: &[&str] = &[
    "LOADBG",
    "LOAD",
    "PLAY",
    "PAUSE",
    "RESUME",
    "STOP",
    "CLEAR",
    "CLEAR ALL",
    "CALL",
    "CALLBG",
    "SWAP",
    "ADD",
    "REMOVE",
    "PRINT",
    "SET",
    "LOG LEVEL",
    "LOCK",
    "DATA STORE",
    "DATA RETRIEVE",
    "DATA LIST",
    "DATA REMOVE",
    "CG ADD",
    "CG PLAY",
    "CG STOP",
    "CG NEXT",
    "CG REMOVE",
    "CG CLEAR",
    "CG UPDATE",
    "CG INVOKE",
    "MIXER KEYER",
    "MIXER INVERT",
    "MIXER CHROMA",
    "MIXER BLEND",
    "MIXER OPACITY",
    "MIXER BRIGHTNESS",
    "MIXER SATURATION",
    "MIXER CONTRAST",
    "MIXER LEVELS",
    "MIXER FILL",
    "MIXER CLIP",
    "MIXER ANCHOR",
    "MIXER CROP",
    "MIXER ROTATION",
    "MIXER PERSPECTIVE",
    "MIXER VOLUME",
    "MIXER MASTERVOLUME",
    "MIXER GRID",
    "MIXER COMMIT",
    "MIXER CLEAR",
    "CHANNEL_GRID",
    "THUMBNAIL LIST",
    "THUMBNAIL RETRIEVE",
    "THUMBNAIL GENERATE",
    "THUMBNAIL GENERATE_ALL",
    "CINF",
    "CLS",
    "FLS",
    "TLS",
    "VERSION",
    "INFO",
    "INFO CONFIG",
    "INFO PATHS",
    "DIAG",
    "GL INFO",
    "GL GC",
    "KILL",
    "RESTART",
];

/// Executes one request and returns its reply (or [`Outcome::Silent`] for a failed 2.4 CALL).
pub fn execute(state: &mut SimState, req: &SimRequest) -> Outcome {
    let name = req.name;
    Outcome::Reply(match name {
        "LOADBG" | "LOAD" | "PLAY" => load(state, req),
        "PAUSE" | "RESUME" | "STOP" => layer_op(state, req),
        "CLEAR" => clear(state, req),
        "CLEAR ALL" => {
            (0..state.channels.len()).for_each(|ch| state.clear_channel(ch));
            "202 CLEAR ALL OK\r\n".into()
        }
        "CALL" | "CALLBG" => return call(state, req),
        "INFO" => info(state, req),
        "INFO PATHS" => info_paths(state),
        "INFO CONFIG" => exec_misc::info_config(state),
        "VERSION" => format!("201 VERSION OK\r\n{}\r\n", state.dialect.version_line()),
        "CLS" => state.media.cls_reply(),
        "CINF" => state.media.cinf_reply(param(req, 0)),
        "TLS" => state.media.tls_reply(),
        // The recording's media-scanner 1.4 has no font listing: 501 even while it is up.
        "FLS" => "501 FLS FAILED\r\n".into(),
        "THUMBNAIL LIST" => state.media.thumbnail_list_reply(),
        "THUMBNAIL RETRIEVE" => state.media.thumbnail_retrieve_reply(param(req, 0)),
        "THUMBNAIL GENERATE"
            if state.media.scanner_up && state.media.find(param(req, 0)).is_some() =>
        {
            "202 THUMBNAIL GENERATE OK\r\n".into()
        }
        "THUMBNAIL GENERATE_ALL" if state.media.scanner_up => {
            "202 THUMBNAIL GENERATE_ALL OK\r\n".into()
        }
        "THUMBNAIL GENERATE" | "THUMBNAIL GENERATE_ALL" => format!("501 {name} FAILED\r\n"),
        n if n.starts_with("MIXER ") => exec_mixer::execute(state, req),
        n if n.starts_with("CG ") => cg::execute(state, req),
        n if n.starts_with("DATA ") => exec_misc::data(state, req),
        "LOG LEVEL" => exec_misc::log_level(state, req),
        "LOCK" => exec_misc::lock(state, req),
        "SET" => exec_misc::set(state, req),
        "SWAP" => exec_misc::swap(state, req),
        "ADD" => exec_misc::add(state, req),
        "REMOVE" => exec_misc::remove(state, req),
        "GL INFO" => exec_misc::gl_info(),
        "DIAG" | "GL GC" | "KILL" | "RESTART" | "PRINT" | "CHANNEL_GRID" => {
            format!("202 {name} OK\r\n")
        }
        _ => format!("501 {name} FAILED\r\n"),
    })
}

fn param(req: &SimRequest, i: usize) -> &str {
    req.params.get(i).map(String::as_str).unwrap_or_default()
}

/// LOADBG / LOAD / PLAY (docs/amcp-notes.md §4.5). Every change of the foreground is noted for
/// the take log.
fn load(state: &mut SimState, req: &SimRequest) -> String {
    let name = req.name;
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let index = req.layer.unwrap_or(0);
    if req.params.is_empty() {
        let dialect = state.dialect;
        let layer = state.channels[ch].layer_mut(index);
        let take = match name {
            "PLAY" => layer.play().then_some(TakeHow::Promote),
            "LOAD" if dialect.is_v24_or_later() => layer.promote_paused().then_some(TakeHow::Load),
            _ => return format!("402 {name} FAILED\r\n"),
        };
        if let Some(how) = take {
            state.note_take(ch, index, how);
        }
        return format!("202 {name} OK\r\n");
    }
    let transition = TransitionInfo::parse(&req.params);
    let auto = req.has_flag("AUTO");
    let (producer, reply) = match state.create_producer(ch, &req.params) {
        Ok(p) => (p, format!("202 {name} OK\r\n")),
        Err(LoadError::BadParam) => return format!("403 {name} FAILED\r\n"),
        // CLEAR_ON_404 (2.4+) blanks the layer with a transparent colour but still reports 404.
        Err(LoadError::NotFound)
            if state.dialect.is_v24_or_later() && req.has_flag("CLEAR_ON_404") =>
        {
            (
                Producer::Color {
                    color: "#00000000".into(),
                },
                format!("404 {name} FAILED\r\n"),
            )
        }
        Err(LoadError::NotFound) => return format!("404 {name} FAILED\r\n"),
    };
    let layer = state.channels[ch].layer_mut(index);
    let take = match name {
        "LOAD" => {
            layer.load_paused(producer);
            Some(TakeHow::Load)
        }
        "PLAY" => {
            // With AUTO on an empty foreground, LOADBG already promoted and there is nothing left
            // for PLAY to promote: still one take, by PLAY.
            let auto_played = layer.load_background(producer, transition, auto);
            (layer.play() || auto_played).then_some(TakeHow::Play)
        }
        _ => layer
            .load_background(producer, transition, auto)
            .then_some(TakeHow::Auto),
    };
    if let Some(how) = take {
        state.note_take(ch, index, how);
    }
    reply
}

/// PAUSE / RESUME / STOP: `202 … OK` even on a layer that never held anything (which now exists).
/// A STOP that takes something off the screen is noted for the take log.
fn layer_op(state: &mut SimState, req: &SimRequest) -> String {
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let index = req.layer.unwrap_or(0);
    let layer = state.channels[ch].layer_mut(index);
    match req.name {
        "PAUSE" => layer.pause(),
        "RESUME" => layer.resume(),
        _ => {
            let shown = (!layer.foreground.is_empty()).then(|| clip_name(&layer.foreground));
            layer.stop();
            if let Some(clip) = shown {
                state.note_event(ch, index, clip, TakeHow::Stop, None);
            }
        }
    }
    format!("202 {} OK\r\n", req.name)
}

/// `CLEAR n-l` deletes the layer, `CLEAR n` every layer of the channel; mixer state stays.
fn clear(state: &mut SimState, req: &SimRequest) -> String {
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    match req.layer {
        Some(l) => state.clear_layer(ch, l),
        None => state.clear_channel(ch),
    }
    "202 CLEAR OK\r\n".into()
}

/// CALL / CALLBG (docs/amcp-notes.md §4.6): the result value as data line, `202` when there is no result.
fn call(state: &mut SimState, req: &SimRequest) -> Outcome {
    let name = req.name;
    let Some(ch) = state.channel_index(req) else {
        return Outcome::Reply(state.bad_channel(req));
    };
    let dialect = state.dialect;
    let layer = state.channels[ch].layer_mut(req.layer.unwrap_or(0));
    let result = if name == "CALLBG" {
        match &mut layer.background {
            Some(bg) => bg.producer.call(&req.params),
            None => Ok(None),
        }
    } else {
        layer.foreground.call(&req.params)
    };
    Outcome::Reply(match result {
        Ok(None) => format!("202 {name} OK\r\n"),
        Ok(Some(value)) => format!("201 {name} OK\r\n{value}\r\n"),
        // 2.4+ lose the exception on a helper thread: no reply at all.
        Err(_) if dialect.is_v24_or_later() => return Outcome::Silent,
        Err(CallError::BadValue) => format!("403 {name} FAILED\r\n"),
        Err(CallError::Unknown) => format!("501 {name} FAILED\r\n"),
    })
}

/// `INFO` (channel list) or `INFO n[-l]` (the whole channel's XML; the layer is ignored).
fn info(state: &SimState, req: &SimRequest) -> String {
    if req.channel.is_some() {
        let Some(ch) = state.channel_index(req) else {
            return state.bad_channel(req);
        };
        return format!("201 INFO OK\r\n{}\r\n", info_xml(state, ch));
    }
    let mut out = String::from("200 INFO OK\r\n");
    for (i, c) in state.channels.iter().enumerate() {
        out.push_str(&format!("{} {} PLAYING\r\n", i + 1, c.format.name));
    }
    out.push_str("\r\n");
    out
}

/// `INFO PATHS`, byte-identical to the recording for the default paths.
fn info_paths(state: &SimState) -> String {
    let mut paths = PTree::default();
    paths.add("media-path", state.media.media_root.clone());
    paths.add("log-path", format!("{}log/", super::media::DEFAULT_ROOT));
    paths.add("data-path", format!("{}data/", super::media::DEFAULT_ROOT));
    paths.add("template-path", state.media.template_root.clone());
    paths.add(
        "initial-path",
        format!("{}run/", super::media::DEFAULT_ROOT),
    );
    let root = PTree {
        data: String::new(),
        children: vec![("paths".into(), paths)],
    };
    format!("201 INFO PATHS OK\r\n{}\r\n", root.to_xml())
}

#[cfg(test)]
#[path = "exec_tests.rs"]
pub(crate) mod tests;
