//! `docs/ws-protocol.md` against the types: the op table lists exactly [`Request::NAMES`], in
//! order; the roles it describes are [`Request::role_needed`]'s; its error tables list exactly
//! [`codes::SESSION`] and [`codes::ENGINE`]; the event table lists every event kind, in the
//! schema's order, and "Applying events" says how to apply each; and it points at the published
//! schema.

use super::{Request, Role, codes, schema};

const DOC: &str = include_str!("../../docs/ws-protocol.md");

/// The text of the section that starts with the heading `title` (up to the next heading of the
/// same or a higher level).
fn section(title: &str) -> &'static str {
    let level = title.chars().take_while(|&c| c == '#').count();
    let start = DOC
        .find(&format!("\n{title}\n"))
        .unwrap_or_else(|| panic!("docs/ws-protocol.md has no {title:?}"));
    let body = &DOC[start + title.len() + 2..];
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let hashes = body[i..].chars().take_while(|&c| c == '#').count();
            (1..=level).contains(&hashes) && body[i + hashes..].starts_with(' ')
        })
        .unwrap_or(body.len());
    &body[..end]
}

/// The words in backticks in `text`, in order.
fn ticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Column `n` (from 0) of every table row in `text`, in order (headers have no backticks, so
/// [`ticked`] finds nothing in them).
fn column(text: &str, n: usize) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .filter_map(|l| l.split('|').nth(n + 1))
        .collect()
}

#[test]
fn the_op_table_lists_exactly_the_ops_in_order() {
    let listed: Vec<&str> = column(section("## Ops"), 0)
        .into_iter()
        .flat_map(ticked)
        .collect();
    assert_eq!(listed, Request::NAMES);
}

#[test]
fn the_documented_roles_are_the_ops_roles() {
    let viewer_ops: Vec<&str> = Request::NAMES
        .iter()
        .copied()
        .filter(|op| Request::role_needed(op) == Some(Role::Viewer))
        .collect();
    let roles = section("### Tokens and roles");
    let viewer = column(roles, 1)
        .into_iter()
        .zip(column(roles, 0))
        .find(|(_, role)| role.trim() == "`viewer`")
        .map(|(can, _)| ticked(can))
        .expect("a viewer row");
    assert_eq!(viewer, viewer_ops, "the viewer row of the roles table");
    let errors = section("## Errors");
    let forbidden = column(errors, 2)
        .into_iter()
        .zip(column(errors, 0))
        .find(|(_, code)| code.trim() == "`forbidden`")
        .map(|(meaning, _)| ticked(meaning))
        .expect("a forbidden row");
    assert_eq!(
        forbidden[1..],
        viewer_ops,
        "the forbidden row: {forbidden:?}"
    );
}

#[test]
fn the_error_tables_list_exactly_the_codes() {
    let errors = section("## Errors");
    let (session, engine) = errors
        .split_once("Codes from the engine")
        .expect("two tables");
    let codes_in = |table: &'static str| -> Vec<&'static str> {
        column(table, 0).into_iter().flat_map(ticked).collect()
    };
    assert_eq!(codes_in(session), codes::SESSION);
    assert_eq!(codes_in(engine), codes::ENGINE);
}

#[test]
fn the_schema_is_mentioned() {
    assert!(DOC.contains(schema::PATH.trim_start_matches("docs/")));
}

/// Every event `kind`, in declaration order, read off the generated schema (so a new kind cannot
/// be left out of the docs).
fn event_kinds() -> Vec<String> {
    let schema = schema::schema();
    let variants = schema["$defs"]["Event"]["oneOf"]
        .as_array()
        .expect("Event is one of its kinds");
    variants
        .iter()
        .map(|v| {
            v["properties"]["kind"]["const"]
                .as_str()
                .expect("each kind is a constant")
                .to_owned()
        })
        .collect()
}

#[test]
fn the_event_table_lists_every_kind_in_order() {
    let kinds = event_kinds();
    assert!(kinds.len() > 10, "{kinds:?}");
    let table: Vec<&str> = column(section("#### `event`"), 0)
        .into_iter()
        .flat_map(ticked)
        .collect();
    assert_eq!(table, kinds);
}

#[test]
fn applying_events_covers_every_kind() {
    let text = section("## Applying events");
    for kind in event_kinds() {
        assert!(
            text.contains(&format!("`{kind}`")),
            "\"Applying events\" does not say how to apply `{kind}`"
        );
    }
    // Each new kind has an example in the event section.
    let events = section("#### `event`");
    for kind in event_kinds() {
        assert!(
            events.contains(&format!("\"kind\":\"{kind}\"")),
            "no JSON example of `{kind}` in the event section"
        );
    }
}
