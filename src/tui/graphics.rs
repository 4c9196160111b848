//! Graphics (docs/graphics.md) as the console shows them: the rundown's marker of an item's
//! secondary events and of its logo turned off, and the rows of the graphics dialog (`g`): what
//! onair has on the viewed playlist's channel, the events of the item under the rundown cursor,
//! and whether the playlist's logo is on.
//!
//! The dialog's view and its keys (update) both read the rows from here, so the row an operator
//! sees selected is the row a key acts on. A line typed for a template on air (`u` new data, `i` a
//! function to call) is an [`Input`], checked here as the daemon would before it is sent.

use crate::playout::graphics::{
    Graphic, ItemGraphics, MAX_DATA, MixerChange, Secondary, TemplateData,
};
use crate::protocol::{GraphicPhase, Item, LiveGraphic, LiveKind, PlaylistView, Snapshot};

use super::model::Model;

/// The rundown's marker for an item's graphics: `◆2` for two secondary events, `⊘logo` when the
/// playlist's logo is off during it; `None` for an item with neither.
pub fn marker(graphics: &ItemGraphics) -> Option<String> {
    let events = (!graphics.events.is_empty()).then(|| format!("◆{}", graphics.events.len()));
    let logo = (!graphics.logo).then(|| "⊘logo".to_owned());
    let words: Vec<String> = events.into_iter().chain(logo).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A selectable row of the graphics dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row<'a> {
    /// Something onair has on a layer of the channel (`c` clears it).
    Live(&'a LiveGraphic),
    /// A secondary event of the item under the rundown cursor (`f` fires it).
    Event(&'a Item, &'a Secondary),
}

/// The graphics onair has on `pl`'s channel, by layer: those on its server (no `server`: the
/// station's first), as [`super::roles::same_layer`] counts servers.
pub fn live<'a>(state: &'a Snapshot, pl: &PlaylistView) -> Vec<&'a LiveGraphic> {
    let first = state.link.servers.first().map(|s| s.group.as_str());
    let server = pl.playlist.server.as_deref().or(first);
    let mut out: Vec<&LiveGraphic> = state
        .graphics
        .iter()
        .filter(|g| {
            g.channel == pl.playlist.channel_layer.channel
                && g.server.as_deref().or(first) == server
        })
        .collect();
    out.sort_by_key(|g| g.layer);
    out
}

/// The dialog's selectable rows: the live graphics, then the events of the item under the cursor.
pub fn rows(model: &Model) -> Vec<Row<'_>> {
    let Some(pl) = model.playlist() else {
        return Vec::new();
    };
    let mut rows: Vec<Row> = live(&model.state, pl).into_iter().map(Row::Live).collect();
    if let Some(item) = model.selected_item() {
        rows.extend(item.graphics.events.iter().map(|e| Row::Event(item, e)));
    }
    rows
}

/// The selected row's index among `len` rows (the model's may be past a list that shrank).
pub fn selected(model: &Model, len: usize) -> usize {
    model.graphics_row.min(len.saturating_sub(1))
}

/// The selected row, if the dialog has any.
pub fn selected_row(model: &Model) -> Option<Row<'_>> {
    let rows = rows(model);
    let at = selected(model, rows.len());
    rows.get(at).copied()
}

/// The playlist's logo as onair has it: its phase when it is on a layer (prepared to go on, on,
/// or playing its out-animation), `None` when it is not there.
pub fn logo_phase(state: &Snapshot, pl: &PlaylistView) -> Option<GraphicPhase> {
    // An event may be named `logo` too; the logo is the one without an item.
    state
        .graphics
        .iter()
        .find(|g| g.playlist == pl.playlist.id && g.item.is_none() && g.name == "logo")
        .map(|g| g.phase)
}

/// Whether the logo counts as on for the `l` toggle: on air, or prepared to go on (so `l` keeps
/// it from showing). One playing its out-animation is already going off.
pub fn logo_is_on(state: &Snapshot, pl: &PlaylistView) -> bool {
    matches!(
        logo_phase(state, pl),
        Some(GraphicPhase::On | GraphicPhase::Prepared)
    )
}

/// What a line typed in the graphics dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFor {
    /// `graphics.update`: the template's new data.
    Update,
    /// `graphics.invoke`: a function of the template to call.
    Invoke,
}

/// A line the operator types for the template on a layer of the viewed playlist's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub what: InputFor,
    pub playlist: String,
    pub channel: u16,
    pub layer: i32,
    /// The template's name, as the dialog's title says it.
    pub label: String,
    pub text: String,
    /// Why the last Enter sent nothing (cleared by the next key).
    pub error: Option<String>,
}

/// The longest line taken: a template's data at its limit (a method name is far shorter).
pub const INPUT_MAX: usize = MAX_DATA;

