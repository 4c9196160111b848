//! Bundle layout against the captured datagrams, size limits, decoding, subscribers and the sender.

use std::net::UdpSocket;
use std::time::Duration;

use rosc::OscType;

use super::*;
use crate::sim::dialect::Dialect;
use crate::sim::exec::tests::{run, sim};

fn ticks(st: &mut SimState, n: usize) {
    for _ in 0..n {
        st.tick_all();
    }
}

fn sizes(st: &SimState) -> Vec<usize> {
    let mut counter = 0;
    encode_bundles(&osc_messages(st, 0), &mut counter)
        .iter()
        .map(Vec::len)
        .collect()
}

#[test]
fn first_datagram_head_matches_the_capture() {
    let st = sim(Dialect::V24, "640x360p2500");
    let mut counter = 0x1c7;
    let d = encode_bundles(&osc_messages(&st, 0), &mut counter);
    assert_eq!(counter, 0x1c8);
    let head: &[u8] = b"#bundle\x00\x00\x00\x00\x00\x00\x00\x01\xc7\x00\x00\x00(/channel/1/format\x00\x00\x00,s\x00\x00\
640x360p2500\x00\x00\x00\x00\x00\x00\x00$/channel/1/framerate\x00\x00\x00\x00,ii\x00\x00\x00\x00\x19";
    assert_eq!(&d[0][..head.len()], head);
    let st = sim(Dialect::V25, "720p5000");
    let mut counter = 0x16d;
    let d = encode_bundles(&osc_messages(&st, 0), &mut counter);
    let head: &[u8] = b"#bundle\x00\x00\x00\x00\x00\x00\x00\x01m\x00\x00\x00$/channel/1/format\x00\x00\x00,s\x00\x00\
720p5000\x00\x00\x00\x00\x00\x00\x00$/channel/1/framerate\x00\x00\x00\x00,ii\x00\x00\x00\x002\x00\x00\x00\x01";
    assert_eq!(&d[0][..head.len()], head);
}

#[test]
fn datagram_sizes_match_the_captures() {
    // 2.4.3 first capture: min 220 (no layer yet), max 1496 (CLIP2 waiting behind SHORT).
    let mut st = sim(Dialect::V24, "640x360p2500");
    assert_eq!(sizes(&st), vec![220]);
    run(&mut st, "PLAY 1-10 SHORT");
    ticks(&mut st, 13);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    ticks(&mut st, 1);
    assert_eq!(sizes(&st), vec![1496]);
    // 2.5.0: min 96 (no volume, no layer); max 1452 (CLIP2 waiting, with directions).
    let mut st = sim(Dialect::V25, "720p5000");
    assert_eq!(sizes(&st), vec![96]);
    run(&mut st, "PLAY 1-10 CLIP1");
    ticks(&mut st, 30);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    ticks(&mut st, 1);
    assert_eq!(sizes(&st), vec![1452]);
}

#[test]
fn bundles_stay_under_the_limit_decode_and_count() {
    let mut st = sim(Dialect::V24, "1080i5000");
    for layer in 1..=20 {
        run(&mut st, &format!("PLAY 1-{layer} CLIP1"));
        run(&mut st, &format!("LOADBG 1-{layer} CLIP2 MIX 5 AUTO"));
    }
    ticks(&mut st, 3);
    let msgs = osc_messages(&st, 0);
    let mut counter = 41;
    let datagrams = encode_bundles(&msgs, &mut counter);
    assert!(datagrams.len() > 5, "{} datagrams", datagrams.len());
    assert_eq!(counter, 41 + datagrams.len() as u64);
    let mut decoded = Vec::new();
    for (i, d) in datagrams.iter().enumerate() {
        assert!(d.len() <= BUNDLE_LIMIT, "datagram {i} is {} bytes", d.len());
        let (rest, packet) = rosc::decoder::decode_udp(d).unwrap();
        assert!(rest.is_empty());
        let OscPacket::Bundle(b) = packet else {
            panic!("not a bundle")
        };
        assert_eq!(
            b.timetag,
            OscTime {
                seconds: 0,
                fractional: 41 + i as u32
            }
        );
        for p in b.content {
            let OscPacket::Message(m) = p else {
                panic!("nested bundle")
            };
            decoded.push(m);
        }
    }
    assert_eq!(decoded, msgs);
    // 250 frames − frame 1 (tested before the third frame) − the MIX 5 delta.
    assert!(
        decoded
            .iter()
            .any(|m| m.args == vec![OscType::Long(250 - 1 - 5)]),
        "frames_left as int64"
    );
    assert!(encode_bundles(&[], &mut counter).is_empty());
}

#[test]
fn subscribers_are_reference_counted() {
    let subs = OscSubscribers::default();
    let a: SocketAddr = "127.0.0.1:6250".parse().unwrap();
    let b: SocketAddr = "127.0.0.2:6250".parse().unwrap();
    subs.add(a);
    subs.add(a);
    subs.add(b);
    assert_eq!(subs.snapshot(), vec![a, b]);
    subs.remove(a);
    assert_eq!(subs.snapshot(), vec![a, b]);
    subs.remove(a);
    subs.remove(a);
    assert_eq!(subs.snapshot(), vec![b]);
}

#[test]
fn sender_delivers_bundles_and_ignores_dead_targets() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A port nobody listens on: sends to it must not disturb anything.
    let dead = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sender = OscSender::new().unwrap();
    let mut st = sim(Dialect::V24, "640x360p2500");
    run(&mut st, "PLAY 1-10 CLIP1");
    st.tick_all();
    let targets = vec![dead, rx.local_addr().unwrap()];
    sender.send_tick(&st, &targets, 0);
    sender.send_tick(&st, &targets, 0);
    let mut buf = [0u8; 4096];
    let mut tags = Vec::new();
    for _ in 0..2 {
        let n = rx.recv(&mut buf).unwrap();
        let (_, OscPacket::Bundle(b)) = rosc::decoder::decode_udp(&buf[..n]).unwrap() else {
            panic!()
        };
        assert_eq!(b.content.len(), osc_messages(&st, 0).len());
        tags.push(b.timetag.fractional);
    }
    assert_eq!(tags[1], tags[0] + 1);
    sender.set_enabled(false);
    assert!(!sender.is_enabled());
    sender.send_tick(&st, &targets, 0);
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(rx.recv(&mut buf).is_err(), "nothing is sent while disabled");
    sender.send_tick(&st, &targets, 99);
    assert!(sender.local_addr().is_ok());
}
