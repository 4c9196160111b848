//! Replies of `execute`, byte-compared with the recordings where they exist.

use super::*;
use crate::amcp::{TokenizerDialect, tokenize};
use crate::sim::Dialect;
use crate::sim::media::{SimMedia, VideoFormat};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The `recv` of the first exchange in `file` whose `send` is `send`.
pub(crate) fn recorded(file: &str, send: &str) -> String {
    let path = format!("{FIXTURES}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["send"] == send)
        .and_then(|e| e["recv"].as_str())
        .unwrap_or_else(|| panic!("{send:?} not in {file}"))
        .to_string()
}

/// A simulator state with one channel of `format`, the virtual library of 20 files.
pub(crate) fn sim(dialect: Dialect, format: &str) -> SimState {
    SimState::new(
        dialect,
        vec![VideoFormat::parse(format).unwrap()],
        SimMedia::virtual_library(20),
    )
}

/// A minimal stand-in for the parser: `PLAY 1-10 CLIP1 LOOP`, `MIXER 1-10 OPACITY 0.5`, `INFO PATHS`.
pub(crate) fn request(line: &str) -> SimRequest {
    let tokens = tokenize(line, TokenizerDialect::V24);
    let mut it = tokens.into_iter().peekable();
    let first = it.next().unwrap().to_uppercase();
    let (mut channel, mut layer) = (None, None);
    let is_address = |t: &str| {
        t.split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if it.peek().is_some_and(|t| is_address(t)) {
        let addr = it.next().unwrap();
        let mut parts = addr.split('-');
        channel = parts.next().and_then(|c| c.parse::<u16>().ok());
        layer = parts.next().and_then(|l| l.parse().ok());
    }
    let two = it.peek().map(|t| format!("{first} {}", t.to_uppercase()));
    let name = match two.and_then(|t| EXECUTABLE.iter().find(|n| **n == t)) {
        Some(n) => {
            it.next();
            *n
        }
        None => EXECUTABLE
            .iter()
            .find(|n| **n == first)
            .unwrap_or_else(|| panic!("unknown {first}")),
    };
    let mut params: Vec<String> = it.collect();
    if name == "LOCK" {
        // A global command: the parser puts a numeric first token back (docs/amcp-notes.md §3).
        if let Some(c) = channel.take() {
            params.insert(0, c.to_string());
        }
    }
    SimRequest {
        name,
        channel,
        layer,
        params,
        req_id: None,
    }
}

/// Executes one line and returns the reply text (`<silent>` for no reply).
pub(crate) fn run(state: &mut SimState, line: &str) -> String {
    match execute(state, &request(line)) {
        Outcome::Reply(r) => r,
        Outcome::Silent => "<silent>".into(),
    }
}

const BASICS: &str = "casparcg-2.4.3/basics.json";
const SCANNER: &str = "casparcg-2.4.3/media-scanner.json";
const EDGES: &str = "casparcg-2.4.3/pipelining-and-edge-cases.json";

#[test]
fn scanner_replies_match_the_recordings() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    st.media = SimMedia::virtual_library(3);
    assert_eq!(run(&mut st, "CLS"), recorded(BASICS, "CLS\r\n"));
    assert_eq!(
        run(&mut st, "CINF CLIP1"),
        recorded(SCANNER, "CINF CLIP1\r\n")
    );
    assert_eq!(
        run(&mut st, "cinf clip1"),
        recorded(SCANNER, "CINF CLIP1\r\n")
    );
    assert_eq!(
        run(&mut st, "CINF NOSUCHFILE"),
        recorded(EDGES, "CINF NOSUCHFILE\r\n")
    );
    assert_eq!(run(&mut st, "TLS"), recorded(SCANNER, "TLS\r\n"));
    assert_eq!(run(&mut st, "FLS"), recorded(SCANNER, "FLS\r\n"));
    assert_eq!(
        run(&mut st, "THUMBNAIL LIST"),
        recorded(SCANNER, "THUMBNAIL LIST\r\n")
    );
    st.media.templates.clear();
    assert_eq!(run(&mut st, "TLS"), recorded(BASICS, "TLS\r\n"));
    st.media.scanner_up = false;
    let down = "casparcg-2.4.3/no-media-scanner.json";
    assert_eq!(run(&mut st, "CLS"), recorded(down, "CLS\r\n"));
    assert_eq!(run(&mut st, "TLS"), recorded(down, "TLS\r\n"));
    assert_eq!(run(&mut st, "CINF CLIP1"), recorded(down, "CINF CLIP1\r\n"));
    assert_eq!(
        run(&mut st, "THUMBNAIL RETRIEVE CLIP1"),
        "501 THUMBNAIL RETRIEVE FAILED\r\n"
    );
    // Playback does not need the scanner.
    assert_eq!(
        run(&mut st, "PLAY 1-10 CLIP1"),
        recorded(down, "PLAY 1-10 CLIP1\r\n")
    );
}

#[test]
fn global_queries_match_the_recordings() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    assert_eq!(run(&mut st, "VERSION"), recorded(BASICS, "VERSION\r\n"));
    assert_eq!(run(&mut st, "INFO"), recorded(BASICS, "INFO\r\n"));
    assert_eq!(
        run(&mut st, "INFO PATHS"),
        recorded(EDGES, "INFO PATHS\r\n")
    );
    let mut v25 = sim(Dialect::V25, "720p5000");
    let f25 = "casparcg-2.5.0/basics-and-pipelining.json";
    assert_eq!(run(&mut v25, "VERSION"), recorded(f25, "VERSION\r\n"));
    assert_eq!(run(&mut v25, "INFO"), recorded(f25, "INFO\r\n"));
    let mut two = SimState::new(
        Dialect::V24,
        vec![
            VideoFormat::default(),
            VideoFormat::parse("720p5000").unwrap(),
        ],
        SimMedia::virtual_library(3),
    );
    assert_eq!(
        run(&mut two, "INFO"),
        "200 INFO OK\r\n1 1080i5000 PLAYING\r\n2 720p5000 PLAYING\r\n\r\n"
    );
    let config = run(&mut two, "INFO CONFIG");
    assert!(config.starts_with(
        "201 INFO CONFIG OK\r\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n"
    ));
    assert!(
        config.ends_with("</configuration>\n\r\n")
            && config.contains("<video-mode>720p5000</video-mode>")
    );
    let gl = run(&mut two, "GL INFO");
    assert!(gl.starts_with("201 GL INFO OK\r\n<?xml") && gl.ends_with("</gl>\n\r\n"));
    for (line, reply) in [
        ("DIAG", "202 DIAG OK\r\n"),
        ("GL GC", "202 GL GC OK\r\n"),
        ("KILL", "202 KILL OK\r\n"),
        ("RESTART", "202 RESTART OK\r\n"),
        ("CHANNEL_GRID", "202 CHANNEL_GRID OK\r\n"),
        ("PRINT 1", "202 PRINT OK\r\n"),
        ("THUMBNAIL GENERATE CLIP1", "202 THUMBNAIL GENERATE OK\r\n"),
        (
            "THUMBNAIL GENERATE_ALL",
            "202 THUMBNAIL GENERATE_ALL OK\r\n",
        ),
    ] {
        assert_eq!(run(&mut two, line), reply, "{line}");
    }
    let thumb = run(&mut two, "THUMBNAIL RETRIEVE clip1");
    assert!(thumb.starts_with("201 THUMBNAIL RETRIEVE OK\r\niVBOR") && thumb.ends_with("\r\n"));
}

