//! The graphics data: what validation accepts and refuses, and its JSON form.

use serde_json::json;

use super::*;

fn event(v: serde_json::Value) -> Result<ItemGraphics, String> {
    let g: ItemGraphics = serde_json::from_value(v).map_err(|e| e.to_string())?;
    g.validate(Some(10)).map_err(|e| e.to_string())?;
    Ok(g)
}

#[test]
fn a_lower_third_reads_and_writes_back_the_same() {
    let v = json!({"logo": false, "events": [{"id": "l3", "layer": 20, "offset_ms": 10000,
        "duration_ms": 8000, "graphic": {"kind": "template", "template": "LOWER_THIRD",
        "data": {"name": "Ada \"the\" \\ Lovelace\nÉcole"}}}]});
    let g = event(v.clone()).expect("valid");
    assert_eq!(serde_json::to_value(&g).expect("json"), v);
    let Graphic::Template {
        data: Some(d),
        cg_layer,
        ..
    } = &g.events[0].graphic
    else {
        panic!("a template");
    };
    assert_eq!(*cg_layer, 1);
    // Compact JSON: control characters escaped, so the AMCP line carries no raw newline.
    assert_eq!(d.to_wire(), r#"{"name":"Ada \"the\" \\ Lovelace\nÉcole"}"#);
    assert!(ItemGraphics::default().is_default());
}

#[test]
fn bad_graphics_are_refused_with_the_field() {
    let cases = [
        (
            json!({"events": [{"id": "a", "layer": 10, "graphic": {"kind": "still", "clip": "LOGO"}}]}),
            "own clip layer",
        ),
        (
            json!({"events": [{"id": "a", "layer": 0, "graphic": {"kind": "still", "clip": "LOGO"}}]}),
            "must be 1 to 9999",
        ),
        (
            json!({"events": [{"id": "a b", "layer": 20, "graphic": {"kind": "still", "clip": "LOGO"}}]}),
            "graphics.id",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "duration_ms": 0, "graphic": {"kind": "still", "clip": "L"}}]}),
            "more than 0",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "offset_ms": -90000000, "graphic": {"kind": "still", "clip": "L"}}]}),
            "more than a day",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "template", "template": "T", "data": "name"}}]}),
            "XML starting with '<'",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "template", "template": "T", "data": "<a>\r</a>"}}]}),
            "carriage return",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "mixer"}}]}),
            "sets opacity, volume or fill",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "mixer", "opacity": 2.0}}]}),
            "from 0 to 1",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "still", "clip": "L"}}, {"id": "a", "layer": 21, "graphic": {"kind": "still", "clip": "M"}}]}),
            "two events",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "still", "clip": "L", "extra": 1}}]}),
            "unknown field",
        ),
        (
            json!({"events": [{"id": "a", "layer": 20, "graphic": {"kind": "video", "clip": "L"}}]}),
            "unknown variant",
        ),
    ];
    for (v, want) in cases {
        let e = event(v.clone()).expect_err("refused");
        assert!(e.contains(want), "{v}: {e}");
    }
}

#[test]
fn a_logo_is_a_still_or_a_template_off_the_clip_layer() {
    let logo = |v: serde_json::Value| {
        serde_json::from_value::<Logo>(v)
            .map_err(|e| e.to_string())
            .and_then(|l| l.validate(Some(10)).map_err(|e| e.to_string()))
    };
    logo(json!({"layer": 30, "graphic": {"kind": "still", "clip": "LOGO"}})).expect("a still");
    let e = logo(json!({"layer": 30, "graphic": {"kind": "mixer", "opacity": 0.5}}))
        .expect_err("a mixer");
    assert!(e.contains("still or a template"), "{e}");
    let e = logo(json!({"layer": 10, "graphic": {"kind": "still", "clip": "LOGO"}}))
        .expect_err("its layer");
    assert!(e.contains("logo.layer"), "{e}");
}
