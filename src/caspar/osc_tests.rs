//! Unit tests of the OSC decoder: hand-built bundles shaped like the 2.4.3/2.5.0 captures, fed
//! without sockets at controlled instants.

use super::*;
use rosc::{OscBundle, OscTime};

const L10: &str = "/channel/1/stage/layer/10";

fn msg(addr: &str, args: Vec<OscType>) -> OscMessage {
    OscMessage {
        addr: addr.to_owned(),
        args,
    }
}

fn s(v: &str) -> Vec<OscType> {
    vec![OscType::String(v.to_owned())]
}

/// One layer as the server sends it: a playing clip, optionally with an AUTO background pending.
struct LayerSpec<'a> {
    layer: i32,
    clip: &'a str,
    elapsed: f32,
    frames_left: Option<i64>,
}

/// One tick of channel `ch` in the server's sorted key order.
fn tick(ch: u16, layers: &[LayerSpec<'_>]) -> Vec<OscMessage> {
    let p = format!("/channel/{ch}");
    let mut out = vec![
        msg(&format!("{p}/format"), s("1080i5000")),
        msg(
            &format!("{p}/framerate"),
            vec![OscType::Int(50), OscType::Int(1)],
        ),
        msg(
            &format!("{p}/mixer/audio/volume"),
            vec![OscType::Int(0); 16],
        ),
    ];
    for l in layers {
        let lp = format!("{p}/stage/layer/{}", l.layer);
        let bg = if l.frames_left.is_some() {
            "transition"
        } else {
            "empty"
        };
        out.push(msg(&format!("{lp}/background/producer"), s(bg)));
        if l.frames_left.is_some() {
            out.push(msg(&format!("{lp}/background/file/name"), s("NEXT")));
        }
        let f = |a: f32, b: f32| vec![OscType::Float(a), OscType::Float(b)];
        out.push(msg(&format!("{lp}/foreground/file/clip"), f(0.0, 10.0)));
        out.push(msg(&format!("{lp}/foreground/file/name"), s(l.clip)));
        let path = format!("/opt/casparcg/media/{}.mp4", l.clip);
        out.push(msg(&format!("{lp}/foreground/file/path"), s(&path)));
        out.push(msg(
            &format!("{lp}/foreground/file/streams/0/fps"),
            vec![OscType::Int(50), OscType::Int(1)],
        ));
        out.push(msg(
            &format!("{lp}/foreground/file/time"),
            f(l.elapsed, 10.0),
        ));
        if let Some(left) = l.frames_left {
            out.push(msg(
                &format!("{lp}/foreground/frames_left"),
                vec![OscType::Long(left)],
            ));
        }
        out.push(msg(
            &format!("{lp}/foreground/loop"),
            vec![OscType::Bool(false)],
        ));
        out.push(msg(
            &format!("{lp}/foreground/paused"),
            vec![OscType::Bool(false)],
        ));
        out.push(msg(&format!("{lp}/foreground/producer"), s("ffmpeg")));
    }
    out
}

/// Encodes `messages` as bundles of at most `per_bundle` messages each (one datagram per bundle).
fn datagrams(messages: Vec<OscMessage>, per_bundle: usize) -> Vec<Vec<u8>> {
    messages
        .chunks(per_bundle)
        .enumerate()
        .map(|(i, chunk)| {
            let bundle = OscPacket::Bundle(OscBundle {
                timetag: OscTime {
                    seconds: 0,
                    fractional: i as u32,
                },
                content: chunk.iter().cloned().map(OscPacket::Message).collect(),
            });
            rosc::encoder::encode(&bundle).expect("encodes")
        })
        .collect()
}

fn feed(dec: &mut OscDecoder, messages: Vec<OscMessage>, per_bundle: usize, now: Instant) {
    for d in datagrams(messages, per_bundle) {
        dec.ingest(&d, now).expect("valid datagram");
    }
}

fn playing(clip: &str, elapsed: f32) -> LayerSpec<'_> {
    LayerSpec {
        layer: 10,
        clip,
        elapsed,
        frames_left: None,
    }
}