#[test]
fn playback_replies_match_the_recordings() {
    let mut st = sim(Dialect::V24, "640x360p2500");
    for line in [
        "PLAY 1-10 CLIP1",
        "LOADBG 1-10 CLIP2 AUTO",
        "PAUSE 1-10",
        "RESUME 1-10",
        "STOP 1-10",
        "CLEAR 1",
    ] {
        assert_eq!(
            run(&mut st, line),
            recorded(BASICS, &format!("{line}\r\n")),
            "{line}"
        );
    }
    assert_eq!(
        run(&mut st, "PLAY 1-10 NOSUCHFILE"),
        recorded(BASICS, "PLAY 1-10 NOSUCHFILE\r\n")
    );
    assert_eq!(run(&mut st, "PLAY 1"), recorded(EDGES, "PLAY 1\r\n"));
    assert_eq!(
        run(&mut st, "LOAD 1-10 CLIP2"),
        recorded(EDGES, "LOAD 1-10 CLIP2\r\n")
    );
    assert_eq!(
        run(&mut st, "CALL 1-10 SEEK 100"),
        recorded(EDGES, "CALL 1-10 SEEK 100\r\n")
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY"),
        recorded(EDGES, "MIXER 1-10 OPACITY\r\n")
    );
    assert_eq!(
        run(&mut st, "PLAY 1-10 \"CLIP1\" LOOP"),
        recorded(EDGES, "PLAY 1-10 \"CLIP1\" LOOP\r\n")
    );
    assert_eq!(
        run(&mut st, "play 1-10 clip2"),
        recorded(EDGES, "play 1-10 clip2\r\n")
    );
    assert_eq!(
        run(&mut st, "LOADBG 1-10 NOSUCHFILE"),
        "404 LOADBG FAILED\r\n"
    );
    assert_eq!(run(&mut st, "LOAD 1-10 NOSUCHFILE"), "404 LOAD FAILED\r\n");
    assert_eq!(
        run(&mut st, "PLAY 1-10 CLIP1 SEEK abc"),
        "403 PLAY FAILED\r\n"
    );
    assert_eq!(run(&mut st, "CLEAR ALL"), "202 CLEAR ALL OK\r\n");
    assert!(st.channels[0].layers.is_empty());
}

