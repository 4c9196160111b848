//! Writing a typed command as one AMCP line: the quoting, escaping and validation rules of docs/amcp-notes.md §3.

use std::fmt::{self, Write as _};

use super::{
    CallOp, CgOp, ChannelLayer, Clip, EncodeError, MixerOp, MixerTween, RESERVED_CLIP_NAMES,
    Transition,
};

/// Builds a command line token by token; every method adds a leading space except the first word.
pub(super) struct LineWriter<'a> {
    pub(super) out: &'a mut String,
}

impl<'a> LineWriter<'a> {
    pub(super) fn sep(&mut self) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
    }

    pub(super) fn word(mut self, word: &str) -> Self {
        self.sep();
        self.out.push_str(word);
        self
    }

    pub(super) fn addr(mut self, cl: &ChannelLayer) -> Self {
        self.sep();
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{cl}");
        self
    }

    pub(super) fn num(mut self, n: impl fmt::Display) -> Self {
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    pub(super) fn float(self, field: &'static str, v: f64) -> Result<Self, EncodeError> {
        if !v.is_finite() {
            return Err(EncodeError::NotFinite { field });
        }
        Ok(self.num(v))
    }

    /// A bare keyword-like token: letters, digits and `_-.` only, so it can never need quoting.
    pub(super) fn keyword(self, field: &'static str, value: &str) -> Result<Self, EncodeError> {
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
    pub(super) fn quoted(
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

    pub(super) fn opt_clip(self, clip: Option<&Clip>) -> Result<Self, EncodeError> {
        match clip {
            Some(c) => self.clip(c),
            None => Ok(self),
        }
    }

    pub(super) fn clip(self, clip: &Clip) -> Result<Self, EncodeError> {
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

    pub(super) fn transition(self, t: &Transition) -> Result<Self, EncodeError> {
        let mut w = self.word(t.kind.keyword()).num(t.frames);
        if let Some(tween) = &t.tween {
            w = w.keyword("tween", tween)?;
        }
        if let Some(d) = t.direction {
            w = w.word(d.keyword());
        }
        Ok(w)
    }

    pub(super) fn call(self, op: &CallOp) -> Self {
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

    pub(super) fn opt_num(self, v: Option<u64>) -> Self {
        match v {
            Some(v) => self.num(v),
            None => self,
        }
    }

    pub(super) fn tween(self, t: Option<&MixerTween>) -> Result<Self, EncodeError> {
        let Some(t) = t else { return Ok(self) };
        let w = self.num(t.frames);
        match &t.tween {
            Some(name) => w.keyword("tween", name),
            None => Ok(w),
        }
    }

    pub(super) fn setter(
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

    pub(super) fn mixer(self, op: &MixerOp) -> Result<Self, EncodeError> {
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

    pub(super) fn cg(self, op: &CgOp) -> Result<Self, EncodeError> {
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
            CgOp::Invoke { cg_layer, method } => {
                self.word("INVOKE")
                    .num(cg_layer)
                    .quoted("cg method", method, false)
            }
            CgOp::Clear => Ok(self.word("CLEAR")),
        }
    }
}
