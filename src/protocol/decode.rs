//! Decoding a command's `args` into its struct with errors a client can act on: they name the op
//! and, where serde can tell, the argument (``item.add: `clip`: invalid type: integer `7`,
//! expected a string``).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ProtocolError;

/// A `bad_request` about `op`.
pub(super) fn bad(op: &str, message: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::BadRequest(format!("{op}: {message}"))
}

/// Decodes `args` (`null` counts as `{}`) into an op's argument struct.
pub(super) fn decode<T: DeserializeOwned>(op: &str, args: Value) -> Result<T, ProtocolError> {
    let map = match args {
        Value::Null => serde_json::Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(bad(
                op,
                format!("args must be an object, not {}", kind_of(&other)),
            ));
        }
    };
    // Decode from text so the error has a position, and map the position back to the argument:
    // serde alone would say "expected a string" without saying which field.
    let mut text = String::from("{");
    let mut spans = Vec::with_capacity(map.len());
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String(key.clone()).to_string());
        text.push(':');
        let start = text.len();
        text.push_str(&value.to_string());
        spans.push((key.as_str(), start, text.len()));
    }
    text.push('}');
    serde_json::from_str(&text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        // serde_json's column is 1-based and points at (or just past) the offending value. A
        // missing field is noticed at the closing brace, next to whichever argument came last,
        // and names itself.
        let at = e.column();
        match spans
            .iter()
            .find(|(_, start, end)| *start < at && at <= *end + 1)
        {
            Some((key, _, _))
                if e.classify() == serde_json::error::Category::Data
                    && !message.starts_with("missing field") =>
            {
                bad(op, format!("`{key}`: {message}"))
            }
            _ => bad(op, message),
        }
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