#[test]
fn a_tick_gives_the_layer_state() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    feed(&mut dec, tick(1, &[playing("CLIP1", 1.5)]), 100, now);
    let st = dec.snapshot();
    let ch = st.channel(1).expect("channel 1");
    assert_eq!(ch.format.as_deref(), Some("1080i5000"));
    assert_eq!(ch.framerate, Some((50, 1)));
    assert_eq!(ch.updated_at, now);
    assert!(!ch.stale);
    let l = st.layer(1, 10).expect("layer 10");
    assert_eq!(l.on_air_file(), Some("CLIP1"));
    assert_eq!(
        l.foreground.file_path.as_deref(),
        Some("/opt/casparcg/media/CLIP1.mp4")
    );
    assert_eq!(l.foreground.producer.as_deref(), Some("ffmpeg"));
    assert_eq!(l.foreground.time, Some((1.5, 10.0)));
    assert_eq!(l.foreground.clip, Some((0.0, 10.0)));
    assert_eq!(
        (l.foreground.paused, l.foreground.looping),
        (Some(false), Some(false))
    );
    assert_eq!(l.elapsed_secs(), Some(1.5));
    assert_eq!(l.remaining_secs(), Some(8.5));
    assert_eq!(l.background_producer.as_deref(), Some("empty"));
    assert_eq!((l.background_file.clone(), l.frames_left), (None, None));
}

#[test]
fn keys_that_stop_arriving_are_cleared_after_their_tick() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    let auto = LayerSpec {
        frames_left: Some(38),
        ..playing("SHORT", 0.5)
    };
    feed(&mut dec, tick(1, &[auto]), 7, now);
    let l = dec.snapshot().layer(1, 10).cloned().expect("layer");
    assert_eq!(l.frames_left, Some(38));
    assert_eq!(l.background_file.as_deref(), Some("NEXT"));
    assert_eq!(l.background_producer.as_deref(), Some("transition"));

    // The AUTO fired: the next ticks have neither frames_left nor a background file. The new name
    // shows at once; the missing keys go when that tick is known to be over (the next one starts).
    feed(&mut dec, tick(1, &[playing("NEXT", 0.0)]), 7, now);
    assert_eq!(
        dec.snapshot().layer(1, 10).unwrap().on_air_file(),
        Some("NEXT")
    );
    feed(&mut dec, tick(1, &[playing("NEXT", 0.02)]), 7, now);
    let l = dec.snapshot().layer(1, 10).cloned().expect("layer");
    assert_eq!((l.frames_left, l.background_file), (None, None));
    assert_eq!(l.background_producer.as_deref(), Some("empty"));
}

#[test]
fn a_layer_missing_from_two_ticks_is_removed_one_miss_is_tolerated() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    let both = [
        playing("A", 1.0),
        LayerSpec {
            layer: 20,
            ..playing("B", 1.0)
        },
    ];
    feed(&mut dec, tick(1, &both), 5, now);
    feed(&mut dec, tick(1, &both), 5, now);
    // Tick without layer 20 (CLEAR 1-20, or its datagram was lost).
    feed(&mut dec, tick(1, &both[..1]), 5, now);
    feed(&mut dec, tick(1, &both[..1]), 5, now);
    assert!(
        dec.snapshot().layer(1, 20).is_some(),
        "one miss is tolerated"
    );
    feed(&mut dec, tick(1, &both), 5, now);
    feed(&mut dec, tick(1, &both[..1]), 5, now);
    feed(&mut dec, tick(1, &both[..1]), 5, now);
    feed(&mut dec, tick(1, &both[..1]), 5, now);
    let st = dec.snapshot();
    assert!(st.layer(1, 20).is_none(), "gone after two ticks without it");
    assert_eq!(st.layer(1, 10).and_then(|l| l.on_air_file()), Some("A"));
}

#[test]
fn split_ticks_and_interleaved_channels_do_not_flicker() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    for i in 0..20u8 {
        let elapsed = f32::from(i) * 0.02;
        // Channel 1 in datagrams of 2 messages, channel 2 in one: each tick spans several.
        for d in datagrams(tick(1, &[playing("ONE", elapsed)]), 2)
            .into_iter()
            .zip(
                datagrams(tick(2, &[playing("TWO", elapsed)]), 50)
                    .into_iter()
                    .cycle(),
            )
            .flat_map(|(a, b)| [a, b])
        {
            dec.ingest(&d, now).expect("valid");
            let st = dec.snapshot();
            if i > 0 {
                assert_eq!(st.layer(1, 10).and_then(|l| l.on_air_file()), Some("ONE"));
                assert_eq!(st.layer(2, 10).and_then(|l| l.on_air_file()), Some("TWO"));
            }
        }
    }
    let st = dec.snapshot();
    let (e, _) = st.layer(1, 10).unwrap().foreground.time.unwrap();
    assert!((e - 0.38).abs() < 1e-6);
}

