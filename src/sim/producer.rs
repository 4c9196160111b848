//! Producers as a layer sees them: the ffmpeg clip (frame counting, IN/OUT/LOOP/SEEK), stills, colours, template hosts, transitions.
//!
//! All frame numbers are in channel ticks, like the 2.4 ffmpeg producer (`time()`, `duration()`,
//! `nb_frames()` are rescaled to the channel's frame rate).

/// `nb_frames()` of a looping clip and of producers without a length: AUTO never fires behind them.
pub const UNKNOWN_LENGTH: i64 = u32::MAX as i64;

/// An ffmpeg clip producer.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// The name as given in the command (`file/name`), e.g. `clip2` for `PLAY 1-10 clip2`.
    pub name: String,
    /// Resolved absolute path (`file/path`).
    pub path: String,
    /// Per-stream rates (`file/streams/<k>/fps`).
    pub streams: Vec<(i32, i32)>,
    /// Whole file length in ticks.
    pub file_len: i64,
    /// In-point (IN/SEEK/`CALL IN`), ticks from the start of the file.
    pub start: i64,
    /// Clip length from the in-point (LENGTH, OUT − IN, `CALL LENGTH`); the file length by default.
    pub duration: i64,
    /// The frame on screen, in ticks from the start of the file (the server's `time()`).
    pub time: i64,
    /// The next pulled frame is `time` itself (after creation or a seek) rather than `time + 1`.
    pub fresh: bool,
    /// Past the last frame: the last frame is held and `time` reads the clip end.
    pub eof: bool,
    pub looping: bool,
    /// The producer has decoded something: before that its state reads `clip 0 0`, `time 0 0`
    /// and has no streams (the snapshot a waiting background shows).
    pub probed: bool,
}

/// Why a `CALL` was refused: 2.3 answers 403 / 501, 2.4+ answer nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// A value that does not parse (`LOOP true`, `SEEK abc`).
    BadValue,
    /// Unknown sub-command, or `SEEK` without a value.
    Unknown,
}

impl Clip {
    /// The last tick the clip plays to (exclusive): OUT/LENGTH or the end of the file.
    pub fn end(&self) -> i64 {
        self.start.saturating_add(self.duration).min(self.file_len)
    }

    /// `nb_frames()`: the clip length, or 2^32−1 while looping.
    pub fn nb_frames(&self) -> i64 {
        if self.looping {
            UNKNOWN_LENGTH
        } else {
            self.duration.clamp(0, UNKNOWN_LENGTH)
        }
    }

    /// Pulls one frame: the first after a load/seek shows `time`, then `time + 1` until the end,
    /// where a looping clip wraps to the in-point and others hold the last frame (`time` = end).
    pub fn receive(&mut self) {
        self.probed = true;
        let end = self.end();
        if self.fresh {
            self.fresh = false;
            if self.time >= end {
                self.eof = true;
                self.time = end.max(0);
            }
            return;
        }
        if self.eof {
            return;
        }
        if self.time.saturating_add(1) < end {
            self.time += 1;
        } else if self.looping && self.start < end {
            self.time = self.start;
        } else {
            self.eof = true;
            self.time = end.max(0);
        }
    }

    /// Moves to `target` (clamped to the file); the next pulled frame shows it.
    pub fn seek(&mut self, target: i64) {
        self.time = target.clamp(0, self.file_len);
        self.fresh = true;
        self.eof = false;
    }