impl Input {
    /// `u` or `i` on a live graphic: only a template takes new data or calls; an update starts
    /// from the data on air, so a typo fix is an edit, not a retype.
    pub fn for_live(what: InputFor, g: &LiveGraphic) -> Result<Input, String> {
        let verb = match what {
            InputFor::Update => "update",
            InputFor::Invoke => "invoke",
        };
        if g.kind != LiveKind::Template {
            return Err(format!(
                "{verb}: layer {} shows a still, not a template",
                g.layer
            ));
        }
        if g.phase == GraphicPhase::Stopped {
            return Err(format!("{verb}: layer {} is going off already", g.layer));
        }
        let text = match (what, &g.data) {
            (InputFor::Update, Some(d)) => d.to_wire(),
            (InputFor::Update, None) => "{}".to_owned(),
            (InputFor::Invoke, _) => String::new(),
        };
        Ok(Input {
            what,
            playlist: g.playlist.clone(),
            channel: g.channel,
            layer: g.layer,
            label: g.label.clone(),
            text,
            error: None,
        })
    }
}

/// Typed data as `graphics.update` takes it: template XML when it starts with `<`, else a JSON
/// object; an error says what is wrong, in the words the daemon's refusal would use.
pub fn parse_data(text: &str) -> Result<TemplateData, String> {
    let data = if text.trim_start().starts_with('<') {
        TemplateData::Xml(text.to_owned())
    } else {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => TemplateData::Json(m),
            Ok(_) => return Err("give a JSON object {…}, or template XML starting with '<'".into()),
            Err(e) => return Err(format!("not JSON: {e}")),
        }
    };
    data.validate().map_err(|e| e.to_string())?;
    Ok(data)
}

/// A typed function name as `graphics.invoke` takes it.
pub fn parse_method(text: &str) -> Result<String, String> {
    let m = text.trim();
    if m.is_empty() {
        return Err("type the template function's name, e.g. next_headline".into());
    }
    crate::playout::graphics::validate_method(m)?;
    Ok(m.to_owned())
}

/// A phase in the words of docs/graphics.md.
pub fn phase(p: GraphicPhase) -> &'static str {
    match p {
        GraphicPhase::Prepared => "prepared",
        GraphicPhase::On => "on",
        GraphicPhase::Stopped => "stopped",
    }
}

/// A graphic's kind: `still`, `template` or `mixer`.
pub fn kind(g: &Graphic) -> &'static str {
    match g {
        Graphic::Still { .. } => "still",
        Graphic::Template { .. } => "template",
        Graphic::Mixer(_) => "mixer",
    }
}

/// What a graphic shows, after its kind: the still's clip, the template's name, or what a mixer
/// change sets (`opacity 0 in 50f`).
pub fn what(g: &Graphic) -> String {
    match g {
        Graphic::Mixer(m) => mixer(m),
        _ => g.label().to_owned(),
    }
}

fn mixer(m: &MixerChange) -> String {
    let mut parts = Vec::new();
    if let Some(o) = m.opacity {
        parts.push(format!("opacity {}", o.0));
    }
    if let Some(v) = m.volume {
        parts.push(format!("volume {}", v.0));
    }
    if let Some([x, y, sx, sy]) = m.fill {
        parts.push(format!("fill {} {} {} {}", x.0, y.0, sx.0, sy.0));
    }
    let tween = match m.frames {
        0 => "at once".to_owned(),
        n => format!("in {n}f"),
    };
    format!("{} {tween}", parts.join(", "))
}

/// Milliseconds as seconds, without trailing zeros: `10s`, `2.5s`, `0.04s`.
pub fn secs(ms: u64) -> String {
    let whole = ms / 1000;
    let frac = ms % 1000;
    if frac == 0 {
        return format!("{whole}s");
    }
    let frac = format!("{frac:03}");
    format!("{whole}.{}s", frac.trim_end_matches('0'))
}

/// An event's offset: `+10s` after the item's first frame, `end-2s` before its end.
pub fn offset(ms: i64) -> String {
    if ms < 0 {
        format!("end-{}", secs(ms.unsigned_abs()))
    } else {
        format!("+{}", secs(ms.unsigned_abs()))
    }
}

