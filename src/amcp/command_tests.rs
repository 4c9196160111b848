//! Tests for command encoding: exact wire text, validation, and round-trips through the server tokenizer.

use proptest::prelude::*;

use super::*;
use crate::amcp::tokenize::{TokenizerDialect, tokenize};

fn cl(s: &str) -> ChannelLayer {
    s.parse().unwrap()
}

fn enc(c: Command) -> String {
    c.encode().unwrap()
}

#[test]
fn encodes_reference_examples() {
    assert_eq!(enc(Command::Version), "VERSION");
    assert_eq!(enc(Command::Info(None)), "INFO");
    assert_eq!(enc(Command::Info(Some(cl("1")))), "INFO 1");
    assert_eq!(enc(Command::Info(Some(cl("1-10")))), "INFO 1-10");
    assert_eq!(enc(Command::Cls), "CLS");
    assert_eq!(enc(Command::Tls), "TLS");
    assert_eq!(enc(Command::Cinf("AMB".into())), r#"CINF "AMB""#);
    let mut clip = Clip::new("AMB");
    clip.looping = true;
    clip.transition = Some(Transition {
        kind: TransitionKind::Mix,
        frames: 25,
        tween: Some("EASEINSINE".into()),
        direction: None,
    });
    assert_eq!(
        enc(Command::Play(cl("1-10"), Some(clip))),
        r#"PLAY 1-10 "AMB" LOOP MIX 25 EASEINSINE"#
    );
    assert_eq!(enc(Command::Play(cl("1-10"), None)), "PLAY 1-10");
    assert_eq!(
        enc(Command::Call(cl("1-10"), CallOp::Seek(100))),
        "CALL 1-10 SEEK 100"
    );
    assert_eq!(
        enc(Command::Call(cl("1-10"), CallOp::Loop(Some(false)))),
        "CALL 1-10 LOOP 0"
    );
    assert_eq!(
        enc(Command::Mixer(cl("1-10"), MixerOp::Opacity(None, None))),
        "MIXER 1-10 OPACITY"
    );
    assert_eq!(
        enc(Command::Mixer(
            cl("1-10"),
            MixerOp::Opacity(
                Some(0.5),
                Some(MixerTween {
                    frames: 25,
                    tween: Some("LINEAR".into())
                })
            )
        )),
        "MIXER 1-10 OPACITY 0.5 25 LINEAR"
    );
    assert_eq!(enc(Command::Ping(Some("hello".into()))), "PING hello");
    assert_eq!(enc(Command::OscSubscribe(6251)), "OSC SUBSCRIBE 6251");
    assert_eq!(enc(Command::ClearAll), "CLEAR ALL");
}

#[test]
fn loadbg_carries_every_option_in_order() {
    let clip = Clip {
        name: "my clip".into(),
        looping: true,
        seek: Some(10),
        in_point: Some(5),
        out_point: Some(200),
        length: Some(150),
        transition: Some(Transition {
            kind: TransitionKind::Push,
            frames: 12,
            tween: None,
            direction: Some(Direction::FromLeft),
        }),
        auto: true,
        clear_on_404: true,
    };
    assert_eq!(
        enc(Command::LoadBg(cl("2-20"), clip)),
        r#"LOADBG 2-20 "my clip" LOOP SEEK 10 IN 5 OUT 200 LENGTH 150 PUSH 12 FROMLEFT AUTO CLEAR_ON_404"#
    );
}

#[test]
fn cg_commands() {
    let add = CgOp::Add {
        cg_layer: 1,
        template: "lower third".into(),
        play_on_load: true,
        data: Some(r#"{"f0":"$5 \"deal\""}"#.into()),
    };
    assert_eq!(
        enc(Command::Cg(cl("1-20"), add)),
        r#"CG 1-20 ADD 1 "lower third" 1 "{\"f0\":\"$5 \\\"deal\\\"\"}""#
    );
    assert_eq!(
        enc(Command::Cg(cl("1-20"), CgOp::Play { cg_layer: 1 })),
        "CG 1-20 PLAY 1"
    );
    assert_eq!(
        enc(Command::Cg(cl("1-20"), CgOp::Remove { cg_layer: 1 })),
        "CG 1-20 REMOVE 1"
    );
    assert_eq!(
        enc(Command::Cg(
            cl("1-20"),
            CgOp::Update {
                cg_layer: 2,
                data: String::new()
            }
        )),
        r#"CG 1-20 UPDATE 2 """#
    );
    assert_eq!(
        enc(Command::Cg(
            cl("1-20"),
            CgOp::Invoke {
                cg_layer: 1,
                method: "next headline".into()
            }
        )),
        r#"CG 1-20 INVOKE 1 "next headline""#
    );
    let empty = Command::Cg(
        cl("1-20"),
        CgOp::Invoke {
            cg_layer: 1,
            method: String::new(),
        },
    );
    assert!(empty.encode().is_err(), "an empty method is refused");
}

#[test]
fn rejects_what_the_server_cannot_read() {
    let cr = Command::Play(cl("1-10"), Some(Clip::new("a\rb")));
    assert_eq!(
        cr.encode(),
        Err(EncodeError::CarriageReturn { field: "clip name" })
    );
    assert!(matches!(
        Command::Play(cl("1-10"), Some(Clip::new("auto"))).encode(),
        Err(EncodeError::ReservedClipName { .. })
    ));
    assert_eq!(
        Command::LoadBg(cl("1-10"), Clip::new("")).encode(),
        Err(EncodeError::Empty { field: "clip name" })
    );
    assert_eq!(
        Command::Raw("PLAY 1\nSTOP 1".into()).encode(),
        Err(EncodeError::LineBreak)
    );
    assert!(Command::Raw("   ".into()).encode().is_err());
    assert!(
        Command::Mixer(cl("1"), MixerOp::Opacity(Some(f64::NAN), None))
            .encode()
            .is_err()
    );
    let bad_tween = Transition {
        kind: TransitionKind::Mix,
        frames: 1,
        tween: Some("EASE IN".into()),
        direction: None,
    };
    let mut clip = Clip::new("A");
    clip.transition = Some(bad_tween);
    assert!(matches!(
        Command::Play(cl("1-1"), Some(clip)).encode(),
        Err(EncodeError::InvalidWord { .. })
    ));
    assert!(Command::Ping(Some("two words".into())).encode().is_err());
}

#[test]
fn queues_and_classes() {
    assert_eq!(Command::Play(cl("3-10"), None).queue(), Queue::Channel(3));
    assert_eq!(Command::Info(Some(cl("2"))).queue(), Queue::Channel(2));
    assert_eq!(Command::Info(None).queue(), Queue::General);
    assert_eq!(Command::Cls.queue(), Queue::General);
    assert_eq!(
        Command::Raw("mixer 4-10 opacity 1".into()).queue(),
        Queue::Channel(4)
    );
    assert_eq!(Command::Raw("VERSION 1".into()).queue(), Queue::General);
    assert_eq!(Command::Raw("DATA LIST".into()).queue(), Queue::General);
    assert_eq!(Command::Cls.class(), CommandClass::Scanner);
    assert_eq!(
        Command::Raw("thumbnail list".into()).class(),
        CommandClass::Scanner
    );
    assert_eq!(Command::Version.class(), CommandClass::Normal);
    assert!(!Command::Begin.expects_reply());
    assert!(!Command::Ping(None).supports_req());
}

fn text() -> impl Strategy<Value = String> {
    // Everything the server can carry: any char but CR, with the troublemakers weighted in.
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>().prop_filter("no CR", |c| *c != '\r'),
            1 => prop::sample::select(vec!['"', '\\', '\n', ' ', '(', ')', '$', '\t']),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the clip name, both tokenizer dialects read back exactly the name we meant.
    #[test]
    fn clip_names_round_trip(name in text().prop_filter("non-empty, not a keyword", |n| {
        !n.is_empty() && !RESERVED_CLIP_NAMES.iter().any(|k| k.eq_ignore_ascii_case(n.trim()))
    })) {
        let line = Command::LoadBg(cl("1-10"), Clip { auto: true, ..Clip::new(name.clone()) }).encode().unwrap();
        for d in [TokenizerDialect::V23, TokenizerDialect::V24] {
            let tokens = tokenize(&line, d);
            prop_assert_eq!(tokens, vec!["LOADBG".to_string(), "1-10".into(), name.clone(), "AUTO".into()]);
        }
    }

    /// CG data (JSON with `$`, quotes, backslashes, newlines) arrives intact, unlike casparcg-connection's.
    #[test]
    fn cg_data_round_trips(data in text()) {
        let line = Command::Cg(cl("1-20"), CgOp::Update { cg_layer: 1, data: data.clone() }).encode().unwrap();
        for d in [TokenizerDialect::V23, TokenizerDialect::V24] {
            let tokens = tokenize(&line, d);
            prop_assert_eq!(tokens.len(), 5);
            prop_assert_eq!(&tokens[4], &data);
        }
    }

    /// Encoding never panics and never emits a line break, whatever the input.
    #[test]
    fn encoding_never_breaks_lines(name in ".*", raw in ".*") {
        for c in [Command::Play(cl("1-1"), Some(Clip::new(name.clone()))), Command::Raw(raw.clone()), Command::Cinf(name.clone())] {
            if let Ok(line) = c.encode() {
                prop_assert!(!line.contains('\r') && !line.contains('\n'));
            }
        }
    }
}
