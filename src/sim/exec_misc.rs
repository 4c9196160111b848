//! The less central commands: DATA, LOG LEVEL, LOCK, SET, SWAP, ADD/REMOVE, INFO CONFIG, GL INFO
//! (`CG` is in [`super::cg`]).

use super::media::{DEFAULT_ROOT, VideoFormat};
use super::model::SimState;
use super::ptree::PTree;
use super::request::SimRequest;

/// `DATA STORE/RETRIEVE/LIST/REMOVE`, kept in memory.
pub fn data(state: &mut SimState, req: &SimRequest) -> String {
    let key = req
        .params
        .first()
        .map(|n| n.to_uppercase())
        .unwrap_or_default();
    match req.name {
        "DATA STORE" => {
            let Some(value) = req.params.get(1) else {
                return "402 DATA STORE FAILED\r\n".into();
            };
            let stored_name = req.params.first().cloned().unwrap_or_default();
            state.data.insert(key, (stored_name, value.clone()));
            "202 DATA STORE OK\r\n".into()
        }
        "DATA RETRIEVE" => match state.data.get(&key) {
            // Read back line by line and joined with bare LF; an empty file counts as missing.
            Some((_, v)) if !v.is_empty() => {
                let body = v
                    .split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l))
                    .collect::<Vec<_>>();
                let body = match body.split_last() {
                    Some((&"", rest)) => rest.join("\n"),
                    _ => body.join("\n"),
                };
                format!("201 DATA RETRIEVE OK\r\n{body}\r\n")
            }
            _ => "404 DATA RETRIEVE FAILED\r\n".into(),
        },
        "DATA LIST" => {
            let mut out = String::from("200 DATA LIST OK\r\n");
            for (stored, _) in state.data.values() {
                out.push_str(stored);
                out.push_str("\r\n");
            }
            out.push_str("\r\n");
            out.to_uppercase()
        }
        "DATA REMOVE" => match state.data.remove(&key) {
            Some(_) => "202 DATA REMOVE OK\r\n".into(),
            None => "404 DATA REMOVE FAILED\r\n".into(),
        },
        other => format!("501 {other} FAILED\r\n"),
    }
}

const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warning", "error", "fatal"];

/// `LOG LEVEL [<level>]`.
pub fn log_level(state: &mut SimState, req: &SimRequest) -> String {
    match req.params.first() {
        None => format!("201 LOG OK\r\n{}\r\n", state.log_level),
        Some(level) => match LOG_LEVELS.iter().find(|l| l.eq_ignore_ascii_case(level)) {
            Some(l) => {
                state.log_level = (*l).to_string();
                "202 LOG OK\r\n".into()
            }
            None => "403 LOG FAILED\r\n".into(),
        },
    }
}

/// `LOCK <channel> ACQUIRE|RELEASE|CLEAR [<phrase>]`. The simulator only keeps the phrase per
/// channel; refusing other clients' commands (503) would be the connection layer's job.
pub fn lock(state: &mut SimState, req: &SimRequest) -> String {
    let ch = req
        .params
        .first()
        .and_then(|c| c.parse::<usize>().ok())
        .and_then(|c| c.checked_sub(1));
    let Some(ch) = ch.filter(|c| *c < state.channels.len()) else {
        return "403 LOCK FAILED\r\n".into();
    };
    let action = req
        .params
        .get(1)
        .map(|a| a.to_ascii_uppercase())
        .unwrap_or_default();
    let phrase = req.params.get(2).cloned().unwrap_or_default();
    match action.as_str() {
        "ACQUIRE" => match state.locks.get(&ch) {
            Some(held) if *held != phrase => "503 LOCK ACQUIRE FAILED\r\n".into(),
            _ => {
                state.locks.insert(ch, phrase);
                "202 LOCK ACQUIRE OK\r\n".into()
            }
        },
        "RELEASE" => {
            state.locks.remove(&ch);
            "202 LOCK RELEASE OK\r\n".into()
        }
        "CLEAR" => match state.locks.get(&ch) {
            Some(held) if *held != phrase => "503 LOCK CLEAR FAILED\r\n".into(),
            _ => {
                state.locks.remove(&ch);
                "202 LOCK CLEAR OK\r\n".into()
            }
        },
        _ => "403 LOCK FAILED\r\n".into(),
    }
}

/// `SET n MODE <format>`: the only SET the simulator knows.
pub fn set(state: &mut SimState, req: &SimRequest) -> String {
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let is_mode = req
        .params
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case("MODE"));
    match req.params.get(1).and_then(|f| VideoFormat::parse(f)) {
        Some(format) if is_mode => {
            state.channels[ch].format = format;
            "202 SET MODE OK\r\n".into()
        }
        _ => "403 SET FAILED\r\n".into(),
    }
}