#[test]
fn clear_on_404_blanks_but_reports_404() {
    let mut st = sim(Dialect::V24, "1080i5000");
    run(&mut st, "PLAY 1-10 CLIP1");
    assert_eq!(
        run(&mut st, "PLAY 1-10 NOSUCHFILE CLEAR_ON_404"),
        "404 PLAY FAILED\r\n"
    );
    assert_eq!(st.layer(0, 10).unwrap().foreground.name(), "color");
    let mut v23 = sim(Dialect::V23, "1080i5000");
    run(&mut v23, "PLAY 1-10 CLIP1");
    assert_eq!(
        run(&mut v23, "PLAY 1-10 NOSUCHFILE CLEAR_ON_404"),
        "404 PLAY FAILED\r\n"
    );
    assert_eq!(v23.layer(0, 10).unwrap().foreground.name(), "ffmpeg");
}

#[test]
fn call_replies_and_dialect_errors() {
    let mut st = sim(Dialect::V24, "1080i5000");
    assert_eq!(
        run(&mut st, "CALL 1-10 SEEK 10"),
        "202 CALL OK\r\n",
        "empty layer"
    );
    assert!(st.layer(0, 10).is_some(), "CALL creates the layer");
    run(&mut st, "PLAY 1-10 CLIP1");
    assert_eq!(run(&mut st, "CALL 1-10 LOOP"), "201 CALL OK\r\n0\r\n");
    assert_eq!(run(&mut st, "CALL 1-10 LOOP 1"), "201 CALL OK\r\n1\r\n");
    assert_eq!(run(&mut st, "CALL 1-10 SEEK 100"), "201 CALL OK\r\n100\r\n");
    assert_eq!(run(&mut st, "CALL 1-10 LOOP true"), "<silent>");
    assert_eq!(run(&mut st, "CALL 1-10 FOO"), "<silent>");
    assert_eq!(run(&mut st, "CALLBG 1-10 LOOP"), "202 CALLBG OK\r\n");
    run(&mut st, "LOADBG 1-10 CLIP2");
    assert_eq!(
        run(&mut st, "CALLBG 1-10 LENGTH 50"),
        "201 CALLBG OK\r\n50\r\n"
    );
    assert_eq!(run(&mut st, "CALLBG 1-10 SEEK x"), "<silent>");

    let mut v23 = sim(Dialect::V23, "1080i5000");
    run(&mut v23, "PLAY 1-10 CLIP1");
    assert_eq!(run(&mut v23, "CALL 1-10 LOOP true"), "403 CALL FAILED\r\n");
    assert_eq!(run(&mut v23, "CALL 1-10 SEEK abc"), "403 CALL FAILED\r\n");
    assert_eq!(run(&mut v23, "CALL 1-10 FOO 1"), "501 CALL FAILED\r\n");
    assert_eq!(run(&mut v23, "CALL 1-10 SEEK 5"), "201 CALL OK\r\n5\r\n");
}

