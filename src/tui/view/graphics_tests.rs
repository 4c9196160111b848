//! Snapshots of graphics in the console (issue 19): the rundown's markers at 80 columns, and the
//! graphics dialog with a live lower third and the logo, for an operator and for a viewer.

use super::tests::{render, snapshot};
use crate::protocol::{Role, ServerMsg};
use crate::tui::client::NetEvent;
use crate::tui::fixtures;
use crate::tui::message::{Message, Move};
use crate::tui::model::Model;
use crate::tui::update::update;

fn model() -> Model {
    fixtures::model_of(80, 24, fixtures::graphics_snapshot())
}

#[test]
fn the_rundown_marks_events_and_the_logo_off_in_the_clip_column_80x24() {
    let model = model();
    let text = render(&model);
    for want in [
        "ONAIR CLIP2 ◆3 · Interview",
        "      SHORT ⊘logo ",
        "  AUTO  NEWS/OPENER              00:00:20",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    snapshot("graphics_markers_80x24", &model);
}

#[test]
fn the_graphics_dialog_lists_live_graphics_events_and_the_logo_80x24() {
    let mut model = model();
    update(&mut model, Message::ToggleGraphics);
    update(&mut model, Message::Move(Move::Down));
    update(&mut model, Message::Move(Move::Down));
    let text = render(&model);
    for want in [
        "Graphics · Main (1-10)",
        "On channel 1",
        "20  name              LOWER_THIRD             on",
        "30  logo              LOGO                    on",
        "Events of «Interview»",
        "›    20  name                 +10s      8s  template LOWER_THIRD",
        "25  bug                end-5s  to end  still LIVE_BUG",
        "40  fade               end-2s      2s  mixer opacity 0 in 50f",
        "Logo: layer 30 · still LOGO · on",
        "f/Enter fire",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    assert!(!text.contains("CLOCK"), "channel 2's graphics: {text}");
    snapshot("graphics_dialog_80x24", &model);
}

#[test]
fn a_viewer_sees_the_graphics_without_the_action_keys() {
    let mut model = model();
    update(
        &mut model,
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Hello {
            server_version: "x".into(),
            boot_id: "boot-1".into(),
            seq: 41,
            role: Role::Viewer,
        }))),
    );
    update(&mut model, Message::ToggleGraphics);
    let text = render(&model);
    assert!(
        text.contains("LOWER_THIRD") && text.contains("read-only"),
        "{text}"
    );
    for gone in ["fire", "clear", "logo on/off"] {
        assert!(!text.contains(gone), "{gone} offered to a viewer:\n{text}");
    }
}

#[test]
fn the_logo_off_for_an_ad_says_why_and_an_item_without_events_says_so() {
    let mut model = model();
    // The ad is on air, the logo off for it.
    let pl = &mut model.state.playlists[0];
    pl.playout.on_air = Some("i3".into());
    model.state.graphics.retain(|g| g.name != "logo");
    model.derive();
    update(&mut model, Message::Move(Move::Down));
    update(&mut model, Message::Move(Move::Down));
    update(&mut model, Message::ToggleGraphics);
    let text = render(&model);
    for want in [
        "Events of «SHORT» · logo off during it",
        "none (↑↓ in the rundown choose another item)",
        "Logo: layer 30 · still LOGO · off («SHORT» has the logo off)",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
}

#[test]
fn a_long_list_scrolls_to_keep_the_selection_in_sight() {
    let mut model = model();
    let item = &model.state.playlists[0].playlist.items[1];
    let mut item = (**item).clone();
    item.graphics.events = (0..30)
        .map(|k| {
            let mut e = fixtures::events().remove(1);
            e.id = format!("ev{k}");
            e
        })
        .collect();
    model.state.playlists[0].playlist.items.set(1, item.into());
    update(&mut model, Message::ToggleGraphics);
    update(&mut model, Message::Move(Move::End));
    let text = render(&model);
    assert!(text.contains(" ›    25  ev29"), "{text}");
    assert!(text.contains("Esc close"), "the keys stay: {text}");
}

#[test]
fn the_line_for_a_template_shows_its_data_its_end_and_why_it_was_not_sent_80x24() {
    let mut model = model();
    update(&mut model, Message::ToggleGraphics);
    update(&mut model, Message::UpdateGraphic);
    let text = render(&model);
    for want in [
        "Update LOWER_THIRD · 1-20",
        "New data: a JSON object",
        r#"{"name":"Ada Lovelace","role":"Mathematician"}▏"#,
        "Enter send  Ctrl-U clear  Esc back",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    snapshot("graphics_input_80x24", &model);
    // A line longer than the box shows its end, where the cursor is; a refusal says why.
    update(&mut model, Message::InputClear);
    for c in format!("{{\"text\":\"{}END\"", "x".repeat(600)).chars() {
        update(&mut model, Message::InputChar(c));
    }
    update(&mut model, Message::InputSubmit);
    let text = render(&model);
    assert!(text.contains("…xxx"), "{text}");
    assert!(text.contains("END\"▏"), "{text}");
    assert!(text.contains("not JSON"), "{text}");
}
