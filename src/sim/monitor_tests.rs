//! The state tree against the recordings: `INFO n` XML byte for byte, OSC addresses and type tags.

use std::collections::BTreeSet;

use super::*;
use crate::sim::exec::tests::{FIXTURES, recorded, run, sim};

const BASICS: &str = "casparcg-2.4.3/basics.json";
const EDGES: &str = "casparcg-2.4.3/pipelining-and-edge-cases.json";
const V25: &str = "casparcg-2.5.0/basics-and-pipelining.json";

/// Audio peaks are whatever the recording heard: compare them as 0.
fn normalize_volume(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<volume>") {
        out.push_str(&rest[..i + "<volume>".len()]);
        rest = &rest[i + "<volume>".len()..];
        let end = rest.find("</volume>").unwrap();
        out.push('0');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn ticks(st: &mut SimState, n: usize) {
    for _ in 0..n {
        st.tick_all();
    }
}

#[test]
fn info_xml_matches_the_243_recording() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    run(&mut st, "PLAY 1-10 CLIP1");
    ticks(&mut st, 22);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    ticks(&mut st, 1);
    // time 0.88 s = frame 22 of 250 (10 s at 25 fps), frames_left 229 = 250 − 21.
    let want = normalize_volume(&recorded(BASICS, "INFO 1-10\r\n"));
    assert_eq!(run(&mut st, "INFO 1-10"), want);
    ticks(&mut st, 13);
    assert_eq!(
        run(&mut st, "INFO 1"),
        normalize_volume(&recorded(BASICS, "INFO 1\r\n"))
    );
}

#[test]
fn info_xml_matches_the_243_pipelined_recording() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    run(&mut st, "PLAY 1-10 CLIP1");
    ticks(&mut st, 11);
    let recv = recorded(EDGES, "INFO 1\r\nVERSION\r\nINFO\r\n");
    let end = recv.find("</channel>\n\r\n").unwrap() + "</channel>\n\r\n".len();
    assert_eq!(run(&mut st, "INFO 1"), normalize_volume(&recv[..end]));
}

#[test]
fn info_xml_matches_the_250_recording() {
    let mut st = sim(Dialect::V25, "720p5000");
    run(&mut st, "PLAY 1-10 CLIP1");
    ticks(&mut st, 47);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    ticks(&mut st, 1);
    // time 0.94 s = frame 47 of 500, frames_left 453 = 500 − 47 (2.5 counts after the frame).
    assert_eq!(run(&mut st, "INFO 1-10"), recorded(V25, "INFO 1-10\r\n"));
    ticks(&mut st, 25);
    assert_eq!(run(&mut st, "INFO 1"), recorded(V25, "INFO 1\r\n"));
}

#[test]
fn empty_channel_has_no_stage() {
    let st = sim(Dialect::V25, "720p5000");
    assert_eq!(
        info_xml(&st, 0),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<channel>\n   <format>720p5000</format>\n   \
         <framerate>50</framerate>\n   <framerate>1</framerate>\n</channel>\n"
    );
    assert!(info_xml(&st, 3).ends_with("<channel/>\n"));
    let v23 = sim(Dialect::V23, "1080i5000");
    let xml = info_xml(&v23, 0);
    assert!(!xml.contains("<format>") && xml.contains("<framerate>50</framerate>"));
}

/// `(address, type tags)` of every summary line in one capture section of an osc-observed file.
fn observed(file: &str, section: usize) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
    let part = text.split("# Second capture").nth(section).unwrap();
    part.lines()
        .filter(|l| l.starts_with("/channel/"))
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap().to_string())
        })
        .collect()
}

fn tags(m: &OscMessage) -> String {
    let mut t = String::from(",");
    for a in &m.args {
        t.push(match a {
            OscType::Int(_) => 'i',
            OscType::Long(_) => 'h',
            OscType::Float(_) => 'f',
            OscType::String(_) => 's',
            OscType::Bool(true) => 'T',
            OscType::Bool(false) => 'F',
            _ => '?',
        });
    }
    t
}