    /// `CALL`/`CALLBG` on an ffmpeg producer; the `Ok` string is the reply's data line.
    pub fn call(&mut self, params: &[String]) -> Result<String, CallError> {
        let cmd = params.first().map(String::as_str).unwrap_or_default();
        let value = params.get(1).map(String::as_str).filter(|v| !v.is_empty());
        let int = |s: &str| s.parse::<i64>().map_err(|_| CallError::BadValue);
        self.probed = true;
        if cmd.eq_ignore_ascii_case("LOOP") {
            if let Some(v) = value {
                // boost::lexical_cast<bool> takes exactly "0" or "1".
                self.looping = match v {
                    "1" => true,
                    "0" => false,
                    _ => return Err(CallError::BadValue),
                };
                if self.looping && self.eof {
                    self.seek(self.start);
                }
            }
            Ok(if self.looping { "1" } else { "0" }.into())
        } else if cmd.eq_ignore_ascii_case("IN") || cmd.eq_ignore_ascii_case("START") {
            if let Some(v) = value {
                self.start = int(v)?;
            }
            Ok(self.start.to_string())
        } else if cmd.eq_ignore_ascii_case("OUT") {
            if let Some(v) = value {
                self.duration = int(v)?.saturating_sub(self.start);
            }
            Ok(self.start.saturating_add(self.duration).to_string())
        } else if cmd.eq_ignore_ascii_case("LENGTH") {
            if let Some(v) = value {
                self.duration = int(v)?;
            }
            Ok(self.duration.to_string())
        } else if cmd.eq_ignore_ascii_case("SEEK") && value.is_some() {
            let v = value.unwrap_or_default();
            let mut target = if v.eq_ignore_ascii_case("rel") {
                self.time
            } else if v.eq_ignore_ascii_case("in") {
                self.start
            } else if v.eq_ignore_ascii_case("out") {
                self.start.saturating_add(self.duration)
            } else if v.eq_ignore_ascii_case("end") {
                // As the server does: `end` is the clip *length*, not in-point + length.
                self.duration
            } else {
                int(v)?
            };
            if let Some(offset) = params.get(2) {
                target = target.saturating_add(int(offset)?);
            }
            self.seek(target);
            Ok(target.to_string())
        } else {
            Err(CallError::Unknown)
        }
    }
}

/// A `CG` template host occupying a layer: the html producer showing one page.
///
/// The 2.3–2.5 html producer is not reusable: every `CG ADD` creates a new one (a new page) and
/// loads it into the layer, and its cg proxy ignores the cg-layer number (docs/simulator.md, "CG and
/// templates"). So a host holds at most one template instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateHost {
    /// The page's URL, published as `file/path`: `file://` + the template's file, or the `http(s)`
    /// URL `CG ADD` was given.
    pub url: String,
    /// The template instance; `None` once `CG REMOVE` made the page remove itself (the layer still
    /// holds the html producer, which then publishes no state).
    pub page: Option<CgItem>,
}

/// One template instance inside a host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CgItem {
    /// The cg-layer of the `CG ADD` that created it (the server keeps no other use for it).
    pub cg_layer: i32,
    /// The template name as `CG ADD` gave it (`lower_third`, `TICKER/NEWS`).
    pub template: String,
    /// Set by `CG ADD … 1` and `CG PLAY`, cleared by `CG STOP`.
    pub playing: bool,
    /// The last data sent (`CG ADD`, `CG UPDATE`), after AMCP unescaping; a DATA file's content
    /// when the command named one; empty when none was given.
    pub data: String,
}

/// What occupies a foreground or background slot.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Producer {
    /// Nothing (`frame_producer::empty()`).
    #[default]
    Empty,
    Clip(Box<Clip>),
    /// A still image (`image` producer).
    Image {
        name: String,
        path: String,
    },
    /// A colour (`PLAY 1-10 RED`, `#FF000000`) or the transparent blank of `CLEAR_ON_404`.
    Color {
        color: String,
    },
    Template(TemplateHost),
}

