//! Replays every recording in `tests/fixtures/**/*.json` (byte-exact transcripts of real CasparCG
//! 2.4.3 and 2.5.0 servers) through `AmcpCodec` and the body parsers.
//!
//! Expectations are derived independently of the decoder: a small model of the server's line
//! handling (REQ, PING, BYE, BEGIN/COMMIT/DISCARD, partial lines carried across writes) predicts
//! how many replies each write produces and which `RES` ids they carry; known facts from the
//! recordings are then checked reply by reply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use onair::amcp::body::{
    MediaKind, parse_cls, parse_cls_line, parse_info_list, parse_info_xml, parse_tls, parse_version,
};
use onair::amcp::codec::{AmcpCodec, Body, DecodeError, Frame, Reply};
use serde::Deserialize;
use tokio_util::codec::Decoder;

/// The recordings vendored in the repository (kept in sync by tests/fixtures_in_sync.rs), so the tests run on any clone.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Marker line with which a recording says "replies left out here" (queue-overflow.json).
const ELISION: &str = "...\r\n";

#[derive(Deserialize)]
struct Recording {
    server: String,
    #[allow(dead_code)]
    description: String,
    #[allow(dead_code)]
    format: String,
    exchanges: Vec<Exchange>,
}

#[derive(Deserialize)]
struct Exchange {
    send: String,
    recv: String,
    #[serde(default)]
    notes: Vec<String>,
}

struct Fixture {
    name: String,
    rec: Recording,
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixture directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

fn load_fixtures() -> Vec<Fixture> {
    let dir = Path::new(FIXTURES);
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing: the recordings are vendored in tests/fixtures",
        dir.display()
    );
    let mut paths = Vec::new();
    collect_json(dir, &mut paths);
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no *.json recordings under {}",
        dir.display()
    );
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rec: Recording = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid recording: {e}", path.display()));
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            Fixture { name, rec }
        })
        .collect()
}

/// Removes the elision marker line; returns whether there was one.
fn strip_elision(recv: &str) -> (String, bool) {
    if let Some(rest) = recv.strip_prefix(ELISION) {
        return (rest.to_owned(), true);
    }
    let marker = format!("\r\n{ELISION}");
    match recv.find(&marker) {
        Some(at) => (
            format!("{}\r\n{}", &recv[..at], &recv[at + marker.len()..]),
            true,
        ),
        None => (recv.to_owned(), false),
    }
}

/// Decodes chunks delivered one after another, then `decode_eof`; asserts everything is consumed.
fn decode_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    ctx: &str,
) -> Result<Vec<Frame>, DecodeError> {
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf)? {
            frames.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf)? {
        frames.push(frame);
    }
    assert!(
        buf.is_empty(),
        "{ctx}: {} bytes left in the buffer",
        buf.len()
    );
    Ok(frames)
}

fn decode_ok(bytes: &[u8], ctx: &str) -> Vec<Frame> {
    decode_chunks([bytes], ctx).unwrap_or_else(|e| panic!("{ctx}: decoder error {e:?}"))
}

/// One reply the model expects: its `RES` id (if any) and whether it is a `PONG`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    Reply(Option<String>),
    Pong,
}

/// What the server does with the lines it receives, as far as reply counting goes
/// (docs/amcp-notes.md §1.5, §2, §4.9, corrected by the recordings).
#[derive(Default)]
struct ServerModel {
    /// Bytes not yet terminated by `\r\n` (the server buffers them like we do).
    carry: String,
    /// Open batch: (REQ id on BEGIN, REQ ids of the stored members).
    batch: Option<(Option<String>, Vec<Option<String>>)>,
}

impl ServerModel {
    /// Feeds one write; returns the complete lines it finished and the replies they trigger.
    fn feed(&mut self, send: &str) -> (Vec<String>, Vec<Expected>) {
        self.carry.push_str(send);
        let mut lines = Vec::new();
        let mut expected = Vec::new();
        while let Some(at) = self.carry.find("\r\n") {
            let line = self.carry[..at].to_owned();
            self.carry.drain(..at + 2);
            self.line(&line, &mut expected);
            lines.push(line);
        }
        (lines, expected)
    }

