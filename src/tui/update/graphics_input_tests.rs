//! The graphics dialog's line for a template on air: `u` opens it with the data on air to edit,
//! `i` with an empty function name; Enter checks the line as the daemon would and sends
//! `graphics.update` / `graphics.invoke`, or keeps the line with the reason; Esc goes back to the
//! graphics dialog; a still and a viewer are refused; a line typed while the link is down stays.
//! The dialog, its keys and the command sent are read as in `graphics_tests`.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

use super::graphics_tests::{dialog, key, sent};
use super::{Effect, update};
use crate::tui::client::NetEvent;
use crate::tui::graphics::InputFor;
use crate::tui::message::{Message, map_key};
use crate::tui::model::{Dialog, Model};

/// A key with modifiers, as the console maps it in the current mode, applied.
fn press(m: &mut Model, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
    match map_key(m, KeyEvent::new(code, modifiers)) {
        Some(msg) => update(m, msg),
        None => vec![],
    }
}

fn typed(m: &mut Model, text: &str) {
    for c in text.chars() {
        key(m, KeyCode::Char(c));
    }
}

fn line(m: &Model) -> (&str, Option<&str>) {
    match &m.dialog {
        Some(Dialog::GraphicsInput(i)) => (i.text.as_str(), i.error.as_deref()),
        other => panic!("the line dialog is not open: {other:?}"),
    }
}

#[test]
fn u_edits_the_data_on_air_and_enter_sends_it_as_an_update() {
    let mut m = dialog();
    assert!(key(&mut m, KeyCode::Char('u')).is_empty());
    let (text, error) = line(&m);
    assert_eq!(text, r#"{"name":"Ada Lovelace","role":"Mathematician"}"#);
    assert_eq!(error, None);
    // Ctrl-U empties the line; the new data is typed, quotes and non-ASCII included.
    press(&mut m, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(line(&m).0, "");
    typed(
        &mut m,
        r#"{"name":"Grace \"Amazing\" Hopper","city":"Zürich"}"#,
    );
    let (_, op, args) = sent(&key(&mut m, KeyCode::Enter));
    assert_eq!(op, "graphics.update");
    assert_eq!(
        args,
        json!({"playlist": "main", "layer": 20,
               "data": {"name": "Grace \"Amazing\" Hopper", "city": "Zürich"}})
    );
    assert_eq!(m.dialog, Some(Dialog::Graphics), "back to the list");
}

#[test]
fn a_line_that_is_not_data_stays_with_the_reason_and_xml_goes_as_it_is() {
    let mut m = dialog();
    key(&mut m, KeyCode::Char('u'));
    key(&mut m, KeyCode::Backspace);
    assert!(key(&mut m, KeyCode::Enter).is_empty(), "nothing sent");
    let (text, error) = line(&m);
    assert_eq!(text, r#"{"name":"Ada Lovelace","role":"Mathematician""#);
    assert!(
        error.is_some_and(|e| e.starts_with("not JSON")),
        "{error:?}"
    );
    // The next key clears the reason; XML is sent as typed.
    press(&mut m, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(line(&m).1, None);
    typed(
        &mut m,
        "<templateData><componentData id=\"f0\"/></templateData>",
    );
    let (_, _, args) = sent(&key(&mut m, KeyCode::Enter));
    assert_eq!(
        args["data"],
        "<templateData><componentData id=\"f0\"/></templateData>"
    );
}

#[test]
fn i_sends_the_function_typed_and_esc_goes_back_without_sending() {
    let mut m = dialog();
    key(&mut m, KeyCode::Char('i'));
    assert!(matches!(&m.dialog, Some(Dialog::GraphicsInput(i)) if i.what == InputFor::Invoke));
    assert!(
        key(&mut m, KeyCode::Enter).is_empty(),
        "an empty name is not sent"
    );
    assert!(line(&m).1.is_some());
    typed(&mut m, "next_headline");
    let (_, op, args) = sent(&key(&mut m, KeyCode::Enter));
    assert_eq!(op, "graphics.invoke");
    assert_eq!(
        args,
        json!({"playlist": "main", "layer": 20, "method": "next_headline"})
    );
    key(&mut m, KeyCode::Char('i'));
    typed(&mut m, "other");
    assert!(key(&mut m, KeyCode::Esc).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics));
}

#[test]
fn a_still_takes_no_line_and_a_line_typed_offline_is_kept() {
    let mut m = dialog();
    key(&mut m, KeyCode::Down);
    assert!(key(&mut m, KeyCode::Char('u')).is_empty());
    assert_eq!(m.dialog, Some(Dialog::Graphics));
    let notice = m.notice.as_ref().map_or("", |n| n.text.as_str());
    assert!(notice.contains("a still"), "{notice}");
    key(&mut m, KeyCode::Up);
    key(&mut m, KeyCode::Char('i'));
    typed(&mut m, "next_headline");
    update(
        &mut m,
        Message::Net(NetEvent::Disconnected {
            reason: "gone".into(),
            retry_in: Duration::from_secs(1),
        }),
    );
    assert!(key(&mut m, KeyCode::Enter).is_empty());
    let (text, error) = line(&m);
    assert_eq!(text, "next_headline", "nothing typed is lost");
    assert!(
        error.is_some_and(|e| e.contains("not connected")),
        "{error:?}"
    );
}