#[test]
fn unchanged_strings_are_not_copied() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    feed(&mut dec, tick(1, &[playing("CLIP1", 0.0)]), 100, now);
    let a = dec.snapshot();
    feed(&mut dec, tick(1, &[playing("CLIP1", 0.04)]), 100, now);
    let b = dec.snapshot();
    let name = |st: &OscState| {
        st.layer(1, 10)
            .unwrap()
            .foreground
            .file_name
            .clone()
            .unwrap()
    };
    assert!(Arc::ptr_eq(&name(&a), &name(&b)));
}

#[test]
fn garbage_is_rejected_and_does_not_disturb_state() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    feed(&mut dec, tick(1, &[playing("CLIP1", 1.0)]), 100, now);
    let before = dec.snapshot();
    let valid = datagrams(tick(1, &[playing("CLIP1", 1.0)]), 100).remove(0);
    // 3,000 bundles each holding the next: a recursive decoder would need a huge stack.
    let levels = 3000u32;
    let mut nested = Vec::new();
    for i in 0..levels {
        nested.extend_from_slice(b"#bundle\0\0\0\0\0\0\0\0\x01");
        if i + 1 < levels {
            nested.extend_from_slice(&((levels - 1 - i) * 20 - 4).to_be_bytes());
        }
    }
    let garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello world".to_vec(),
        b"#bundle\0".to_vec(),
        vec![0xff; 100],
        valid[..valid.len() / 2 - 3].to_vec(),
        nested,
    ];
    for g in &garbage {
        let _ = dec.ingest(g, now);
    }
    assert!(dec.ingest(b"not osc", now).is_err());
    assert!(
        !nesting_ok(&garbage[5], MAX_NESTING),
        "deep nesting refused"
    );
    assert!(nesting_ok(
        &garbage[5][(levels as usize - MAX_NESTING as usize) * 20..],
        MAX_NESTING
    ));
    assert!(dec.ingest(&garbage[5], now).is_err());
    assert_eq!(dec.snapshot().layer(1, 10), before.layer(1, 10));
    feed(&mut dec, tick(1, &[playing("CLIP2", 0.0)]), 3, now);
    assert_eq!(
        dec.snapshot().layer(1, 10).unwrap().on_air_file(),
        Some("CLIP2")
    );
}

#[test]
fn nested_bundles_and_plain_messages_decode() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    let inner = OscPacket::Bundle(OscBundle {
        timetag: OscTime::from((0, 1)),
        content: vec![OscPacket::Message(msg(
            &format!("{L10}/foreground/file/name"),
            s("DEEP"),
        ))],
    });
    let outer = OscPacket::Bundle(OscBundle {
        timetag: OscTime::from((0, 1)),
        content: vec![inner],
    });
    assert_eq!(
        dec.ingest(&rosc::encoder::encode(&outer).unwrap(), now),
        Ok(1)
    );
    let plain = OscPacket::Message(msg(
        &format!("{L10}/foreground/paused"),
        vec![OscType::Bool(true)],
    ));
    assert_eq!(
        dec.ingest(&rosc::encoder::encode(&plain).unwrap(), now),
        Ok(1)
    );
    let l = dec.snapshot().layer(1, 10).cloned().unwrap();
    assert_eq!(l.foreground.file_name.as_deref(), Some("DEEP"));
    assert_eq!(l.foreground.paused, Some(true));
}

#[test]
fn wrong_types_and_foreign_addresses_are_ignored() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    for m in [
        msg(
            &format!("{L10}/foreground/file/name"),
            vec![OscType::Int(3)],
        ),
        msg(&format!("{L10}/foreground/file/time"), s("x")),
        msg("/channel/0/format", s("bad")),
        msg("/channel/x/format", s("bad")),
        msg("/channel/70000/format", s("bad")),
        msg("/other/1/format", s("bad")),
        msg("/channel/1/stage/layer/abc/foreground/producer", s("bad")),
    ] {
        let p = rosc::encoder::encode(&OscPacket::Message(m)).unwrap();
        assert_eq!(dec.ingest(&p, now), Ok(1));
    }
    let st = dec.snapshot();
    assert_eq!(st.channels.keys().copied().collect::<Vec<_>>(), [1]);
    let l = st.layer(1, 10).unwrap();
    assert_eq!(l, &LayerTelemetry::default());
}