    fn line(&mut self, line: &str, out: &mut Vec<Expected>) {
        let tokens: Vec<&str> = line.split(' ').filter(|t| !t.is_empty()).collect();
        let (id, cmd) = match tokens.as_slice() {
            [] => return out.push(Expected::Reply(None)), // empty line: 400 + empty echo
            [req] if req.eq_ignore_ascii_case("REQ") => return out.push(Expected::Reply(None)), // 402  ERROR
            [req, id] if req.eq_ignore_ascii_case("REQ") => {
                return out.push(Expected::Reply(Some((*id).to_owned())));
            }
            [req, id, cmd, ..] if req.eq_ignore_ascii_case("REQ") => {
                (Some((*id).to_owned()), cmd.to_ascii_uppercase())
            }
            [cmd, ..] => (None, cmd.to_ascii_uppercase()),
        };
        match cmd.as_str() {
            "PING" if id.is_none() => out.push(Expected::Pong),
            "BYE" => {}
            "BEGIN" if self.batch.is_none() => self.batch = Some((id, Vec::new())),
            "DISCARD" if self.batch.is_some() => self.batch = None,
            "COMMIT" => match self.batch.take() {
                Some((begin_id, members)) => {
                    out.extend(members.into_iter().map(Expected::Reply));
                    // Recorded on 2.4.3: `REQ b1 BEGIN` / `REQ b2 STOP 1-20` / `REQ b3 COMMIT`
                    // got only `RES b2 202 STOP OK`, no `RES b1 202 COMMIT OK` (contradicts §4.9).
                    // A plain BEGIN/COMMIT pair did get `202 COMMIT OK`.
                    if begin_id.is_none() && id.is_none() {
                        out.push(Expected::Reply(None));
                    }
                }
                None => out.push(Expected::Reply(id)), // 400: COMMIT without BEGIN
            },
            _ => match &mut self.batch {
                Some((_, members)) => members.push(id),
                None => out.push(Expected::Reply(id)),
            },
        }
    }
}

fn expected_of(frames: &[Frame]) -> Vec<Expected> {
    let mut out: Vec<Expected> = frames
        .iter()
        .map(|f| match f {
            Frame::Pong(_) => Expected::Pong,
            Frame::Reply(r) => Expected::Reply(r.req_id.clone()),
        })
        .collect();
    out.sort();
    out
}

/// Frame rate that a channel format name implies, for the formats the recordings use.
fn framerate_of(format: &str) -> (u32, u32) {
    match format {
        "640x360p2500" | "PAL" | "1080i5000" => (25, 1),
        "720p5000" => (50, 1),
        other => panic!("add the frame rate of {other} to the test"),
    }
}

