//! The JSON Schema of the protocol, published as `docs/ws-protocol.schema.json` so that web
//! clients in any language can validate what they send and receive.
//!
//! It is generated from the types ([`schemars`]), and a test fails when the file differs from what
//! the types give; `ONAIR_UPDATE_SCHEMA=1 cargo test --lib protocol::schema` rewrites it. One
//! file holds both directions: `$defs/ClientMsg` is what a client may send, `$defs/ServerMsg` what
//! the server sends. The schema describes what a reader accepts (serde's deserializing side), so
//! a field that may be left out is not `required` even where the server always writes it.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::{ClientMsg, ServerMsg};

/// Where the schema is published, relative to the repository.
pub const PATH: &str = "docs/ws-protocol.schema.json";

/// The schema document.
pub fn schema() -> Value {
    let settings = SchemaSettings::draft2020_12();
    let meta = settings.meta_schema.clone();
    let mut generator = settings.into_generator();
    let client = generator.subschema_for::<ClientMsg>();
    let server = generator.subschema_for::<ServerMsg>();
    let defs = generator.take_definitions(true);
    json!({
        "$schema": meta,
        "title": "onair WebSocket protocol (/ws)",
        "description": "Every message is one JSON text frame. Validate what a client sends against \
            #/$defs/ClientMsg and what it receives against #/$defs/ServerMsg. Generated from the \
            Rust types (src/protocol/); docs/ws-protocol.md explains the protocol. Clients must \
            ignore fields they do not know.",
        "anyOf": [client, server],
        "$defs": defs,
    })
}

/// The schema as the published file's text.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::protocol::Request;

    #[test]
    fn the_published_schema_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        let want = schema_text();
        if std::env::var_os("ONAIR_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).expect("write the schema");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            let line = have
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .map_or_else(|| "the end".to_owned(), |n| format!("line {}", n + 1));
            let why = if have.is_empty() {
                "is missing".to_owned()
            } else {
                format!("is not what the protocol types give (first difference at {line})")
            };
            panic!(
                "{PATH} {why}; \
                 regenerate it with `ONAIR_UPDATE_SCHEMA=1 cargo test --lib protocol::schema` \
                 and commit it"
            );
        }
    }

    /// Every op appears as one `oneOf` branch of the command message, with its name as a constant.
    #[test]
    fn every_op_is_in_the_schema() {
        let schema = schema();
        let text = schema.to_string();
        for name in Request::NAMES {
            let needle = json!({ "const": name }).to_string();
            assert_eq!(text.matches(&needle).count(), 1, "{name}");
        }
        assert!(schema["$defs"]["ClientMsg"].is_object());
        assert!(schema["$defs"]["ServerMsg"].is_object());
    }
}
