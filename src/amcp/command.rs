//! Typed AMCP commands and their encoding to one command line, as the server's tokenizer will read it.
//!
//! Encoding follows reference §3: string values are always quoted and only `\\`, `\"` and `\n` are
//! escaped (the server silently drops every other backslash pair, which is how casparcg-connection loses
//! every `$` in CG data); a carriage return cannot be expressed and is rejected. Clip names that the
//! server would mistake for a keyword (it scans *all* parameters for `LOOP`, `AUTO`, …) are rejected too.

use std::fmt::{self, Write as _};

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

/// Which server queue executes a command (reference §5): replies from different queues may overtake.
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

/// The kind of a transition between two clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransitionKind {
    Cut,
    Mix,
    Push,
    Slide,
    Wipe,
}

impl TransitionKind {
    /// The AMCP keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            TransitionKind::Cut => "CUT",
            TransitionKind::Mix => "MIX",
            TransitionKind::Push => "PUSH",
            TransitionKind::Slide => "SLIDE",
            TransitionKind::Wipe => "WIPE",
        }
    }
}

/// The direction of a PUSH, SLIDE or WIPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Left,
    Right,
    FromLeft,
    FromRight,
}

impl Direction {
    fn keyword(self) -> &'static str {
        match self {
            Direction::Left => "LEFT",
            Direction::Right => "RIGHT",
            Direction::FromLeft => "FROMLEFT",
            Direction::FromRight => "FROMRIGHT",
        }
    }
}

/// A transition: `<KIND> <frames> [tween] [direction]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    pub kind: TransitionKind,
    /// Duration in channel frames; 0 means no transition.
    pub frames: u32,
    /// Tween name such as `LINEAR` or `EASEINSINE`.
    pub tween: Option<String>,
    pub direction: Option<Direction>,
}

impl Transition {
    /// A transition with no tween or direction.
    pub fn new(kind: TransitionKind, frames: u32) -> Self {
        Transition {
            kind,
            frames,
            tween: None,
            direction: None,
        }
    }
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

/// Channel commands whose second token selects the channel queue (reference §5).
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

/// Builds a command line token by token; every method adds a leading space except the first word.
struct LineWriter<'a> {
    out: &'a mut String,
}