#[test]
fn mixer_set_query_defer() {
    let mut st = sim(Dialect::V24, "1080i5000");
    assert_eq!(
        run(&mut st, "MIXER 1-10 FILL"),
        "201 MIXER OK\r\n0.000000 0.000000 1.000000 1.000000\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY 0.5 25 easeinsine"),
        "202 MIXER OK\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY"),
        "201 MIXER OK\r\n0.5\r\n"
    );
    assert_eq!(run(&mut st, "MIXER 1-10 OPACITY 0.1"), "202 MIXER OK\r\n");
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY"),
        "201 MIXER OK\r\n0.10000000000000001\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY abc"),
        "403 MIXER OPACITY FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 OPACITY 1 10 bogus"),
        "403 MIXER OPACITY FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 FILL 0 0 0.5"),
        "402 MIXER FILL FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 FILL 0.25 0 0.5 0.5 DEFER"),
        "202 MIXER OK\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 VOLUME 0.5 DEFER"),
        "202 MIXER OK\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1-10 FILL"),
        "201 MIXER OK\r\n0.000000 0.000000 1.000000 1.000000\r\n"
    );
    assert_eq!(run(&mut st, "MIXER 1 COMMIT"), "202 MIXER OK\r\n");
    assert_eq!(
        run(&mut st, "MIXER 1-10 FILL"),
        "201 MIXER OK\r\n0.250000 0.000000 0.500000 0.500000\r\n"
    );
    assert_eq!(run(&mut st, "MIXER 1-10 VOLUME"), "201 MIXER OK\r\n0.5\r\n");
    assert_eq!(run(&mut st, "MIXER 1-10 KEYER 1"), "202 MIXER OK\r\n");
    assert_eq!(run(&mut st, "MIXER 1-10 KEYER"), "201 MIXER OK\r\n1\r\n");
    assert_eq!(
        run(&mut st, "MIXER 1 MASTERVOLUME 0.25"),
        "202 MIXER OK\r\n"
    );
    assert_eq!(
        run(&mut st, "MIXER 1 MASTERVOLUME"),
        "201 MIXER OK\r\n0.25\r\n"
    );
    assert_eq!(run(&mut st, "MIXER 1 GRID 2"), "202 MIXER OK\r\n");
    assert_eq!(
        run(&mut st, "MIXER 1-4 CLIP"),
        "201 MIXER OK\r\n0.500000 0.500000 0.500000 0.500000\r\n"
    );
    run(&mut st, "PLAY 1-10 CLIP1");
    run(&mut st, "CLEAR 1-10");
    assert_eq!(
        run(&mut st, "MIXER 1-10 KEYER"),
        "201 MIXER OK\r\n1\r\n",
        "CLEAR keeps transforms"
    );
    assert_eq!(run(&mut st, "MIXER 1-10 CLEAR"), "202 MIXER OK\r\n");
    assert_eq!(run(&mut st, "MIXER 1-10 KEYER"), "201 MIXER OK\r\n0\r\n");
    assert_eq!(
        run(&mut st, "MIXER 1-10 BLEND"),
        "201 MIXER OK\r\nnormal\r\n"
    );
}

