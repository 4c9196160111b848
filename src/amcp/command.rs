//! Typed AMCP commands and their encoding to one command line, as the server's tokenizer will read it.
//!
//! Encoding follows docs/amcp-notes.md §3: string values are always quoted and only `\\`, `\"` and `\n` are
//! escaped (the server silently drops every other backslash pair, which is how casparcg-connection loses
//! every `$` in CG data); a carriage return cannot be expressed and is rejected. Clip names that the
//! server would mistake for a keyword (it scans *all* parameters for `LOOP`, `AUTO`, …) are rejected too.

use std::fmt;

use thiserror::Error;

pub use super::address::{ChannelLayer, ParseChannelLayerError};

/// Why a command could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A value contains a carriage return, which AMCP cannot carry.
    #[error("{field} contains a carriage return, which AMCP cannot carry")]
    CarriageReturn { field: &'static str },
    /// A required string value is empty.
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    /// The clip name equals a keyword the server scans every parameter for.
    #[error("clip name {name:?} is an AMCP keyword; the server would read it as a flag")]
    ReservedClipName { name: String },
    /// A number is not finite.
    #[error("{field} must be a finite number")]
    NotFinite { field: &'static str },
    /// A keyword-like value (tween name, raw command word) has characters the server cannot parse.
    #[error("{field} {value:?} is not a valid AMCP word")]
    InvalidWord { field: &'static str, value: String },
    /// A raw line contains a line break.
    #[error("raw command contains a line break")]
    LineBreak,
}

/// Keywords the server matches anywhere in a parameter list (`contains_param`), case-insensitively.
const RESERVED_CLIP_NAMES: &[&str] = &[
    "LOOP",
    "AUTO",
    "SEEK",
    "IN",
    "OUT",
    "LENGTH",
    "START",
    "CUT",
    "MIX",
    "PUSH",
    "SLIDE",
    "WIPE",
    "STING",
    "CLEAR_ON_404",
    "FILTER",
    "AF",
    "VF",
    "CHANNEL_LAYOUT",
];

/// Which server queue executes a command (docs/amcp-notes.md §5): replies from different queues may overtake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    /// The general queue: VERSION, INFO (all), CLS, CINF, TLS, CLEAR ALL, committed batches, …
    General,
    /// The queue of one channel.
    Channel(u16),
}

/// How long a command may reasonably take: media-scanner commands block on an HTTP call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandClass {
    /// Ordinary commands answered by the server itself.
    Normal,
    /// CLS, CINF, TLS, FLS, THUMBNAIL: proxied to the media scanner.
    Scanner,
}

/// What to load for PLAY, LOADBG and LOAD.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Clip {
    pub name: String,
    pub looping: bool,
    pub seek: Option<u64>,
    pub in_point: Option<u64>,
    pub out_point: Option<u64>,
    pub length: Option<u64>,
    pub transition: Option<Transition>,
    /// `AUTO`: play when the foreground ends (LOADBG only; ignored elsewhere by the server).
    pub auto: bool,
    /// `CLEAR_ON_404` (2.4+): load transparent instead when the file is missing.
    pub clear_on_404: bool,
}

impl Clip {
    /// A clip with no options.
    pub fn new(name: impl Into<String>) -> Self {
        Clip {
            name: name.into(),
            ..Clip::default()
        }
    }
}

/// `CALL` / `CALLBG` operations understood by the ffmpeg producer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallOp {
    /// `LOOP [0|1]`: query or set looping.
    Loop(Option<bool>),
    /// `SEEK <frame>`.
    Seek(u64),
    /// `SEEK END`: jump to the last frame.
    SeekEnd,
    /// `IN [frame]`.
    In(Option<u64>),
    /// `OUT [frame]`.
    Out(Option<u64>),
    /// `LENGTH [frames]`.
    Length(Option<u64>),
}

/// A mixer tween: duration in frames and tween name.
#[derive(Debug, Clone, PartialEq)]
pub struct MixerTween {
    pub frames: u32,
    pub tween: Option<String>,
}

/// `MIXER` setters and queries.
#[derive(Debug, Clone, PartialEq)]
pub enum MixerOp {
    /// `OPACITY [value [duration [tween]]]`; `None` queries.
    Opacity(Option<f64>, Option<MixerTween>),
    /// `VOLUME [value [duration [tween]]]`.
    Volume(Option<f64>, Option<MixerTween>),
    /// `BRIGHTNESS`.
    Brightness(Option<f64>, Option<MixerTween>),
    /// `FILL x y scale_x scale_y`.
    Fill {
        x: f64,
        y: f64,
        scale_x: f64,
        scale_y: f64,
        tween: Option<MixerTween>,
    },
    /// `MASTERVOLUME value` (channel).
    MasterVolume(f64),
    /// `CLEAR`: reset every transform of the layer or channel.
    Clear,
    /// `COMMIT`: apply deferred transforms.
    Commit,
}