impl<'a> LineWriter<'a> {
    fn sep(&mut self) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
    }

    fn word(mut self, word: &str) -> Self {
        self.sep();
        self.out.push_str(word);
        self
    }

    fn addr(mut self, cl: &ChannelLayer) -> Self {
        self.sep();
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{cl}");
        self
    }

    fn num(mut self, n: impl fmt::Display) -> Self {
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    fn float(self, field: &'static str, v: f64) -> Result<Self, EncodeError> {
        if !v.is_finite() {
            return Err(EncodeError::NotFinite { field });
        }
        Ok(self.num(v))
    }

    /// A bare keyword-like token: letters, digits and `_-.` only, so it can never need quoting.
    fn keyword(self, field: &'static str, value: &str) -> Result<Self, EncodeError> {
        let ok = !value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(EncodeError::InvalidWord {
                field,
                value: value.to_owned(),
            });
        }
        Ok(self.word(value))
    }

    /// A quoted, escaped string value. Always quoting is what keeps spaces, parentheses (2.4 groups
    /// them) and empty values intact.
    fn quoted(
        mut self,
        field: &'static str,
        value: &str,
        allow_empty: bool,
    ) -> Result<Self, EncodeError> {
        if value.is_empty() && !allow_empty {
            return Err(EncodeError::Empty { field });
        }
        if value.contains('\r') {
            return Err(EncodeError::CarriageReturn { field });
        }
        self.sep();
        self.out.reserve(value.len() + 2);
        self.out.push('"');
        for c in value.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '"' => self.out.push_str("\\\""),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
        Ok(self)
    }

    fn opt_clip(self, clip: Option<&Clip>) -> Result<Self, EncodeError> {
        match clip {
            Some(c) => self.clip(c),
            None => Ok(self),
        }
    }

    fn clip(self, clip: &Clip) -> Result<Self, EncodeError> {
        let trimmed = clip.name.trim();
        if RESERVED_CLIP_NAMES
            .iter()
            .any(|k| k.eq_ignore_ascii_case(trimmed))
        {
            return Err(EncodeError::ReservedClipName {
                name: clip.name.clone(),
            });
        }
        let mut w = self.quoted("clip name", &clip.name, false)?;
        if clip.looping {
            w = w.word("LOOP");
        }
        for (kw, v) in [
            ("SEEK", clip.seek),
            ("IN", clip.in_point),
            ("OUT", clip.out_point),
            ("LENGTH", clip.length),
        ] {
            if let Some(v) = v {
                w = w.word(kw).num(v);
            }
        }
        if let Some(t) = &clip.transition {
            w = w.transition(t)?;
        }
        if clip.auto {
            w = w.word("AUTO");
        }
        if clip.clear_on_404 {
            w = w.word("CLEAR_ON_404");
        }
        Ok(w)
    }

    fn transition(self, t: &Transition) -> Result<Self, EncodeError> {
        let mut w = self.word(t.kind.keyword()).num(t.frames);
        if let Some(tween) = &t.tween {
            w = w.keyword("tween", tween)?;
        }
        if let Some(d) = t.direction {
            w = w.word(d.keyword());
        }
        Ok(w)
    }

    fn call(self, op: &CallOp) -> Self {
        match op {
            CallOp::Loop(None) => self.word("LOOP"),
            CallOp::Loop(Some(on)) => self.word("LOOP").num(u8::from(*on)),
            CallOp::Seek(f) => self.word("SEEK").num(f),
            CallOp::SeekEnd => self.word("SEEK").word("END"),
            CallOp::In(v) => self.word("IN").opt_num(*v),
            CallOp::Out(v) => self.word("OUT").opt_num(*v),
            CallOp::Length(v) => self.word("LENGTH").opt_num(*v),
        }
    }

    fn opt_num(self, v: Option<u64>) -> Self {
        match v {
            Some(v) => self.num(v),
            None => self,
        }
    }

    fn tween(self, t: Option<&MixerTween>) -> Result<Self, EncodeError> {
        let Some(t) = t else { return Ok(self) };
        let w = self.num(t.frames);
        match &t.tween {
            Some(name) => w.keyword("tween", name),
            None => Ok(w),
        }
    }

    fn setter(
        self,
        word: &str,
        field: &'static str,
        v: Option<f64>,
        t: Option<&MixerTween>,
    ) -> Result<Self, EncodeError> {
        let w = self.word(word);
        match v {
            Some(v) => w.float(field, v)?.tween(t),
            None => Ok(w),
        }
    }

    fn mixer(self, op: &MixerOp) -> Result<Self, EncodeError> {
        match op {
            MixerOp::Opacity(v, t) => self.setter("OPACITY", "opacity", *v, t.as_ref()),
            MixerOp::Volume(v, t) => self.setter("VOLUME", "volume", *v, t.as_ref()),
            MixerOp::Brightness(v, t) => self.setter("BRIGHTNESS", "brightness", *v, t.as_ref()),
            MixerOp::Fill {
                x,
                y,
                scale_x,
                scale_y,
                tween,
            } => self
                .word("FILL")
                .float("fill x", *x)?
                .float("fill y", *y)?
                .float("fill scale x", *scale_x)?
                .float("fill scale y", *scale_y)?
                .tween(tween.as_ref()),
            MixerOp::MasterVolume(v) => self.word("MASTERVOLUME").float("master volume", *v),
            MixerOp::Clear => Ok(self.word("CLEAR")),
            MixerOp::Commit => Ok(self.word("COMMIT")),
        }
    }

    fn cg(self, op: &CgOp) -> Result<Self, EncodeError> {
        match op {
            CgOp::Add {
                cg_layer,
                template,
                play_on_load,
                data,
            } => {
                let w = self
                    .word("ADD")
                    .num(cg_layer)
                    .quoted("template", template, false)?
                    .num(u8::from(*play_on_load));
                match data {
                    Some(d) => w.quoted("cg data", d, true),
                    None => Ok(w),
                }
            }
            CgOp::Play { cg_layer } => Ok(self.word("PLAY").num(cg_layer)),
            CgOp::Stop { cg_layer } => Ok(self.word("STOP").num(cg_layer)),
            CgOp::Next { cg_layer } => Ok(self.word("NEXT").num(cg_layer)),
            CgOp::Update { cg_layer, data } => self
                .word("UPDATE")
                .num(cg_layer)
                .quoted("cg data", data, true),
            CgOp::Remove { cg_layer } => Ok(self.word("REMOVE").num(cg_layer)),
            CgOp::Clear => Ok(self.word("CLEAR")),
        }
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
