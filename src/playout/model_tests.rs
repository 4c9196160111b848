//! Tests for playlist edits and validation.

use super::*;

fn pl() -> Playlist {
    Playlist::new("main", "Main", "1-10".parse().unwrap())
}

fn item(id: &str, clip: &str) -> Item {
    Item::new(id.into(), clip)
}

#[test]
fn insert_move_remove_update() {
    let limits = Limits::default();
    let mut p = pl();
    p.insert(None, item("a", "CLIP1"), &limits).unwrap();
    p.insert(None, item("b", "CLIP2"), &limits).unwrap();
    p.insert(Some(0), item("c", "SHORT"), &limits).unwrap();
    assert_eq!(
        p.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["c", "a", "b"]
    );
    p.move_item("c", 2).unwrap();
    assert_eq!(
        p.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let fields = ItemFields {
        title: Some(Some("Opener".into())),
        looping: Some(true),
        ..ItemFields::default()
    };
    p.update("a", &fields).unwrap();
    assert_eq!(p.items[0].title.as_deref(), Some("Opener"));
    assert!(p.items[0].looping);
    assert_eq!(p.remove("b").unwrap().clip, "CLIP2");
    assert_eq!(p.revision, 6);
}

#[test]
fn edits_fail_cleanly() {
    let limits = Limits {
        max_playlists: 1,
        max_items: 2,
    };
    let mut p = pl();
    p.insert(None, item("a", "CLIP1"), &limits).unwrap();
    assert_eq!(
        p.insert(Some(5), item("b", "X"), &limits),
        Err(PlaylistError::IndexOutOfRange { index: 5, len: 1 })
    );
    assert!(matches!(
        p.insert(None, item("a", "X"), &limits),
        Err(PlaylistError::Invalid { .. })
    ));
    p.insert(None, item("b", "X"), &limits).unwrap();
    assert_eq!(
        p.insert(None, item("c", "X"), &limits),
        Err(PlaylistError::TooManyItems { max: 2 })
    );
    assert_eq!(
        p.move_item("zz", 0),
        Err(PlaylistError::ItemNotFound("zz".into()))
    );
    assert_eq!(
        p.move_item("a", 2),
        Err(PlaylistError::IndexOutOfRange { index: 2, len: 2 })
    );
    let before = p.clone();
    let bad = ItemFields {
        clip: Some("AUTO".into()),
        ..ItemFields::default()
    };
    assert!(
        p.update("a", &bad).is_err(),
        "a keyword clip name would be read as a flag"
    );
    let bad = ItemFields {
        in_point: Some(Some(100)),
        out_point: Some(Some(50)),
        ..ItemFields::default()
    };
    assert!(p.update("a", &bad).is_err());
    assert_eq!(p, before, "failed edits change nothing");
}

#[test]
fn validation_of_fields() {
    assert!(item("ok", "CLIP1").validate().is_ok());
    assert!(item("bad id", "CLIP1").validate().is_err());
    assert!(item("x", "").validate().is_err());
    assert!(item("x", "a\nb").validate().is_err());
    let mut i = item("x", "CLIP1");
    i.scheduled = Some("25:00:00".into());
    assert!(i.validate().is_err());
    i.scheduled = Some("23:59:59".into());
    assert!(i.validate().is_ok());
    i.transition = Transition {
        kind: TransitionKind::Mix,
        frames: 10_000,
        tween: None,
    };
    assert!(i.validate().is_err());
    i.transition = Transition {
        kind: TransitionKind::Mix,
        frames: 25,
        tween: Some("EASE IN".into()),
    };
    assert!(i.validate().is_err());
}

#[test]
fn playlist_validation_catches_hand_edits() {
    let limits = Limits::default();
    let mut p = pl();
    p.items = [item("a", "CLIP1").into(), item("a", "CLIP2").into()]
        .into_iter()
        .collect();
    assert!(p.validate(&limits).is_err(), "duplicate ids");
    let mut p = pl();
    p.channel_layer = "1".parse().unwrap();
    assert!(p.validate(&limits).is_err(), "a layer is required");
    let json = r#"{"id":"news","name":"News","channel_layer":"2-20","items":[{"id":"i1","clip":"OPEN","transition":{"kind":"MIX","frames":12}}]}"#;
    let p: Playlist = serde_json::from_str(json).unwrap();
    assert!(p.validate(&limits).is_ok());
    assert!(p.autoplay, "autoplay defaults to on");
    assert_eq!(p.items[0].transition.auto_delta(), 12);
    assert!(
        serde_json::from_str::<Playlist>(
            r#"{"id":"x","name":"x","channel_layer":"1-1","bogus":1}"#
        )
        .is_err()
    );
}

#[test]
fn slugs_and_ids() {
    assert_eq!(slug("Evening News!"), "evening-news");
    assert_eq!(slug("***"), "playlist");
    assert!(validate_id("item", &new_item_id()).is_ok());
    assert_ne!(new_item_id(), new_item_id());
}

#[test]
fn names_refuse_invisible_and_direction_changing_characters() {
    for (c, cp) in [
        ('\u{202E}', "U+202E"),
        ('\u{2066}', "U+2066"),
        ('\u{2069}', "U+2069"),
        ('\u{2028}', "U+2028"),
        ('\u{2029}', "U+2029"),
        ('\u{200B}', "U+200B"),
        ('\u{FEFF}', "U+FEFF"),
        ('\u{7}', "U+0007"),
    ] {
        let text = format!("news{c}gpj.mov");
        let err = Item::new("i1".into(), text.clone()).validate().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("clip") && msg.contains(cp), "{msg}");
        let mut p = Playlist::new("p", "Main", "1-10".parse().unwrap());
        let err = p.rename(&text).unwrap_err().to_string();
        assert!(err.contains("name") && err.contains(cp), "{err}");
    }
    let err = validate_id("playlist", "ab\u{202E}c")
        .unwrap_err()
        .to_string();
    assert!(err.contains("U+202E"), "{err}");
}