/// `CG` operations on a template host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CgOp {
    /// `ADD <cg-layer> "<template>" <play-on-load> ["<data>"]`.
    Add {
        cg_layer: i32,
        template: String,
        play_on_load: bool,
        data: Option<String>,
    },
    Play {
        cg_layer: i32,
    },
    Stop {
        cg_layer: i32,
    },
    Next {
        cg_layer: i32,
    },
    Update {
        cg_layer: i32,
        data: String,
    },
    Remove {
        cg_layer: i32,
    },
    /// `INVOKE <cg-layer> "<method>"`: calls a function of the template (answered `201` with its
    /// result).
    Invoke {
        cg_layer: i32,
        method: String,
    },
    Clear,
}

/// A typed AMCP command. [`Command::encode`] turns it into the line the server expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Version,
    /// `INFO` (all channels), `INFO n` or `INFO n-l` (the server ignores the layer: whole channel XML).
    Info(Option<ChannelLayer>),
    InfoPaths,
    /// `CLS` (the server ignores a sub-directory argument).
    Cls,
    Cinf(String),
    Tls,
    /// `PLAY n-l [clip …]`; without a clip it promotes the background or unpauses.
    Play(ChannelLayer, Option<Clip>),
    LoadBg(ChannelLayer, Clip),
    /// `LOAD n-l [clip …]`; without a clip (2.4+) the background becomes a paused foreground.
    Load(ChannelLayer, Option<Clip>),
    Pause(ChannelLayer),
    Resume(ChannelLayer),
    Stop(ChannelLayer),
    /// `CLEAR n-l`, or `CLEAR n` for the whole channel.
    Clear(ChannelLayer),
    /// `CLEAR ALL` (2.4+).
    ClearAll,
    Call(ChannelLayer, CallOp),
    /// `CALLBG` (2.4+): like CALL, on the background producer.
    CallBg(ChannelLayer, CallOp),
    Mixer(ChannelLayer, MixerOp),
    Cg(ChannelLayer, CgOp),
    OscSubscribe(u16),
    OscUnsubscribe(u16),
    /// `PING [token]`: never sent with REQ; answered by a bare `PONG`.
    Ping(Option<String>),
    Begin,
    Commit,
    Discard,
    Bye,
    /// An escape hatch: the line is sent as given (after a check for line breaks).
    Raw(String),
}