impl Producer {
    /// The producer's `name()`, as published in `…/producer`.
    pub fn name(&self) -> &'static str {
        match self {
            Producer::Empty => "empty",
            Producer::Clip(_) => "ffmpeg",
            Producer::Image { .. } => "image",
            Producer::Color { .. } => "color",
            Producer::Template(_) => "html",
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Producer::Empty)
    }

    pub fn nb_frames(&self) -> i64 {
        match self {
            Producer::Clip(c) => c.nb_frames(),
            _ => UNKNOWN_LENGTH,
        }
    }

    pub fn frame_number(&self) -> i64 {
        match self {
            Producer::Clip(c) => c.time,
            _ => 0,
        }
    }

    /// One tick of playback.
    pub fn receive(&mut self) {
        if let Producer::Clip(c) = self {
            c.receive();
        }
    }

    /// A paused tick still shows (and so probes) the current frame.
    pub fn touch(&mut self) {
        if let Producer::Clip(c) = self {
            c.probed = true;
        }
    }

    /// `CALL` on this producer: `Ok(None)` when the producer returns no result (`202 CALL OK`).
    pub fn call(&mut self, params: &[String]) -> Result<Option<String>, CallError> {
        match self {
            Producer::Clip(c) => c.call(params).map(Some),
            _ => Ok(None),
        }
    }

    pub fn looping(&self) -> bool {
        matches!(self, Producer::Clip(c) if c.looping)
    }
}

/// The transition keyword group of LOADBG/PLAY: the protocol's own kinds.
pub use crate::amcp::TransitionKind;

/// Transition parameters; the default is the zero-length cut every LOADBG is wrapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionInfo {
    pub kind: TransitionKind,
    /// Frames (ticks); also the AUTO delta.
    pub duration: u32,
    pub tween: String,
    /// `from_left` / `from_right` (published by 2.5).
    pub from_right: bool,
}

impl Default for TransitionInfo {
    fn default() -> Self {
        TransitionInfo {
            kind: TransitionKind::Cut,
            duration: 0,
            tween: "linear".into(),
            from_right: false,
        }
    }
}

impl TransitionInfo {
    /// `<CUT|MIX|PUSH|SLIDE|WIPE> <frames> [LINEAR|EASE…] [LEFT|RIGHT|FROMLEFT|FROMRIGHT]` anywhere in
    /// the parameters; like the server's greedy regex, the last such group wins.
    pub fn parse(params: &[String]) -> TransitionInfo {
        for i in (0..params.len()).rev() {
            let Some(kind) = TransitionKind::parse(&params[i]) else {
                continue;
            };
            let Some(duration) = params
                .get(i + 1)
                .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(duration) = duration.parse::<u32>() else {
                continue;
            };
            let mut info = TransitionInfo {
                kind,
                duration,
                ..TransitionInfo::default()
            };
            let mut next = i + 2;
            if let Some(t) = params.get(next) {
                let upper = t.to_ascii_uppercase();
                if upper == "LINEAR" || upper.starts_with("EASE") {
                    info.tween = t.to_ascii_lowercase();
                    next += 1;
                }
            }
            if let Some(d) = params.get(next) {
                // The server's LEFT means "towards the left", i.e. coming from the right.
                match d.to_ascii_uppercase().as_str() {
                    "FROMRIGHT" | "LEFT" => info.from_right = true,
                    _ => {}
                }
            }
            return info;
        }
        TransitionInfo::default()
    }

    pub fn direction(&self) -> &'static str {
        if self.from_right {
            "from_right"
        } else {
            "from_left"
        }
    }
}

/// A foreground shown through a running transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTransition {
    pub info: TransitionInfo,
    /// Ticks pulled so far.
    pub ticks: u32,
}

impl ActiveTransition {
    /// The published `transition/frame` current value: a cut shows `0 0`, `MIX 10` shows 1…10.
    pub fn frame(&self) -> u32 {
        self.ticks.min(self.info.duration)
    }

    /// A cut is visible for one tick; a transition of d frames for d ticks.
    pub fn finished(&self) -> bool {
        self.ticks >= self.info.duration.max(1)
    }
}

/// Named colours the colour producer accepts besides `#AARRGGBB`/`#RRGGBB`.
const COLORS: &[&str] = &[
    "EMPTY", "BLACK", "WHITE", "RED", "GREEN", "BLUE", "ORANGE", "YELLOW", "BROWN", "GRAY", "TEAL",
];

