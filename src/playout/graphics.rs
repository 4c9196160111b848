//! Graphics tied to items (secondary events: stills, templates, mixer changes) and a playlist's
//! standing logo: the data as files and clients see it, and its validation.
//!
//! Times are milliseconds from the item's first frame (or, negative, from its end); the engine
//! turns them into the frame containing that instant on the channel's clock (docs/graphics.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{PlaylistError, validate_id};

/// Most secondary events on one item.
pub const MAX_EVENTS: usize = 32;
/// Longest offset or duration accepted: a day.
pub const MAX_MS: u64 = 24 * 3600 * 1000;
/// Longest template data accepted (it travels in one AMCP line).
pub const MAX_DATA: usize = 16 * 1024;
/// The highest layer and cg-layer number accepted.
pub const MAX_LAYER: i32 = 9999;

/// An item's graphics: whether the playlist's logo shows during it, and its secondary events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemGraphics {
    /// The playlist's standing logo is on during this item (`false` for ads and promos: it goes
    /// off on the item's first frame and comes back with the next item that wants it).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub logo: bool,
    /// Graphics this item fires, in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Secondary>,
}

impl Default for ItemGraphics {
    fn default() -> Self {
        ItemGraphics {
            logo: true,
            events: Vec::new(),
        }
    }
}

impl ItemGraphics {
    /// Nothing set: left out of files and events.
    pub fn is_default(&self) -> bool {
        self.logo && self.events.is_empty()
    }

    /// Validates every event; `clip_layer` is the item's own layer, which graphics may not use.
    pub fn validate(&self, clip_layer: Option<i32>) -> Result<(), PlaylistError> {
        if self.events.len() > MAX_EVENTS {
            return Err(invalid(
                "graphics",
                format!("more than {MAX_EVENTS} events on one item"),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for e in &self.events {
            e.validate(clip_layer)?;
            if !ids.insert(e.id.as_str()) {
                return Err(invalid(
                    "graphics",
                    format!("two events have the id {:?}", e.id),
                ));
            }
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A graphic fired relative to its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secondary {
    /// Unique within the item (`[A-Za-z0-9_-]`), named in the as-run log and by manual commands.
    pub id: String,
    /// The layer on the item's channel (above the clip's layer to be seen over it).
    pub layer: i32,
    /// When it goes on: milliseconds after the item's first frame, or, negative, before its end.
    #[serde(default)]
    pub offset_ms: i64,
    /// How long it stays on; none: until the item ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub graphic: Graphic,
}

impl Secondary {
    fn validate(&self, clip_layer: Option<i32>) -> Result<(), PlaylistError> {
        validate_id("graphics.id", &self.id)?;
        validate_layer(self.layer, clip_layer)?;
        if self.offset_ms.unsigned_abs() > MAX_MS {
            return Err(invalid("graphics.offset_ms", "more than a day"));
        }
        if let Some(d) = self.duration_ms {
            if d == 0 {
                return Err(invalid("graphics.duration_ms", "must be more than 0"));
            }
            if d > MAX_MS {
                return Err(invalid("graphics.duration_ms", "more than a day"));
            }
        }
        self.graphic.validate()
    }
}

/// What a graphic shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Graphic {
    /// An image from the media library (PNG, TGA…): loaded in the background ahead, then played.
    Still { clip: String },
    /// A CasparCG template: added ahead without playing (`CG … ADD … 0`), played on its frame,
    /// stopped at its end and removed a moment later (its out-animation).
    Template {
        template: String,
        /// The template's layer inside the host (CasparCG's "flash layer"; default 1).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        cg_layer: i32,
        /// The template's data: a JSON object, or template XML (`<templateData>…`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<TemplateData>,
    },
    /// A mixer change of the layer, with its tween; undone (back to the defaults) at its end.
    Mixer(MixerChange),
}

fn one() -> i32 {
    1
}

fn is_one(v: &i32) -> bool {
    *v == 1
}

impl Graphic {
    pub fn validate(&self) -> Result<(), PlaylistError> {
        match self {
            Graphic::Still { clip } => validate_name("graphic.clip", clip),
            Graphic::Template {
                template,
                cg_layer,
                data,
            } => {
                validate_name("graphic.template", template)?;
                if !(0..=MAX_LAYER).contains(cg_layer) {
                    return Err(invalid(
                        "graphic.cg_layer",
                        format!("must be 0 to {MAX_LAYER}"),
                    ));
                }
                data.as_ref().map_or(Ok(()), TemplateData::validate)
            }
            Graphic::Mixer(m) => m.validate(),
        }
    }

    /// A short name for people and the as-run log: the clip, the template, or `mixer`.
    pub fn label(&self) -> &str {
        match self {
            Graphic::Still { clip } => clip,
            Graphic::Template { template, .. } => template,
            Graphic::Mixer(_) => "mixer",
        }
    }
}

/// A template's data, sent with `CG … ADD` and `CG … UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TemplateData {
    /// Sent as compact JSON (the template's `update()` receives it as a string to parse).
    Json(serde_json::Map<String, serde_json::Value>),
    /// Template XML as CasparCG's Flash-era templates take it; must start with `<`.
    Xml(String),
}

/// Checks a template function's name as `graphics.invoke` takes it (`CG … INVOKE`): the one rule
/// for the daemon's refusal and the console's check before sending.
pub fn validate_method(method: &str) -> Result<(), &'static str> {
    if method.is_empty() || method.chars().count() > 256 || method.chars().any(char::is_control) {
        return Err(
            "method: give the template function's name (1 to 256 characters, no control characters)",
        );
    }
    Ok(())
}

impl TemplateData {
    /// The parameter as sent (before AMCP quoting, which keeps every character but CR).
    pub fn to_wire(&self) -> String {
        match self {
            // Compact JSON escapes every control character, CR and LF included.
            TemplateData::Json(m) => serde_json::to_string(m).unwrap_or_default(),
            TemplateData::Xml(x) => x.clone(),
        }
    }

    /// Checks what CasparCG could not take: XML that is not XML, a carriage return, the size.
    pub fn validate(&self) -> Result<(), PlaylistError> {
        if let TemplateData::Xml(x) = self {
            // Anything else is taken by CasparCG for the name of a stored DATA file.
            if !x.trim_start().starts_with('<') {
                return Err(invalid(
                    "graphic.data",
                    "give a JSON object, or template XML starting with '<'",
                ));
            }
            // AMCP cannot carry a carriage return inside a parameter.
            if x.contains('\r') {
                return Err(invalid(
                    "graphic.data",
                    "contains a carriage return (U+000D), which AMCP cannot carry; use line feeds",
                ));
            }
        }
        if self.to_wire().len() > MAX_DATA {
            return Err(invalid(
                "graphic.data",
                format!("longer than {MAX_DATA} bytes"),
            ));
        }
        Ok(())
    }
}

/// A level from 0 to 1 (opacity, volume) or a position/scale (fill); never NaN (JSON has none),
/// which is what makes it `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Level(pub f64);

impl Eq for Level {}

/// A mixer change: the properties given are set with the tween, and set back to their defaults
/// (opacity 1, volume 1, fill `0 0 1 1`) with the same tween when the event ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixerChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<Level>,
    /// `[x, y, scale_x, scale_y]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<[Level; 4]>,
    /// The tween's duration in frames (0: at once).
    #[serde(default)]
    pub frames: u32,
    /// Tween name such as `LINEAR` (CasparCG's default when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tween: Option<String>,
}

impl MixerChange {
    fn validate(&self) -> Result<(), PlaylistError> {
        if self.opacity.is_none() && self.volume.is_none() && self.fill.is_none() {
            return Err(invalid(
                "graphic",
                "a mixer change sets opacity, volume or fill",
            ));
        }
        let level = |field: &'static str, v: Level, max: f64| {
            if v.0.is_finite() && (0.0..=max).contains(&v.0) {
                Ok(())
            } else {
                Err(invalid(field, format!("must be from 0 to {max}")))
            }
        };
        if let Some(o) = self.opacity {
            level("graphic.opacity", o, 1.0)?;
        }
        if let Some(v) = self.volume {
            level("graphic.volume", v, 4.0)?;
        }
        if let Some(f) = self.fill {
            for v in f {
                if !v.0.is_finite() || v.0.abs() > 16.0 {
                    return Err(invalid("graphic.fill", "values must be from -16 to 16"));
                }
            }
        }
        if self.frames > super::model::MAX_TRANSITION_FRAMES {
            return Err(invalid(
                "graphic.frames",
                format!("at most {}", super::model::MAX_TRANSITION_FRAMES),
            ));
        }
        if let Some(t) = &self.tween {
            super::model::validate_tween("graphic.tween", t)?;
        }
        Ok(())
    }
}

/// A playlist's standing logo: on its channel while the playlist is on air, over every item that
/// does not turn it off (`graphics.logo: false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logo {
    pub layer: i32,
    /// A still or a template (a mixer change is not a logo). Boxed: a playlist carries it, and
    /// playlists travel by value through the store's queues.
    pub graphic: Box<Graphic>,
}