impl Command {
    /// The command word(s) for logs and metrics, e.g. `PLAY`, `MIXER`, `CG`, `RAW`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Version => "VERSION",
            Command::Info(_) => "INFO",
            Command::InfoPaths => "INFO PATHS",
            Command::Cls => "CLS",
            Command::Cinf(_) => "CINF",
            Command::Tls => "TLS",
            Command::Play(..) => "PLAY",
            Command::LoadBg(..) => "LOADBG",
            Command::Load(..) => "LOAD",
            Command::Pause(_) => "PAUSE",
            Command::Resume(_) => "RESUME",
            Command::Stop(_) => "STOP",
            Command::Clear(_) => "CLEAR",
            Command::ClearAll => "CLEAR ALL",
            Command::Call(..) => "CALL",
            Command::CallBg(..) => "CALLBG",
            Command::Mixer(..) => "MIXER",
            Command::Cg(..) => "CG",
            Command::OscSubscribe(_) => "OSC SUBSCRIBE",
            Command::OscUnsubscribe(_) => "OSC UNSUBSCRIBE",
            Command::Ping(_) => "PING",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Discard => "DISCARD",
            Command::Bye => "BYE",
            Command::Raw(_) => "RAW",
        }
    }

    /// The server queue that will execute this command.
    pub fn queue(&self) -> Queue {
        match self {
            Command::Info(Some(cl))
            | Command::Play(cl, _)
            | Command::LoadBg(cl, _)
            | Command::Load(cl, _)
            | Command::Pause(cl)
            | Command::Resume(cl)
            | Command::Stop(cl)
            | Command::Clear(cl)
            | Command::Call(cl, _)
            | Command::CallBg(cl, _)
            | Command::Mixer(cl, _)
            | Command::Cg(cl, _) => Queue::Channel(cl.channel),
            Command::Raw(line) => raw_queue(line),
            _ => Queue::General,
        }
    }

    /// Whether the command blocks on the media scanner (needs a longer deadline).
    pub fn class(&self) -> CommandClass {
        match self {
            Command::Cls | Command::Cinf(_) | Command::Tls => CommandClass::Scanner,
            Command::Raw(line) => {
                let word = line.split(' ').find(|w| !w.is_empty()).unwrap_or("");
                match word.to_ascii_uppercase().as_str() {
                    "CLS" | "CINF" | "TLS" | "FLS" | "THUMBNAIL" => CommandClass::Scanner,
                    _ => CommandClass::Normal,
                }
            }
            _ => CommandClass::Normal,
        }
    }

    /// Whether the command may change what a server plays or shows (everything but the reads and
    /// the link's own housekeeping): in cluster mode only the leader writes these (`caspar::Fence`).
    pub fn changes_playout(&self) -> bool {
        match self {
            Command::Version
            | Command::Info(_)
            | Command::InfoPaths
            | Command::Cls
            | Command::Cinf(_)
            | Command::Tls
            | Command::OscSubscribe(_)
            | Command::OscUnsubscribe(_)
            | Command::Ping(_)
            | Command::Bye => false,
            Command::Raw(line) => {
                let word = line.split(' ').find(|w| !w.is_empty()).unwrap_or("");
                !matches!(
                    word.to_ascii_uppercase().as_str(),
                    "VERSION" | "INFO" | "CLS" | "CINF" | "TLS" | "FLS" | "THUMBNAIL"
                )
            }
            _ => true,
        }
    }

    /// Whether the server answers this command at all (BEGIN, DISCARD and BYE never answer).
    pub fn expects_reply(&self) -> bool {
        !matches!(self, Command::Begin | Command::Discard | Command::Bye)
    }

    /// Whether the command may carry a `REQ` id (PING must not: `REQ x PING` is an unknown command).
    pub fn supports_req(&self) -> bool {
        !matches!(self, Command::Ping(_))
    }

    /// Encodes the command as one line without the CRLF terminator.
    pub fn encode(&self) -> Result<String, EncodeError> {
        let mut out = String::with_capacity(48);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded line to `out`; on error `out` may hold a partial line.
    pub fn encode_into(&self, out: &mut String) -> Result<(), EncodeError> {
        let w = LineWriter { out };
        match self {
            Command::Version => w.word("VERSION"),
            Command::Info(None) => w.word("INFO"),
            Command::Info(Some(cl)) => w.word("INFO").addr(cl),
            Command::InfoPaths => w.word("INFO PATHS"),
            Command::Cls => w.word("CLS"),
            Command::Cinf(name) => w.word("CINF").quoted("clip name", name, false)?,
            Command::Tls => w.word("TLS"),
            Command::Play(cl, clip) => w.word("PLAY").addr(cl).opt_clip(clip.as_ref())?,
            Command::LoadBg(cl, clip) => w.word("LOADBG").addr(cl).clip(clip)?,
            Command::Load(cl, clip) => w.word("LOAD").addr(cl).opt_clip(clip.as_ref())?,
            Command::Pause(cl) => w.word("PAUSE").addr(cl),
            Command::Resume(cl) => w.word("RESUME").addr(cl),
            Command::Stop(cl) => w.word("STOP").addr(cl),
            Command::Clear(cl) => w.word("CLEAR").addr(cl),
            Command::ClearAll => w.word("CLEAR ALL"),
            Command::Call(cl, op) => w.word("CALL").addr(cl).call(op),
            Command::CallBg(cl, op) => w.word("CALLBG").addr(cl).call(op),
            Command::Mixer(cl, op) => w.word("MIXER").addr(cl).mixer(op)?,
            Command::Cg(cl, op) => w.word("CG").addr(cl).cg(op)?,
            Command::OscSubscribe(port) => w.word("OSC SUBSCRIBE").num(*port),
            Command::OscUnsubscribe(port) => w.word("OSC UNSUBSCRIBE").num(*port),
            Command::Ping(None) => w.word("PING"),
            Command::Ping(Some(token)) => w.word("PING").keyword("ping token", token)?,
            Command::Begin => w.word("BEGIN"),
            Command::Commit => w.word("COMMIT"),
            Command::Discard => w.word("DISCARD"),
            Command::Bye => w.word("BYE"),
            Command::Raw(line) => {
                if line.contains(['\r', '\n']) {
                    return Err(EncodeError::LineBreak);
                }
                if line.trim().is_empty() {
                    // A blank line earns an unsolicited `400 ERROR` from the server.
                    return Err(EncodeError::Empty {
                        field: "raw command",
                    });
                }
                w.out.push_str(line);
                w
            }
        };
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.encode() {
            Ok(line) => f.write_str(&line),
            Err(e) => write!(f, "<unencodable {}: {e}>", self.name()),
        }
    }
}

/// Channel commands whose second token selects the channel queue (docs/amcp-notes.md §5).
const CHANNEL_WORDS: &[&str] = &[
    "LOADBG", "LOAD", "PLAY", "PAUSE", "RESUME", "STOP", "CLEAR", "CALL", "CALLBG", "SWAP", "ADD",
    "REMOVE", "PRINT", "SET", "MIXER", "CG", "INFO",
];

fn raw_queue(line: &str) -> Queue {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let (Some(cmd), Some(addr)) = (words.next(), words.next()) else {
        return Queue::General;
    };
    if !CHANNEL_WORDS.iter().any(|w| w.eq_ignore_ascii_case(cmd)) {
        return Queue::General;
    }
    match addr.parse::<ChannelLayer>() {
        Ok(cl) => Queue::Channel(cl.channel),
        Err(_) => Queue::General,
    }
}

#[path = "command_transition.rs"]
mod transition;
pub use transition::{Direction, Transition, TransitionKind};

#[path = "command_encode.rs"]
mod encode;
use encode::LineWriter;

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