/// A colour producer for `name`, if it is one.
pub fn color_producer(name: &str) -> Option<Producer> {
    let hex = name.strip_prefix('#').is_some_and(|h| {
        (h.len() == 6 || h.len() == 8) && h.bytes().all(|b| b.is_ascii_hexdigit())
    });
    (hex || COLORS.iter().any(|c| c.eq_ignore_ascii_case(name))).then(|| Producer::Color {
        color: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(len: i64) -> Clip {
        Clip {
            name: "C".into(),
            path: "/c.mp4".into(),
            streams: vec![(25, 1)],
            file_len: len,
            start: 0,
            duration: len,
            time: 0,
            fresh: true,
            eof: false,
            looping: false,
            probed: false,
        }
    }

    fn p(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn transition_parsing() {
        let t = TransitionInfo::parse(&p(&["AMB", "LOOP", "mix", "25", "easeinsine", "fromright"]));
        assert_eq!(
            (t.kind, t.duration, t.tween.as_str(), t.direction()),
            (TransitionKind::Mix, 25, "easeinsine", "from_right")
        );
        assert_eq!(
            TransitionInfo::parse(&p(&["AMB", "MIX"])),
            TransitionInfo::default()
        );
        assert_eq!(
            TransitionInfo::parse(&p(&["PUSH", "x", "WIPE", "3", "LEFT"])).duration,
            3
        );
    }

    #[test]
    fn receive_holds_last_frame_and_loops() {
        let mut c = clip(3);
        let times: Vec<i64> = (0..5)
            .map(|_| {
                c.receive();
                c.time
            })
            .collect();
        assert_eq!(times, vec![0, 1, 2, 3, 3]);
        assert!(c.eof);
        let mut c = clip(3);
        c.looping = true;
        let times: Vec<i64> = (0..5)
            .map(|_| {
                c.receive();
                c.time
            })
            .collect();
        assert_eq!(times, vec![0, 1, 2, 0, 1]);
    }

    #[test]
    fn extreme_call_values_do_not_overflow() {
        let mut c = clip(10);
        let max = i64::MAX.to_string();
        let min = i64::MIN.to_string();
        for call in [
            ["IN", min.as_str()],
            ["LENGTH", max.as_str()],
            ["LOOP", "1"],
            ["OUT", min.as_str()],
        ] {
            assert!(c.call(&p(&call)).is_ok(), "{call:?}");
            for _ in 0..3 {
                c.receive();
            }
            let _ = c.nb_frames();
        }
        assert!(c.call(&p(&["SEEK", &max, &max])).is_ok());
        assert!(c.call(&p(&["SEEK", "rel", &min])).is_ok());
        assert!(c.call(&p(&["SEEK", "99999999999999999999"])).is_err());
        c.receive();
        assert!((0..=10).contains(&c.time));
    }

    #[test]
    fn call_results_and_errors() {
        let mut c = clip(250);
        assert_eq!(c.call(&p(&["SEEK", "100"])), Ok("100".into()));
        assert_eq!(c.call(&p(&["seek", "rel", "-10"])), Ok("90".into()));
        assert_eq!(c.call(&p(&["LOOP"])), Ok("0".into()));
        assert_eq!(c.call(&p(&["LOOP", "1"])), Ok("1".into()));
        assert_eq!(c.call(&p(&["LOOP", "true"])), Err(CallError::BadValue));
        assert_eq!(c.call(&p(&["IN", "10"])), Ok("10".into()));
        assert_eq!(c.call(&p(&["OUT", "60"])), Ok("60".into()));
        assert_eq!(c.call(&p(&["LENGTH"])), Ok("50".into()));
        assert_eq!(c.call(&p(&["SEEK", "end"])), Ok("50".into()));
        assert_eq!(c.call(&p(&["SEEK"])), Err(CallError::Unknown));
        assert_eq!(c.call(&p(&["FOO", "1"])), Err(CallError::Unknown));
        assert_eq!(c.call(&p(&["SEEK", "x"])), Err(CallError::BadValue));
    }
}