impl Logo {
    pub fn validate(&self, clip_layer: Option<i32>) -> Result<(), PlaylistError> {
        validate_layer(self.layer, clip_layer).map_err(|e| rename(e, "logo.layer"))?;
        if matches!(*self.graphic, Graphic::Mixer(_)) {
            return Err(invalid("logo", "a logo is a still or a template"));
        }
        self.graphic.validate()
    }
}

fn rename(e: PlaylistError, field: &'static str) -> PlaylistError {
    match e {
        PlaylistError::Invalid { reason, .. } => PlaylistError::Invalid { field, reason },
        e => e,
    }
}

fn validate_layer(layer: i32, clip_layer: Option<i32>) -> Result<(), PlaylistError> {
    if !(1..=MAX_LAYER).contains(&layer) {
        return Err(invalid(
            "graphics.layer",
            format!("must be 1 to {MAX_LAYER}"),
        ));
    }
    if clip_layer == Some(layer) {
        return Err(invalid(
            "graphics.layer",
            format!("layer {layer} is the playlist's own clip layer; use a layer above it"),
        ));
    }
    Ok(())
}

/// Clip and template names: the rules of clip names (no control or invisible characters).
fn validate_name(field: &'static str, name: &str) -> Result<(), PlaylistError> {
    super::model::validate_clip(name).map_err(|e| rename(e, field))
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PlaylistError {
    PlaylistError::Invalid {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
#[path = "graphics_tests.rs"]
mod tests;