/// An event's duration: `8s`, or `to end` (on until the item ends).
pub fn duration(ms: Option<u64>) -> String {
    ms.map_or_else(|| "to end".to_owned(), secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures;

    #[test]
    fn the_marker_counts_events_and_says_when_the_logo_is_off() {
        let mut g = ItemGraphics::default();
        assert_eq!(marker(&g), None);
        g.logo = false;
        assert_eq!(marker(&g).as_deref(), Some("⊘logo"));
        g.events = fixtures::events();
        assert_eq!(marker(&g).as_deref(), Some("◆3 ⊘logo"));
        g.logo = true;
        assert_eq!(marker(&g).as_deref(), Some("◆3"));
    }

    #[test]
    fn typed_data_is_a_json_object_or_xml_and_a_method_a_name() {
        let Ok(TemplateData::Json(m)) = parse_data(r#"{"name": "Grace \"A\" Hopper"}"#) else {
            panic!("a JSON object")
        };
        assert_eq!(m["name"], "Grace \"A\" Hopper");
        assert_eq!(
            parse_data("  <templateData/>"),
            Ok(TemplateData::Xml("  <templateData/>".into()))
        );
        assert!(parse_data("[1, 2]").unwrap_err().contains("JSON object"));
        assert!(
            parse_data("{\"name\": ")
                .unwrap_err()
                .starts_with("not JSON")
        );
        assert!(
            parse_data("<a>\r</a>")
                .unwrap_err()
                .contains("carriage return")
        );
        assert_eq!(parse_method("  next_headline "), Ok("next_headline".into()));
        assert!(parse_method("   ").is_err());
        assert!(parse_method(&"x".repeat(257)).is_err());
    }

    #[test]
    fn only_a_template_on_air_takes_a_line_and_an_update_starts_from_its_data() {
        let state = fixtures::graphics_snapshot();
        let at = |name: &str| state.graphics.iter().find(|g| g.name == name).unwrap();
        let update = Input::for_live(InputFor::Update, at("name")).expect("a template");
        assert_eq!(
            update.text,
            r#"{"name":"Ada Lovelace","role":"Mathematician"}"#
        );
        assert_eq!((update.channel, update.layer), (1, 20));
        assert_eq!(
            Input::for_live(InputFor::Invoke, at("name")).unwrap().text,
            ""
        );
        let still = Input::for_live(InputFor::Update, at("logo")).unwrap_err();
        assert!(still.contains("a still"), "{still}");
        let mut going = at("name").clone();
        going.phase = GraphicPhase::Stopped;
        assert!(Input::for_live(InputFor::Invoke, &going).is_err());
        let mut bare = at("clock").clone();
        bare.data = None;
        assert_eq!(Input::for_live(InputFor::Update, &bare).unwrap().text, "{}");
    }

    #[test]
    fn times_read_as_seconds() {
        assert_eq!(secs(10_000), "10s");
        assert_eq!(secs(2_500), "2.5s");
        assert_eq!(secs(40), "0.04s");
        assert_eq!(offset(0), "+0s");
        assert_eq!(offset(-2_000), "end-2s");
        assert_eq!(duration(None), "to end");
        assert_eq!(duration(Some(8_000)), "8s");
    }

    #[test]
    fn a_mixer_change_says_what_it_sets() {
        let events = fixtures::events();
        assert_eq!(what(&events[0].graphic), "LOWER_THIRD");
        assert_eq!(what(&events[2].graphic), "opacity 0 in 50f");
        let Graphic::Mixer(mut m) = events[2].graphic.clone() else {
            panic!("a mixer change")
        };
        m.fill = Some([0.0, 0.0, 0.5, 0.5].map(crate::playout::graphics::Level));
        m.frames = 0;
        assert_eq!(
            what(&Graphic::Mixer(m)),
            "opacity 0, fill 0 0 0.5 0.5 at once"
        );
    }

    #[test]
    fn live_graphics_are_those_of_the_playlists_channel_and_server() {
        let mut state = fixtures::graphics_snapshot();
        let pl = state.playlists[0].clone();
        let names =
            |s: &Snapshot| -> Vec<String> { live(s, &pl).iter().map(|g| g.name.clone()).collect() };
        // Channel 2's clock is another channel's.
        assert_eq!(names(&state), ["name", "logo"]);
        // Two servers: a graphic without `server` is on the first one, as the playlist is.
        let [main, backup] = fixtures::pair();
        state.link.servers = vec![
            crate::protocol::ServerView {
                group: "a".into(),
                ..main
            },
            crate::protocol::ServerView {
                group: "b".into(),
                ..backup
            },
        ];
        let at = |s: &Snapshot, name: &str| s.graphics.iter().position(|g| g.name == name);
        let third = at(&state, "name").expect("the lower third");
        state.graphics[third].server = Some("b".into());
        assert_eq!(names(&state), ["logo"]);
        state.graphics[third].server = Some("a".into());
        assert_eq!(names(&state), ["name", "logo"]);
        assert!(logo_is_on(&state, &pl));
        let logo = at(&state, "logo").expect("the logo");
        state.graphics[logo].phase = GraphicPhase::Prepared;
        assert!(logo_is_on(&state, &pl), "about to go on");
        state.graphics[logo].phase = GraphicPhase::Stopped;
        assert!(!logo_is_on(&state, &pl));
    }
}