/// `SWAP n[-l] m[-k] [TRANSFORMS]`: two layers, or two channels' whole stages.
pub fn swap(state: &mut SimState, req: &SimRequest) -> String {
    let Some(a) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let other = req.params.first().map(String::as_str).unwrap_or_default();
    let (b, b_layer) = match other.split_once('-') {
        Some((c, l)) => (c.parse::<usize>().ok(), l.parse::<i32>().ok().map(Some)),
        None => (other.parse::<usize>().ok(), Some(None)),
    };
    let (Some(b), Some(b_layer)) = (b.and_then(|b| b.checked_sub(1)), b_layer) else {
        return "403 SWAP FAILED\r\n".into();
    };
    if b >= state.channels.len() || b_layer.is_some() != req.layer.is_some() {
        return "403 SWAP FAILED\r\n".into();
    }
    let transforms = req.has_flag("TRANSFORMS");
    match (req.layer, b_layer) {
        (Some(la), Some(lb)) => {
            let x = state.channels[a].layers.remove(&la).unwrap_or_default();
            let y = state.channels[b].layers.remove(&lb).unwrap_or_default();
            state.channels[a].layers.insert(la, y);
            state.channels[b].layers.insert(lb, x);
            if transforms {
                let x = state.channels[a].mixer.remove(&la);
                let y = state.channels[b].mixer.remove(&lb);
                if let Some(t) = y {
                    state.channels[a].mixer.insert(la, t);
                }
                if let Some(t) = x {
                    state.channels[b].mixer.insert(lb, t);
                }
            }
        }
        _ if a != b => {
            let x = std::mem::take(&mut state.channels[a].layers);
            let y = std::mem::replace(&mut state.channels[b].layers, x);
            state.channels[a].layers = y;
            if transforms {
                let x = std::mem::take(&mut state.channels[a].mixer);
                let y = std::mem::replace(&mut state.channels[b].mixer, x);
                state.channels[a].mixer = y;
            }
        }
        _ => {}
    }
    "202 SWAP OK\r\n".into()
}

/// `ADD n[-index] <consumer> …`: recorded as `output/port/<index>/consumer`.
pub fn add(state: &mut SimState, req: &SimRequest) -> String {
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let kind = req
        .params
        .first()
        .map(|p| p.to_ascii_uppercase())
        .unwrap_or_default();
    let device = req
        .params
        .get(1)
        .and_then(|d| d.parse::<i32>().ok())
        .unwrap_or(1);
    let consumers = &mut state.channels[ch].consumers;
    let extra = 100_000 + i32::try_from(consumers.len()).unwrap_or(0);
    let (name, port) = match kind.as_str() {
        "SCREEN" => ("screen", 600),
        "AUDIO" | "SYSTEM-AUDIO" => ("system-audio", 500),
        "DECKLINK" => ("decklink", 300 + device),
        "BLUEFISH" => ("bluefish", 400 + device),
        "FILE" | "STREAM" => ("ffmpeg", extra),
        "NDI" => ("ndi", 900),
        "IMAGE" => ("image", extra),
        _ => return "404 ADD FAILED\r\n".into(),
    };
    consumers.insert(req.layer.unwrap_or(port), name.to_string());
    "202 ADD OK\r\n".into()
}

/// `REMOVE n-index` or `REMOVE n <consumer> …`.
pub fn remove(state: &mut SimState, req: &SimRequest) -> String {
    let Some(ch) = state.channel_index(req) else {
        return state.bad_channel(req);
    };
    let consumers = &mut state.channels[ch].consumers;
    let port = match (req.layer, req.params.first()) {
        (Some(index), _) => Some(index).filter(|i| consumers.contains_key(i)),
        (None, Some(kind)) => {
            let kind = kind.to_ascii_lowercase();
            let kind = if kind == "file" || kind == "stream" {
                "ffmpeg".to_string()
            } else {
                kind
            };
            consumers
                .iter()
                .find(|(_, n)| n.contains(kind.as_str()))
                .map(|(p, _)| *p)
        }
        (None, None) => return "402 REMOVE FAILED\r\n".into(),
    };
    match port.and_then(|p| consumers.remove(&p)) {
        Some(_) => "202 REMOVE OK\r\n".into(),
        None => "404 REMOVE FAILED\r\n".into(),
    }
}

/// `INFO CONFIG`: the configuration the simulator behaves as if it had been started with.
pub fn info_config(state: &SimState) -> String {
    let mut config = PTree::default();
    config.add("paths.media-path", state.media.media_root.clone());
    config.add("paths.log-path", format!("{DEFAULT_ROOT}log/"));
    config.add("paths.data-path", format!("{DEFAULT_ROOT}data/"));
    config.add("paths.template-path", state.media.template_root.clone());
    config.add("lock-clear-phrase", "secret".into());
    let mut channels = PTree::default();
    for c in &state.channels {
        let mut channel = PTree::default();
        channel.add("video-mode", c.format.name.to_string());
        channel
            .children
            .push(("consumers".into(), PTree::default()));
        channels.children.push(("channel".into(), channel));
    }
    config.children.push(("channels".into(), channels));
    config.add("controllers.tcp.port", "5250".into());
    config.add("controllers.tcp.protocol", "AMCP".into());
    config.add("amcp.media-server.host", "localhost".into());
    config.add("amcp.media-server.port", "8000".into());
    config.add("osc.default-port", "6250".into());
    config.add("osc.disable-send-to-amcp-clients", "false".into());
    let root = PTree {
        data: String::new(),
        children: vec![("configuration".into(), config)],
    };
    format!("201 INFO CONFIG OK\r\n{}\r\n", root.to_xml())
}

/// `GL INFO`: a small, well-formed summary of (non-existent) GPU buffer pools.
pub fn gl_info() -> String {
    let mut gl = PTree::default();
    for pool in ["pooled_device_buffers", "pooled_host_buffers"] {
        gl.add(&format!("details.{pool}.total_count"), "0".into());
        gl.add(&format!("details.{pool}.total_size"), "0".into());
    }
    gl.add("summary.pooled_device_buffers.total_count", "0".into());
    gl.add("summary.pooled_host_buffers.total_count", "0".into());
    let root = PTree {
        data: String::new(),
        children: vec![("gl".into(), gl)],
    };
    format!("201 GL INFO OK\r\n{}\r\n", root.to_xml())
}
