//! Property tests for `AmcpCodec`: random reply streams of every shape decode to exactly the
//! generated frames however the bytes are split, arbitrary bytes never panic the decoder, and
//! the buffered data stays within the configured frame limit.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use onair::amcp::codec::{AmcpCodec, Body, DecodeError, Frame, Outgoing, Reply, WriteError};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

/// Text of one line: printable ASCII, bare CR/LF and non-ASCII, but never the `\r\n` terminator.
fn line_text() -> impl Strategy<Value = String> {
    "[ -~\r\n\u{e9}\u{65e5}]{0,24}".prop_filter("no CRLF inside a line", |s| !s.contains("\r\n"))
}

/// A 200 data line: like [`line_text`] but never empty (an empty line ends the body).
fn data_line() -> impl Strategy<Value = String> {
    line_text().prop_filter("non-empty", |s| !s.is_empty())
}

/// A 201 body shaped like the INFO XML: bare LFs between elements.
fn xml_like() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9_ .]{0,10}", 0..6).prop_map(|parts| {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<channel>\n");
        for part in parts {
            xml.push_str(&format!("   <x>{part}</x>\n"));
        }
        xml.push_str("</channel>\n");
        xml
    })
}

fn status_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => line_text(),
        1 => Just("QUEUE OVERFLOW".to_owned()),
        1 => Just(" ERROR".to_owned()),
        1 => Just("COMMIT PARTIAL".to_owned()),
        1 => Just("OSC SUBSCRIBE BAD PORT".to_owned()),
    ]
}

/// A code and the body it implies.
fn code_and_body() -> impl Strategy<Value = (u16, Body)> {
    let no_data = prop_oneof![
        prop::sample::select(vec![202u16, 401, 402, 403, 404, 500, 501, 503, 504]),
        (0u16..1000).prop_filter("codes with data", |c| ![200, 201, 400].contains(c)),
    ];
    prop_oneof![
        3 => prop::collection::vec(data_line(), 0..6).prop_map(|l| (200, Body::Lines(l))),
        2 => prop_oneof![line_text(), xml_like()].prop_map(|l| (201, Body::Line(l))),
        2 => line_text().prop_map(|l| (400, Body::Line(l))),
        3 => no_data.prop_map(|c| (c, Body::None)),
    ]
}

/// One frame and its exact wire bytes.
fn frame() -> impl Strategy<Value = (Frame, Vec<u8>)> {
    let reply = (
        proptest::option::of("[A-Za-z0-9_-]{1,8}"),
        code_and_body(),
        status_text(),
        any::<bool>(),
    )
        .prop_map(|(req_id, (code, body), status, space_before_empty)| {
            let mut wire = String::new();
            if let Some(id) = &req_id {
                wire.push_str(&format!("RES {id} "));
            }
            wire.push_str(&format!("{code:03}"));
            // An empty status may be sent as `202\r\n` or `202 \r\n`; both mean "".
            if !status.is_empty() || space_before_empty {
                wire.push(' ');
            }
            wire.push_str(&status);
            wire.push_str("\r\n");
            match &body {
                Body::None => {}
                Body::Line(line) => wire.push_str(&format!("{line}\r\n")),
                Body::Lines(lines) => {
                    for line in lines {
                        wire.push_str(&format!("{line}\r\n"));
                    }
                    wire.push_str("\r\n");
                }
            }
            let frame = Frame::Reply(Reply {
                req_id,
                code,
                status,
                body,
            });
            (frame, wire.into_bytes())
        });
    let pong = line_text().prop_map(|args| {
        let wire = if args.is_empty() {
            "PONG\r\n".to_owned()
        } else {
            format!("PONG {args}\r\n")
        };
        (Frame::Pong(args), wire.into_bytes())
    });
    prop_oneof![6 => reply, 1 => pong]
}

fn stream() -> impl Strategy<Value = (Vec<Frame>, Vec<u8>)> {
    prop::collection::vec(frame(), 0..12).prop_map(|items| {
        let mut frames = Vec::new();
        let mut bytes = Vec::new();
        for (frame, wire) in items {
            frames.push(frame);
            bytes.extend_from_slice(&wire);
        }
        (frames, bytes)
    })
}

/// Feeds `bytes` in chunks whose sizes cycle through `sizes`, then `decode_eof`.
fn decode_in_chunks(bytes: &[u8], sizes: &[usize]) -> Result<Vec<Frame>, DecodeError> {
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf)? {
            frames.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf)? {
        frames.push(frame);
    }
    assert!(buf.is_empty());
    Ok(frames)
}