#[derive(Default, Debug)]
struct Tally(BTreeMap<&'static str, usize>);

impl Tally {
    fn hit(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }
    fn at_least(&self, what: &str, n: usize) {
        let got = self.0.get(what).copied().unwrap_or(0);
        assert!(
            got >= n,
            "expected at least {n} {what} checks, ran {got}: {self:?}"
        );
    }
}

fn check_info_xml(reply: &Reply, server: &str, ctx: &str, tally: &mut Tally) {
    let xml = reply
        .body_text()
        .unwrap_or_else(|| panic!("{ctx}: INFO n without body"));
    let state = parse_info_xml(xml).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let format = state.format.as_deref().expect("2.4+ reports <format>");
    assert!(
        server.contains(format),
        "{ctx}: format {format} not in {server:?}"
    );
    assert_eq!(state.framerate, Some(framerate_of(format)), "{ctx}");
    assert_eq!(
        state.layers.keys().copied().collect::<Vec<_>>(),
        [10],
        "{ctx}"
    );
    let layer = &state.layers[&10];
    let fg = &layer.foreground;
    assert_eq!(fg.producer, "ffmpeg", "{ctx}");
    assert_eq!(fg.file_name.as_deref(), Some("CLIP1"), "{ctx}");
    assert_eq!(
        fg.file_path.as_deref(),
        Some("/opt/casparcg/media/CLIP1.mp4"),
        "{ctx}"
    );
    assert_eq!(fg.fps, Some((50, 1)), "{ctx}");
    assert_eq!(fg.clip, Some((0.0, 10.0)), "{ctx}");
    let (elapsed, total) = fg.time.expect("foreground file/time");
    assert!(
        (0.0..total).contains(&elapsed) && total == 10.0,
        "{ctx}: time {elapsed}/{total}"
    );
    assert_eq!((fg.paused, fg.looping), (Some(false), Some(false)), "{ctx}");
    assert_eq!(fg.transition, None, "{ctx}");
    let bg = &layer.background;
    if bg.is_empty() {
        assert_eq!(
            fg.frames_left, None,
            "{ctx}: frames_left without AUTO background"
        );
        tally.hit("INFO XML, empty background");
    } else {
        // LOADBG 1-10 CLIP2 AUTO is waiting behind CLIP1.
        assert_eq!(bg.producer, "transition", "{ctx}");
        assert_eq!(bg.file_name.as_deref(), Some("CLIP2"), "{ctx}");
        assert_eq!(bg.time, Some((0.0, 0.0)), "{ctx}");
        assert_eq!(bg.looping, Some(false), "{ctx}");
        let transition = bg.transition.as_ref().expect("background transition");
        assert_eq!(transition.producer.as_deref(), Some("ffmpeg"), "{ctx}");
        assert_eq!(transition.kind.as_deref(), Some("cut"), "{ctx}");
        assert_eq!(transition.frame, Some((0, 0)), "{ctx}");
        assert!(fg.frames_left.is_some_and(|n| n > 0), "{ctx}: frames_left");
        tally.hit("INFO XML, AUTO background");
    }
}

/// Shape checks that hold for every reply in every recording.
fn check_reply(reply: &Reply, server: &str, ctx: &str, tally: &mut Tally) {
    let status = reply.status.as_str();
    assert!(
        [200, 201, 202, 400, 402, 404, 501, 504].contains(&reply.code),
        "{ctx}: unexpected code in {reply:?}"
    );
    match reply.code {
        200 => assert!(matches!(reply.body, Body::Lines(_)), "{ctx}"),
        201 | 400 => assert!(matches!(reply.body, Body::Line(_)), "{ctx}"),
        _ => assert_eq!(reply.body, Body::None, "{ctx}"),
    }
    match (reply.code, status) {
        (201, "VERSION OK") => {
            let v = parse_version(reply.body_text().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(server.contains(&v.raw), "{ctx}: {v} vs {server}");
            assert!(
                v.supports_req() && v.supports_batch() && v.is_at_least(2, 4),
                "{ctx}"
            );
            assert_eq!(v.revision.len(), 9, "{ctx}: revision {}", v.revision);
            assert_eq!(v.tag, "Stable", "{ctx}");
            tally.hit("VERSION");
        }
        (200, "INFO OK") => {
            let list = parse_info_list(reply.data_lines()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(list.len(), 1, "{ctx}");
            assert_eq!(
                (list[0].channel, list[0].status.as_str()),
                (1, "PLAYING"),
                "{ctx}"
            );
            assert!(
                server.contains(&list[0].format),
                "{ctx}: {}",
                list[0].format
            );
            tally.hit("INFO list");
        }
        (201, "INFO OK") => {
            check_info_xml(reply, server, ctx, tally);
            tally.hit("INFO XML");
        }
        (201, "INFO PATHS OK") => {
            // A well-formed document that is not a channel: refused with a reason, no panic.
            let err = parse_info_xml(reply.body_text().unwrap_or_default()).unwrap_err();
            assert!(err.reason.contains("paths"), "{ctx}: {err}");
            tally.hit("INFO PATHS");
        }
        (200, "CLS OK") => {
            let clips = parse_cls(reply.data_lines()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let summary: Vec<(&str, u64, Option<f64>)> = clips
                .iter()
                .map(|c| (c.name.as_str(), c.frames, c.duration_secs()))
                .collect();
            assert_eq!(
                summary,
                [
                    ("CLIP1", 500, Some(10.0)),
                    ("CLIP2", 500, Some(10.0)),
                    ("SHORT", 100, Some(2.0))
                ],
                "{ctx}"
            );
            for clip in &clips {
                assert_eq!(clip.kind, MediaKind::Movie, "{ctx}");
                assert_eq!(clip.fps(), Some(50.0), "{ctx}");
                assert_eq!(clip.fps_fraction(), Some((50, 1)), "{ctx}");
                assert_eq!(clip.modified.len(), 14, "{ctx}");
            }
            tally.hit("CLS");
        }
        (201, "CINF OK") => {
            let clip = parse_cls_line(reply.body_text().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(
                (clip.name.as_str(), clip.size, clip.timebase),
                ("CLIP1", 571_414, (1, 50))
            );
            tally.hit("CINF");
        }
        (200, "TLS OK") => {
            let templates = parse_tls(reply.data_lines());
            assert!(
                templates.iter().all(|t| t == "TEST"),
                "{ctx}: {templates:?}"
            );
            tally.hit("TLS");
        }
        (400, "ERROR") => tally.hit("400 echo"),
        _ => {}
    }
}

/// Exact frames for the exchanges whose replies are known facts (in any order across queues).
fn check_known_exchange(send: &str, frames: &[Frame], ctx: &str, tally: &mut Tally) {
    let reply = |id: Option<&str>, code: u16, status: &str, body: Body| {
        Frame::Reply(Reply {
            req_id: id.map(str::to_owned),
            code,
            status: status.to_owned(),
            body,
        })
    };
    let sorted = |mut v: Vec<Frame>| {
        v.sort_by_key(|f| format!("{f:?}"));
        v
    };
    let expected = match send {
        "REQ\r\n" => vec![reply(None, 402, " ERROR", Body::None)],
        "REQ x9\r\n" => vec![reply(Some("x9"), 400, "ERROR", Body::Line("REQ x9".into()))],
        "PING\r\n" => vec![Frame::Pong(String::new())],
        "PING hello 123\r\n" => vec![Frame::Pong("hello 123".into())],
        "FOO\r\n" => vec![reply(None, 400, "ERROR", Body::Line("FOO".into()))],
        "PLAY 1-10 NOSUCHFILE\r\n" => vec![reply(None, 404, "PLAY FAILED", Body::None)],
        "CALL 1-10 SEEK 100\r\n" => vec![reply(None, 201, "CALL OK", Body::Line("100".into()))],
        "MIXER 1-10 OPACITY\r\n" => vec![reply(None, 201, "MIXER OK", Body::Line("1".into()))],
        "FLS\r\n" => vec![reply(None, 501, "FLS FAILED", Body::None)],
        "CINF NOSUCHFILE\r\n" => vec![reply(None, 501, "CINF FAILED", Body::None)],
        "REQ b3 COMMIT\r\n" => vec![reply(Some("b2"), 202, "STOP OK", Body::None)],
        "REQ a1 PLAY 1-10 NOSUCHFILE\r\nREQ a2 VERSION\r\nREQ a3 FOO\r\nREQ a4 PLAY 9-10 CLIP1\r\n" =>
        {
            let version = frames
                .iter()
                .find(|f| f.req_id() == Some("a2"))
                .cloned()
                .unwrap_or_else(|| panic!("{ctx}: no reply for a2"));
            vec![
                reply(Some("a1"), 404, "PLAY FAILED", Body::None),
                version,
                reply(Some("a3"), 400, "ERROR", Body::Line("REQ a3 FOO".into())),
                reply(
                    Some("a4"),
                    400,
                    "ERROR",
                    Body::Line("REQ a4 PLAY 9-10 CLIP1".into()),
                ),
            ]
        }
        "COMMIT\r\n" if frames.len() == 3 => vec![
            reply(None, 202, "PLAY OK", Body::None),
            reply(None, 202, "MIXER OK", Body::None),
            reply(None, 202, "COMMIT OK", Body::None),
        ],
        "COMMIT\r\n" => vec![reply(None, 400, "ERROR", Body::Line("COMMIT".into()))],
        _ => return,
    };
    assert_eq!(sorted(frames.to_vec()), sorted(expected), "{ctx}");
    tally.hit("known exchange");
}

/// The queue-overflow recording: 30 accepted replies in order, then one 504 for m234.
fn check_queue_overflow(raw_recv: &str, frames: &[Frame], ctx: &str, tally: &mut Tally) {
    assert_eq!(frames.len(), 31, "{ctx}");
    for (i, frame) in frames.iter().take(30).enumerate() {
        let id = format!("m{i}");
        let Frame::Reply(r) = frame else {
            panic!("{ctx}: {frame:?}")
        };
        assert_eq!(
            (r.req_id.as_deref(), r.code, r.status.as_str(), &r.body),
            (Some(id.as_str()), 202, "MIXER OK", &Body::None),
            "{ctx}"
        );
    }
    let overflow = Frame::Reply(Reply {
        req_id: Some("m234".into()),
        code: 504,
        status: "QUEUE OVERFLOW".into(),
        body: Body::None,
    });
    assert_eq!(frames.last(), Some(&overflow), "{ctx}");
    // The raw recording, elision marker included, is exactly where a strict decoder must stop.
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::from(raw_recv.as_bytes());
    let mut before = 0;
    let err = loop {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => before += 1,
            Ok(None) => panic!("{ctx}: the elision marker was accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(before, 30, "{ctx}");
    assert!(
        matches!(err, DecodeError::Malformed { ref line } if line == "..."),
        "{err:?}"
    );
    tally.hit("504 QUEUE OVERFLOW");
}

#[test]
fn every_exchange_decodes_to_the_expected_replies() {
    let mut tally = Tally::default();
    for fixture in load_fixtures() {
        let mut model = ServerModel::default();
        for (index, ex) in fixture.rec.exchanges.iter().enumerate() {
            let ctx = format!("{} exchange #{index} (send {:?})", fixture.name, ex.send);
            let (recv, elided) = strip_elision(&ex.recv);
            let frames = decode_ok(recv.as_bytes(), &ctx);
            let (lines, mut expected) = model.feed(&ex.send);
            expected.sort();
            let got = expected_of(&frames);
            if elided {
                // Only part of the replies were kept: each one must still match a sent request.
                let mut left = expected.clone();
                for e in &got {
                    let pos = left.iter().position(|x| x == e);
                    let pos = pos.unwrap_or_else(|| panic!("{ctx}: unexpected reply {e:?}"));
                    left.remove(pos);
                }
                check_queue_overflow(&ex.recv, &frames, &ctx, &mut tally);
            } else {
                assert_eq!(
                    got, expected,
                    "{ctx}: replies vs. what the lines sent imply"
                );
            }
            if ex.recv.is_empty() {
                assert!(
                    ex.notes.iter().any(|n| n.contains("no reply")),
                    "{ctx}: empty recv without a note"
                );
            }
            for frame in &frames {
                if let Frame::Reply(reply) = frame {
                    check_reply(reply, &fixture.rec.server, &ctx, &mut tally);
                    if reply.code == 400 {
                        let echo = reply.body_text().unwrap_or_default();
                        assert!(lines.iter().any(|l| l == echo), "{ctx}: echo {echo:?}");
                    }
                }
            }
            check_known_exchange(&ex.send, &frames, &ctx, &mut tally);
            if ex.send == "\r\n" {
                tally.hit("empty line");
            }
        }
    }
    for (what, n) in [
        ("VERSION", 10),
        ("INFO list", 8),
        ("INFO XML", 5),
        ("INFO XML, AUTO background", 4),
        ("INFO XML, empty background", 1),
        ("INFO PATHS", 1),
        ("CLS", 3),
        ("CINF", 2),
        ("TLS", 3),
        ("400 echo", 8),
        ("known exchange", 19),
        ("504 QUEUE OVERFLOW", 1),
        ("empty line", 2),
    ] {
        tally.at_least(what, n);
    }
}

#[test]
fn bare_lf_line_is_echoed_after_the_next_crlf() {
    // `VERSION\n` alone got no reply; the following `\r\n` completed the line `VERSION\n`.
    let fixture = load_fixtures()
        .into_iter()
        .find(|f| f.rec.exchanges.iter().any(|e| e.send == "VERSION\n"))
        .expect("a recording sends a bare-LF line");
    let at = fixture
        .rec
        .exchanges
        .iter()
        .position(|e| e.send == "VERSION\n")
        .unwrap();
    let next = &fixture.rec.exchanges[at + 1];
    let frames = decode_ok(next.recv.as_bytes(), "bare LF");
    let Frame::Reply(reply) = &frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!((reply.code, reply.body_text()), (400, Some("VERSION\n")));
}

#[test]
fn whole_streams_decode_identically_at_every_split() {
    for fixture in load_fixtures() {
        let mut stream = String::new();
        let mut per_exchange = Vec::new();
        for ex in &fixture.rec.exchanges {
            let (recv, _) = strip_elision(&ex.recv);
            per_exchange.extend(decode_ok(recv.as_bytes(), &fixture.name));
            stream.push_str(&recv);
        }
        let bytes = stream.as_bytes();
        let whole = decode_ok(bytes, &fixture.name);
        assert_eq!(whole, per_exchange, "{}: concatenated stream", fixture.name);
        if bytes.len() > 64 * 1024 {
            continue; // every-split replay is quadratic; the recordings are far smaller
        }
        for split in 0..=bytes.len() {
            let ctx = format!("{} split at {split}", fixture.name);
            let frames = decode_chunks([&bytes[..split], &bytes[split..]], &ctx)
                .unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
            assert_eq!(frames, whole, "{ctx}");
        }
        let ctx = format!("{} one byte at a time", fixture.name);
        let frames =
            decode_chunks(bytes.chunks(1), &ctx).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
        assert_eq!(frames, whole, "{ctx}");
    }
}