#[test]
fn channels_and_layers_are_bounded() {
    let mut dec = OscDecoder::new();
    let now = Instant::now();
    for ch in 1..=(MAX_CHANNELS as u16 + 5) {
        let m = msg(&format!("/channel/{ch}/format"), s("720p5000"));
        dec.ingest(&rosc::encoder::encode(&OscPacket::Message(m)).unwrap(), now)
            .unwrap();
    }
    for layer in 0..(MAX_LAYERS as i32 + 5) {
        let m = msg(
            &format!("/channel/1/stage/layer/{layer}/foreground/producer"),
            s("empty"),
        );
        dec.ingest(&rosc::encoder::encode(&OscPacket::Message(m)).unwrap(), now)
            .unwrap();
    }
    let st = dec.snapshot();
    assert_eq!(st.channels.len(), MAX_CHANNELS);
    assert_eq!(st.channel(1).unwrap().layers.len(), MAX_LAYERS);
    assert_eq!(dec.over_limit(), 10);
}

#[test]
fn channels_turn_stale_and_fresh_again() {
    let mut dec = OscDecoder::new();
    let t0 = Instant::now();
    let stale_after = Duration::from_millis(100);
    assert_eq!(dec.next_stale_deadline(stale_after), None);
    feed(&mut dec, tick(1, &[playing("A", 0.0)]), 100, t0);
    feed(&mut dec, tick(2, &[]), 100, t0 + Duration::from_millis(50));
    assert_eq!(dec.next_stale_deadline(stale_after), Some(t0 + stale_after));
    assert!(!dec.mark_stale(t0 + Duration::from_millis(99), stale_after));
    assert!(dec.mark_stale(t0 + stale_after, stale_after));
    let st = dec.snapshot();
    assert!(st.channel(1).unwrap().stale && !st.channel(2).unwrap().stale);
    assert_eq!(
        st.layer(1, 10).unwrap().on_air_file(),
        Some("A"),
        "last state kept"
    );
    assert_eq!(
        dec.next_stale_deadline(stale_after),
        Some(t0 + Duration::from_millis(150))
    );
    feed(
        &mut dec,
        tick(1, &[playing("A", 0.0)]),
        100,
        t0 + stale_after * 2,
    );
    assert!(!dec.snapshot().channel(1).unwrap().stale);
}

#[test]
fn remaining_time_uses_the_clip_out_point() {
    let mut l = LayerTelemetry::default();
    assert_eq!(l.remaining_secs(), None);
    l.foreground.time = Some((3.0, 10.0));
    assert_eq!(l.remaining_secs(), Some(7.0));
    assert_eq!(l.clip_progress(), Some((3.0, 10.0)));
    l.foreground.clip = Some((2.0, 4.0));
    assert_eq!(l.remaining_secs(), Some(3.0));
    assert_eq!(l.clip_progress(), Some((1.0, 4.0)));
    l.foreground.time = Some((9.0, 10.0));
    assert_eq!(l.remaining_secs(), Some(0.0));
    l.foreground.time = Some((0.0, 0.0));
    l.foreground.clip = Some((0.0, 0.0));
    assert_eq!(l.remaining_secs(), None, "not probed yet");
    l.foreground.producer = Some("empty".into());
    l.foreground.file_name = Some("X".into());
    assert_eq!(l.on_air_file(), None);
}

#[tokio::test]
async fn a_manual_handle_reports_what_it_is_fed() {
    use crate::caspar::osc::{OscStats, OscTelemetry};
    let (osc, tx) = OscTelemetry::manual(Duration::from_secs(60));
    assert!(osc.is_stale(1), "nothing known yet");
    let mut st = OscState::default();
    st.channels.insert(1, ChannelTelemetry::new(Instant::now()));
    tx.send_replace(Arc::new(st.clone()));
    assert!(!osc.is_stale(1) && osc.is_stale(2));
    st.channels.get_mut(&1).unwrap().stale = true;
    tx.send_replace(Arc::new(st));
    assert!(osc.is_stale(1));
    assert_eq!(osc.stats(), OscStats::default());
}