/// Bytes biased towards the protocol's own vocabulary, so the decoder's states get exercised.
fn noisy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        3 => any::<u8>().prop_map(|b| vec![b]),
        2 => prop::sample::select(vec![
            b"\r\n".to_vec(), b"\r".to_vec(), b"\n".to_vec(), b"200 ".to_vec(),
            b"201 ".to_vec(), b"400 ".to_vec(), b"202 ".to_vec(), b"RES ".to_vec(),
            b"PONG".to_vec(), b" ".to_vec(), b"\xff".to_vec(), b"\xc3".to_vec(),
        ]),
    ];
    prop::collection::vec(token, 0..200).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn whole_buffer_decodes_to_the_generated_frames((frames, bytes) in stream()) {
        let decoded = decode_in_chunks(&bytes, &[bytes.len().max(1)]).unwrap();
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn random_splits_give_the_same_frames(
        (frames, bytes) in stream(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        prop_assert_eq!(decode_in_chunks(&bytes, &sizes).unwrap(), frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_memory_stays_bounded(
        bytes in noisy_bytes(),
        limit in 1usize..300,
        sizes in prop::collection::vec(1usize..64, 1..6),
    ) {
        let mut codec = AmcpCodec::new(limit);
        let mut buf = BytesMut::new();
        let mut rest = bytes.as_slice();
        let mut sizes = sizes.iter().copied().cycle();
        'feed: while !rest.is_empty() {
            let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            buf.extend_from_slice(chunk);
            // Never more than the limit plus the read that was just appended.
            prop_assert!(buf.len() + codec.pending_frame_bytes() <= limit + n);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed, // the connection would be reset here
                }
            }
            prop_assert!(buf.len() + codec.pending_frame_bytes() <= limit);
        }
        if rest.is_empty() {
            let _ = codec.decode_eof(&mut buf);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn one_byte_at_a_time_gives_the_same_frames((frames, bytes) in stream()) {
        prop_assert_eq!(decode_in_chunks(&bytes, &[1]).unwrap(), frames);
    }

    #[test]
    fn frame_limit_is_exact((frame, wire) in frame()) {
        let decode = |limit: usize| {
            let mut codec = AmcpCodec::new(limit);
            let mut buf = BytesMut::from(wire.as_slice());
            codec.decode(&mut buf)
        };
        prop_assert_eq!(decode(wire.len()).unwrap(), Some(frame));
        let too_small = decode(wire.len() - 1);
        prop_assert!(
            matches!(too_small, Err(DecodeError::FrameTooLarge { .. })),
            "{:?}", too_small
        );
    }

    #[test]
    fn encoder_writes_valid_lines_and_refuses_the_rest(
        id in "[A-Za-z0-9_-]{1,12}",
        line in "[ -~\u{e9}]{0,40}",
        bad_id in "[ -~]{0,6}",
    ) {
        let mut codec = AmcpCodec::default();
        let mut dst = BytesMut::new();
        let result = codec.encode(Outgoing::request(id.clone(), line.clone()), &mut dst);
        if line.trim().is_empty() {
            prop_assert!(matches!(result, Err(WriteError::InvalidLine(_))));
            prop_assert!(dst.is_empty());
        } else {
            prop_assert!(result.is_ok());
            let expected = format!("REQ {id} {line}\r\n");
            prop_assert_eq!(&dst[..], expected.as_bytes());
            let id_ok = !bad_id.is_empty()
                && bad_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            let mut dst = BytesMut::new();
            let result = codec.encode(&Outgoing::request(bad_id, line.clone()), &mut dst);
            prop_assert_eq!(result.is_ok(), id_ok);
            let with_crlf = codec.encode(Outgoing::plain(format!("{line}\r\nBYE")), &mut dst);
            prop_assert!(matches!(with_crlf, Err(WriteError::InvalidLine(_))));
        }
    }
}

/// 100,000 CLS lines delivered one byte at a time: must stay linear (a rescanning decoder would
/// need ~10^13 byte comparisons here).
#[test]
fn large_200_body_in_one_byte_chunks_is_linear() {
    const LINES: usize = 100_000;
    let mut wire = b"RES big 200 CLS OK\r\n".to_vec();
    for i in 0..LINES {
        wire.extend_from_slice(format!("\"C{i}\"  MOVIE  1 20240101120000 1 1/25\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");

    let started = Instant::now();
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::with_capacity(64);
    let mut frames = Vec::new();
    for byte in &wire {
        buf.extend_from_slice(std::slice::from_ref(byte));
        if let Some(frame) = codec.decode(&mut buf).unwrap() {
            frames.push(frame);
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(frames.len(), 1);
    let Frame::Reply(reply) = &frames[0] else {
        panic!("{:?}", frames[0])
    };
    assert_eq!(reply.req_id.as_deref(), Some("big"));
    assert_eq!(reply.data_lines().len(), LINES);
    assert_eq!(
        reply.data_lines()[LINES - 1],
        format!("\"C{}\"  MOVIE  1 20240101120000 1 1/25", LINES - 1)
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

/// A single line that never ends is refused once it passes the limit, not buffered forever.
#[test]
fn endless_line_hits_the_limit() {
    let mut codec = AmcpCodec::new(1024);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let err = loop {
        buf.extend_from_slice(&[b'2'; 100]);
        fed += 100;
        match codec.decode(&mut buf) {
            Ok(None) => assert!(fed <= 1024),
            Ok(Some(frame)) => panic!("{frame:?}"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, DecodeError::FrameTooLarge { limit: 1024 }));
    assert!(fed <= 1024 + 100);
}
