//! Names and free text in playlists: ids checked (they become file names and protocol tokens),
//! display names and titles refused when they hide characters (zero-width, direction overrides),
//! text escaped for display, file-safe ids made from names, and new item ids. Split from `model`
//! so the data and its edits read on their own.

use super::model::{MAX_TEXT, PlaylistError, invalid};
use crate::amcp::ChannelLayer;

/// Checks an id (`[A-Za-z0-9_-]{1,64}`): ids become file names and protocol tokens.
pub fn validate_id(field: &'static str, id: &str) -> Result<(), PlaylistError> {
    if id.is_empty() || id.len() > 64 {
        return Err(invalid(field, "must be 1 to 64 characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(invalid(
            field,
            format!(
                "contains {}; an id may contain only letters, digits, '-' and '_'",
                code_point(c)
            ),
        ));
    }
    Ok(())
}

/// `U+202E` for a character, with its category when that is why it was refused.
pub(crate) fn code_point(c: char) -> String {
    match hidden_kind(c) {
        Some(kind) => format!("U+{:04X} ({kind})", u32::from(c)),
        None => format!("U+{:04X} {c:?}", u32::from(c)),
    }
}

/// Why a character must not appear in a name that is shown to people and sent to CasparCG: control
/// characters, line and paragraph separators, and format characters (Unicode category Cf: the
/// bidirectional overrides and isolates U+202A–U+202E, U+2066–U+2069, zero-width characters…),
/// which make the console show one name while another plays.
pub fn hidden_kind(c: char) -> Option<&'static str> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    // Printable ASCII, nearly every character of every clip name and id, needs no table lookup
    // (the lookup was a visible share of the daemon's CPU per edit).
    if matches!(c, ' '..='~') {
        return None;
    }
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible format character"),
        GeneralCategory::LineSeparator => Some("a line separator"),
        GeneralCategory::ParagraphSeparator => Some("a paragraph separator"),
        _ => None,
    }
}

pub(crate) fn validate_text(
    field: &'static str,
    text: &str,
    allow_empty: bool,
) -> Result<(), PlaylistError> {
    if !allow_empty && text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.len() > MAX_TEXT {
        return Err(invalid(field, format!("longer than {MAX_TEXT} bytes")));
    }
    if let Some(c) = text.chars().find(|&c| hidden_kind(c).is_some()) {
        return Err(invalid(
            field,
            format!("contains {}, which is not allowed", code_point(c)),
        ));
    }
    Ok(())
}

/// Titles are free text for people: any printable character, format characters included (emoji
/// joiners, Arabic marks), which the console and the page show escaped; control characters and
/// line breaks are refused as in names.
pub(crate) fn validate_title(text: &str) -> Result<(), PlaylistError> {
    if text.len() > MAX_TEXT {
        return Err(invalid("title", format!("longer than {MAX_TEXT} bytes")));
    }
    let refused = |c: char| hidden_kind(c).is_some() && !is_format(c);
    if let Some(c) = text.chars().find(|&c| refused(c)) {
        return Err(invalid(
            "title",
            format!("contains {}, which is not allowed", code_point(c)),
        ));
    }
    Ok(())
}

/// Unicode category Cf.
pub fn is_format(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

/// `text` with every character that [`hidden_kind`] names written visibly as `<U+202E>`, for
/// showing titles (the console; the web page does the same in JavaScript).
pub fn escape_hidden(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| hidden_kind(c).is_some()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden_kind(c).is_some() {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A clip must be expressible in AMCP: no control characters, and not a keyword the server scans for.
pub(crate) fn validate_clip(clip: &str) -> Result<(), PlaylistError> {
    validate_text("clip", clip, false)?;
    let probe = crate::amcp::Command::LoadBg(
        ChannelLayer {
            channel: 1,
            layer: Some(1),
        },
        crate::amcp::Clip::new(clip),
    );
    probe
        .encode()
        .map(|_| ())
        .map_err(|e| invalid("clip", e.to_string()))
}

pub(crate) fn validate_scheduled(s: &str) -> Result<(), PlaylistError> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts[2] < "60";
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "scheduled",
            format!("{s:?} is not a time of day HH:MM:SS"),
        ))
    }
}

/// A CasparCG tween name (`LINEAR`, `EASEINSINE`…): letters and digits, at most 32.
pub(crate) fn validate_tween(field: &'static str, t: &str) -> Result<(), PlaylistError> {
    if t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid(field, format!("tween {t:?} is not a tween name")));
    }
    Ok(())
}

/// A file-safe id derived from a display name: lower-case ASCII letters and digits, `-` elsewhere.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "playlist".to_owned()
    } else if is_windows_device_name(&out) {
        // `con.json` cannot be opened on Windows, where a copied data directory may end up.
        format!("{out}-playlist")
    } else {
        out
    }
}

/// Windows' reserved device names (`con`, `prn`, `aux`, `nul`, `com1`–`com9`, `lpt1`–`lpt9`), with
/// or without an extension, in any case.
pub fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    match stem.as_str() {
        "con" | "prn" | "aux" | "nul" => true,
        _ => match (stem.get(..3), stem.get(3..)) {
            (Some("com" | "lpt"), Some(d)) => {
                d.len() == 1 && d.bytes().all(|b| (b'1'..=b'9').contains(&b))
            }
            _ => false,
        },
    }
}

/// A new random item id (`i` + 16 hex digits): unique without coordination, even across restarts.
pub fn new_item_id() -> String {
    format!("i{:016x}", fastrand::u64(..))
}
