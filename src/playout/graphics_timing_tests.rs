//! Graphics timing: the frames of each step and the commands sent.

use serde_json::json;

use super::*;
use crate::playout::graphics::Secondary;
use crate::schedule::NANOS_PER_SEC;

fn event(v: serde_json::Value) -> Secondary {
    serde_json::from_value(v).expect("an event")
}

fn lower_third() -> Secondary {
    event(
        json!({"id": "l3", "layer": 20, "offset_ms": 10000, "duration_ms": 8000,
        "graphic": {"kind": "template", "template": "LOWER_THIRD", "data": {"n": "a\"b"}}}),
    )
}

fn frames(steps: &[Timed]) -> Vec<(Step, i64)> {
    steps.iter().map(|t| (t.step, t.frame)).collect()
}

#[test]
fn a_lower_third_10_s_in_for_8_s_on_a_30_s_item_at_25_and_50_fps() {
    for fps in [25, 50] {
        let rate = FrameRate::new(fps, 1).expect("rate");
        let start = 1_000_003;
        let primary = Primary {
            start,
            length: Some(30 * i64::from(fps)),
            clock: clock(rate),
        };
        let s = steps(&primary, &lower_third()).expect("placed");
        let f = i64::from(fps);
        assert_eq!(
            frames(&s),
            vec![
                (Step::Prepare, start + 8 * f),
                (Step::On, start + 10 * f),
                (Step::Off, start + 18 * f),
                (Step::Remove, start + 20 * f),
            ],
            "{fps} fps"
        );
    }
}

#[test]
fn from_the_end_needs_a_length_and_nothing_outlives_its_item() {
    let rate = FrameRate::new(25, 1).expect("rate");
    let clock = clock(rate);
    let slate = event(json!({"id": "s", "layer": 20, "offset_ms": -3000,
        "graphic": {"kind": "still", "clip": "NEXT"}}));
    let known = Primary {
        start: 100,
        length: Some(250),
        clock,
    };
    assert_eq!(
        frames(&steps(&known, &slate).expect("placed")),
        vec![(Step::Prepare, 225), (Step::On, 275), (Step::Off, 350)]
    );
    let unknown = Primary {
        length: None,
        ..known
    };
    assert_eq!(steps(&unknown, &slate), Err(Unplaced::NeedsLength));
    // Until the end of an item of unknown length: on, and off when the next item starts.
    let bug = event(json!({"id": "b", "layer": 20, "graphic": {"kind": "still", "clip": "B"}}));
    assert_eq!(
        frames(&steps(&unknown, &bug).expect("placed")),
        vec![(Step::Prepare, 50), (Step::On, 100)]
    );
    // A duration beyond the end is cut at the end; an offset beyond it is not placed.
    let long = event(
        json!({"id": "l", "layer": 20, "offset_ms": 8000, "duration_ms": 60000,
        "graphic": {"kind": "mixer", "opacity": 0.5}}),
    );
    assert_eq!(
        frames(&steps(&known, &long).expect("placed")),
        vec![(Step::On, 300), (Step::Off, 350)]
    );
    let late = event(json!({"id": "x", "layer": 20, "offset_ms": 11000,
        "graphic": {"kind": "mixer", "opacity": 0.5}}));
    assert_eq!(steps(&known, &late), Err(Unplaced::AfterTheEnd));
}

#[test]
fn an_instant_between_frames_goes_on_at_the_next_frame_never_before() {
    // 29.97 fps: 10 s is 299.7 frames, so the graphic is on at frame 300.
    let rate = FrameRate::new(30000, 1001).expect("rate");
    let clock = clock(rate);
    let p = Primary {
        start: 0,
        length: None,
        clock,
    };
    let e = event(json!({"id": "m", "layer": 20, "offset_ms": 10000,
        "graphic": {"kind": "mixer", "volume": 0.0}}));
    let on = steps(&p, &e).expect("placed")[0].frame;
    assert_eq!(on, 300);
    assert!(clock.start_of(on) >= 10 * NANOS_PER_SEC);
    assert!(clock.start_of(on - 1) < 10 * NANOS_PER_SEC);
}

#[test]
fn the_commands_of_each_step_carry_the_data_as_given() {
    let cl: ChannelLayer = "1-20".parse().expect("cl");
    let lines = |g: &Graphic, s: Step| -> Vec<String> {
        commands(cl, g, s)
            .iter()
            .map(|c| c.encode().expect("encodes"))
            .collect()
    };
    let l3 = lower_third().graphic;
    assert_eq!(
        lines(&l3, Step::Prepare),
        vec![r#"CG 1-20 ADD 1 "LOWER_THIRD" 0 "{\"n\":\"a\\\"b\"}""#]
    );
    assert_eq!(lines(&l3, Step::On), vec!["CG 1-20 PLAY 1"]);
    assert_eq!(lines(&l3, Step::Off), vec!["CG 1-20 STOP 1"]);
    assert_eq!(lines(&l3, Step::Remove), vec!["CG 1-20 REMOVE 1"]);
    let logo = Graphic::Still {
        clip: "LOGO".into(),
    };
    assert_eq!(lines(&logo, Step::Prepare), vec![r#"LOADBG 1-20 "LOGO""#]);
    assert_eq!(lines(&logo, Step::On), vec!["PLAY 1-20"]);
    assert_eq!(lines(&logo, Step::Off), vec!["CLEAR 1-20"]);
    let squeeze = event(json!({"id": "q", "layer": 20, "graphic": {"kind": "mixer",
        "fill": [0.1, 0.1, 0.5, 0.5], "opacity": 0.8, "frames": 25, "tween": "LINEAR"}}))
    .graphic;
    assert_eq!(
        lines(&squeeze, Step::On),
        vec![
            "MIXER 1-20 OPACITY 0.8 25 LINEAR",
            "MIXER 1-20 FILL 0.1 0.1 0.5 0.5 25 LINEAR"
        ]
    );
    assert_eq!(
        lines(&squeeze, Step::Off),
        vec![
            "MIXER 1-20 OPACITY 1 25 LINEAR",
            "MIXER 1-20 FILL 0 0 1 1 25 LINEAR"
        ]
    );
}