/// Ticks `n` times, collecting every `(address, tags)` the simulator would send.
fn collect(st: &mut SimState, n: usize, seen: &mut BTreeSet<(String, String)>) {
    for _ in 0..n {
        st.tick_all();
        seen.extend(
            osc_messages(st, 0)
                .iter()
                .map(|m| (m.addr.clone(), tags(m))),
        );
    }
}

#[test]
fn osc_addresses_and_types_match_the_243_captures() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    let mut seen = BTreeSet::new();
    collect(&mut st, 9, &mut seen);
    run(&mut st, "PLAY 1-10 SHORT");
    collect(&mut st, 13, &mut seen);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    collect(&mut st, 100, &mut seen);
    assert_eq!(seen, observed("casparcg-2.4.3/osc-observed.txt", 0));

    let mut st = sim(Dialect::V24, "640x360p2500");
    let mut seen = BTreeSet::new();
    collect(&mut st, 9, &mut seen);
    run(&mut st, "PLAY 1-10 CLIP1 LOOP");
    collect(&mut st, 13, &mut seen);
    run(&mut st, "LOADBG 1-20 SHORT");
    collect(&mut st, 54, &mut seen);
    run(&mut st, "PAUSE 1-10");
    collect(&mut st, 40, &mut seen);
    assert_eq!(seen, observed("casparcg-2.4.3/osc-observed.txt", 1));
}

#[test]
fn osc_addresses_and_types_match_the_250_capture() {
    let mut st = sim(Dialect::V25, "720p5000");
    let mut seen = BTreeSet::new();
    collect(&mut st, 100, &mut seen);
    run(&mut st, "PLAY 1-10 CLIP1");
    collect(&mut st, 26, &mut seen);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    collect(&mut st, 70, &mut seen);
    assert_eq!(seen, observed("casparcg-2.5.0/osc-observed.txt", 0));
}

#[test]
fn osc_values_of_the_first_frames() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    run(&mut st, "PLAY 1-10 SHORT");
    st.tick_all();
    let msgs = osc_messages(&st, 0);
    let get = |addr: &str| {
        msgs.iter()
            .find(|m| m.addr == format!("/channel/1/{addr}"))
            .map(|m| m.args.clone())
    };
    let l = "stage/layer/10/";
    assert_eq!(
        get("framerate"),
        Some(vec![OscType::Int(25), OscType::Int(1)])
    );
    assert_eq!(
        get("format"),
        Some(vec![OscType::String("640x360p2500".into())])
    );
    assert_eq!(
        get(&format!("{l}foreground/producer")),
        Some(vec![OscType::String("transition".into())])
    );
    assert_eq!(
        get(&format!("{l}foreground/file/time")),
        Some(vec![OscType::Float(0.0), OscType::Float(2.0)])
    );
    assert_eq!(
        get(&format!("{l}foreground/file/streams/0/fps")),
        Some(vec![OscType::Int(50), OscType::Int(1)])
    );
    assert_eq!(
        get(&format!("{l}foreground/transition/frame")),
        Some(vec![OscType::Int(0), OscType::Int(0)])
    );
    assert_eq!(
        msgs.first().map(|m| m.addr.as_str()),
        Some("/channel/1/format")
    );
    ticks(&mut st, 12);
    run(&mut st, "LOADBG 1-10 CLIP2 AUTO");
    st.tick_all();
    let msgs = osc_messages(&st, 0);
    let frames_left = msgs
        .iter()
        .find(|m| m.addr.ends_with("frames_left"))
        .map(|m| m.args.clone());
    // Recorded: first frames_left 38 at t=0.88 s, 13 frames after the clip started.
    assert_eq!(frames_left, Some(vec![OscType::Long(38)]));
    ticks(&mut st, 37);
    let producer = |st: &SimState| {
        osc_messages(st, 0)
            .into_iter()
            .find(|m| m.addr.ends_with("foreground/producer"))
            .map(|m| m.args)
    };
    assert_eq!(producer(&st), Some(vec![OscType::String("ffmpeg".into())]));
    st.tick_all();
    // Recorded: switched at t=2.40 s = 51 frames after SHORT's first frame at t=0.36 s.
    assert_eq!(
        producer(&st),
        Some(vec![OscType::String("transition".into())])
    );
}