#[test]
fn titles_keep_format_characters_but_show_them_escaped() {
    let mut item = Item::new("i1".into(), "CLIP");
    item.title = Some("family \u{1F468}\u{200D}\u{1F469} \u{202E}tset".into());
    item.validate()
        .expect("format characters are allowed in titles");
    assert_eq!(
        escape_hidden(item.title.as_deref().unwrap()),
        "family \u{1F468}<U+200D>\u{1F469} <U+202E>tset"
    );
    assert_eq!(escape_hidden("plain"), "plain");
    item.title = Some("two\u{2028}lines".into());
    assert!(item.validate().unwrap_err().to_string().contains("U+2028"));
}

#[test]
fn slugs_avoid_windows_device_names() {
    for (name, id) in [
        ("CON", "con-playlist"),
        ("nul", "nul-playlist"),
        ("Aux", "aux-playlist"),
        ("com1", "com1-playlist"),
        ("LPT9", "lpt9-playlist"),
        ("com0", "com0"),
        ("com10", "com10"),
        ("console", "console"),
    ] {
        assert_eq!(slug(name), id, "{name}");
    }
    assert!(is_windows_device_name("con.txt"));
    assert!(is_windows_device_name("COM3.json"));
    assert!(!is_windows_device_name("comé"));
}

#[test]
fn the_ascii_fast_path_agrees_with_the_unicode_table() {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    for c in (0u8..=127).map(char::from) {
        let by_table = matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        );
        assert_eq!(hidden_kind(c).is_some(), by_table, "{c:?}");
    }
}

#[test]
fn start_modes_and_their_times() {
    use crate::playout::timing::StartMode;
    let mut p = pl();
    p.insert(None, item("a", "CLIP1"), &Limits::default())
        .unwrap();
    let set = |start, at: Option<Option<&str>>| ItemFields {
        start,
        at: at.map(|a| a.map(str::to_owned)),
        ..ItemFields::default()
    };
    let refused = p
        .update("a", &set(Some(StartMode::Hard), None))
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "at: a hard start needs a time of day HH:MM:SS or HH:MM:SS.mmm"
    );
    assert!(
        p.update("a", &set(None, Some(Some("18:00:00")))).is_err(),
        "at on a follow item"
    );
    p.update("a", &set(Some(StartMode::Hard), Some(Some("18:00:00"))))
        .unwrap();
    assert_eq!(
        (p.items[0].start, p.items[0].at.as_deref()),
        (StartMode::Hard, Some("18:00:00"))
    );
    // Another time, the mode kept; then back to follow, which drops the time with it.
    p.update("a", &set(None, Some(Some("18:00:00.500"))))
        .unwrap();
    assert_eq!(p.items[0].at.as_deref(), Some("18:00:00.500"));
    p.update("a", &set(Some(StartMode::Follow), None)).unwrap();
    assert_eq!(
        (p.items[0].start, p.items[0].at.as_deref()),
        (StartMode::Follow, None)
    );
    assert!(
        p.update("a", &set(Some(StartMode::Follow), Some(Some("18:00:00"))))
            .is_err(),
        "follow with a time"
    );
}

#[test]
fn files_without_start_modes_load_and_write_unchanged() {
    let old = r#"{"id":"main","name":"Main","channel_layer":"1-10","items":[{"id":"a","clip":"CLIP1","loop":false,"transition":{"kind":"CUT","frames":0},"scheduled":"12:00:00"}],"loop":false,"autoplay":true,"revision":3}"#;
    let p: Playlist = serde_json::from_str(old).unwrap();
    assert_eq!(p.air_date, None);
    assert_eq!(p.items[0].start, crate::playout::timing::StartMode::Follow);
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        old,
        "nothing new is written for defaults"
    );
    let mut dated = p.clone();
    dated.air_date = Some("2026-11-24".into());
    assert!(dated.validate(&Limits::default()).is_ok());
    dated.air_date = Some("24.11.2026".into());
    assert_eq!(
        dated.validate(&Limits::default()).unwrap_err().to_string(),
        "air_date: \"24.11.2026\" is not a date YYYY-MM-DD"
    );
    let hard = r#"{"id":"a","clip":"C","start":"hard","at":"06:00:00"}"#;
    let item: Item = serde_json::from_str(hard).unwrap();
    assert!(item.validate().is_ok());
    let no_time = r#"{"id":"a","clip":"C","start":"soft"}"#;
    let item: Item = serde_json::from_str(no_time).unwrap();
    assert!(
        item.validate().is_err(),
        "a hand-edited file is held to the same rules"
    );
}