#[test]
fn data_log_lock_set_swap_consumers() {
    let mut st = sim(Dialect::V24, "1080i5000");
    assert_eq!(
        run(&mut st, "DATA STORE my/item \"line1\\nline2\\n\""),
        "202 DATA STORE OK\r\n"
    );
    assert_eq!(
        run(&mut st, "DATA RETRIEVE MY/ITEM"),
        "201 DATA RETRIEVE OK\r\nline1\nline2\r\n"
    );
    assert_eq!(
        run(&mut st, "DATA LIST"),
        "200 DATA LIST OK\r\nMY/ITEM\r\n\r\n"
    );
    assert_eq!(
        run(&mut st, "DATA REMOVE my/item"),
        "202 DATA REMOVE OK\r\n"
    );
    assert_eq!(
        run(&mut st, "DATA RETRIEVE my/item"),
        "404 DATA RETRIEVE FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "DATA REMOVE my/item"),
        "404 DATA REMOVE FAILED\r\n"
    );
    assert_eq!(run(&mut st, "LOG LEVEL"), "201 LOG OK\r\ninfo\r\n");
    assert_eq!(run(&mut st, "LOG LEVEL DEBUG"), "202 LOG OK\r\n");
    assert_eq!(run(&mut st, "LOG LEVEL loud"), "403 LOG FAILED\r\n");
    assert_eq!(
        run(&mut st, "LOCK 1 ACQUIRE secret"),
        "202 LOCK ACQUIRE OK\r\n"
    );
    assert_eq!(
        run(&mut st, "LOCK 1 ACQUIRE other"),
        "503 LOCK ACQUIRE FAILED\r\n"
    );
    assert_eq!(
        run(&mut st, "LOCK 1 CLEAR wrong"),
        "503 LOCK CLEAR FAILED\r\n"
    );
    assert_eq!(run(&mut st, "LOCK 1 CLEAR secret"), "202 LOCK CLEAR OK\r\n");
    assert_eq!(run(&mut st, "LOCK 1 RELEASE"), "202 LOCK RELEASE OK\r\n");
    assert_eq!(run(&mut st, "LOCK 7 ACQUIRE x"), "403 LOCK FAILED\r\n");
    assert_eq!(run(&mut st, "SET 1 MODE 720p5000"), "202 SET MODE OK\r\n");
    assert_eq!(
        run(&mut st, "INFO"),
        "200 INFO OK\r\n1 720p5000 PLAYING\r\n\r\n"
    );
    assert_eq!(run(&mut st, "SET 1 MODE nonsense"), "403 SET FAILED\r\n");
    run(&mut st, "PLAY 1-10 CLIP1");
    assert_eq!(run(&mut st, "SWAP 1-10 1-20"), "202 SWAP OK\r\n");
    assert_eq!(st.layer(0, 20).unwrap().foreground.name(), "ffmpeg");
    assert_eq!(st.layer(0, 10).unwrap().foreground.name(), "empty");
    assert_eq!(run(&mut st, "SWAP 1-10 x"), "403 SWAP FAILED\r\n");
    assert_eq!(run(&mut st, "ADD 1 SCREEN"), "202 ADD OK\r\n");
    assert_eq!(run(&mut st, "ADD 1 TELEPORTER"), "404 ADD FAILED\r\n");
    assert_eq!(run(&mut st, "REMOVE 1"), "402 REMOVE FAILED\r\n");
    assert_eq!(run(&mut st, "REMOVE 1-700"), "404 REMOVE FAILED\r\n");
    assert_eq!(run(&mut st, "REMOVE 1-600"), "202 REMOVE OK\r\n");
    assert_eq!(run(&mut st, "ADD 1 DECKLINK 2"), "202 ADD OK\r\n");
    assert_eq!(run(&mut st, "REMOVE 1 DECKLINK"), "202 REMOVE OK\r\n");
}

#[test]
fn every_executable_name_answers_without_panicking() {
    let params: &[&[&str]] = &[
        &[],
        &[""],
        &["x"],
        &["1", "x", "-5"],
        &["\"", "99999999999999999999", "NaN"],
    ];
    for dialect in [Dialect::V23, Dialect::V24, Dialect::V25] {
        let mut st = sim(dialect, "1080i5000");
        for name in EXECUTABLE {
            for layer in [None, Some(-1), Some(10)] {
                for p in params {
                    let req = SimRequest {
                        name,
                        channel: Some(1),
                        layer,
                        params: p.iter().map(|s| s.to_string()).collect(),
                        req_id: None,
                    };
                    if let Outcome::Reply(r) = execute(&mut st, &req) {
                        assert!(
                            r.ends_with("\r\n") && r.as_bytes()[0].is_ascii_digit(),
                            "{name} {p:?}: {r:?}"
                        );
                    }
                    st.tick_all();
                }
            }
        }
    }
}
