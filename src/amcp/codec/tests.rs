//! Unit tests for the AMCP codec: every reply shape from §1.3-1.5, limits, truncation, encoding.

use super::*;

fn decode_all(input: &[u8]) -> Result<Vec<Frame>, DecodeError> {
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::from(input);
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(&mut buf)? {
        frames.push(frame);
    }
    if let Some(frame) = codec.decode_eof(&mut buf)? {
        frames.push(frame);
    }
    Ok(frames)
}

fn reply(req_id: Option<&str>, code: u16, status: &str, body: Body) -> Frame {
    Frame::Reply(Reply {
        req_id: req_id.map(str::to_owned),
        code,
        status: status.to_owned(),
        body,
    })
}

#[test]
fn decodes_every_shape() {
    let input = b"RES v1 201 VERSION OK\r\n2.4.3 fd9168c73 Stable\r\n\
        200 INFO OK\r\n1 1080i5000 PLAYING\r\n2 PAL PLAYING\r\n\r\n\
        200 TLS OK\r\n\r\n\
        202 PLAY OK\r\n\
        400 ERROR\r\n\r\n\
        400 ERROR\r\nVERSION\n\r\n\
        RES a3 400 ERROR\r\nREQ a3 FOO\r\n\
        402  ERROR\r\n\
        RES m234 504 QUEUE OVERFLOW\r\n\
        202 COMMIT PARTIAL\r\n\
        PONG\r\nPONG hello 123\r\n\
        201 INFO OK\r\n<?xml?>\n<channel>\n</channel>\n\r\n";
    let frames = decode_all(input).unwrap();
    assert_eq!(
        frames,
        vec![
            reply(
                Some("v1"),
                201,
                "VERSION OK",
                Body::Line("2.4.3 fd9168c73 Stable".into())
            ),
            reply(
                None,
                200,
                "INFO OK",
                Body::Lines(vec!["1 1080i5000 PLAYING".into(), "2 PAL PLAYING".into()])
            ),
            reply(None, 200, "TLS OK", Body::Lines(vec![])),
            reply(None, 202, "PLAY OK", Body::None),
            reply(None, 400, "ERROR", Body::Line(String::new())),
            reply(None, 400, "ERROR", Body::Line("VERSION\n".into())),
            reply(Some("a3"), 400, "ERROR", Body::Line("REQ a3 FOO".into())),
            reply(None, 402, " ERROR", Body::None),
            reply(Some("m234"), 504, "QUEUE OVERFLOW", Body::None),
            reply(None, 202, "COMMIT PARTIAL", Body::None),
            Frame::Pong(String::new()),
            Frame::Pong("hello 123".into()),
            reply(
                None,
                201,
                "INFO OK",
                Body::Line("<?xml?>\n<channel>\n</channel>\n".into())
            ),
        ]
    );
}

#[test]
fn bare_status_code_has_empty_status() {
    assert_eq!(
        decode_all(b"202\r\n").unwrap(),
        vec![reply(None, 202, "", Body::None)]
    );
}

#[test]
fn rejects_non_status_lines() {
    for bad in [
        &b"hello\r\n"[..],
        b"20 OK\r\n",
        b"2020 OK\r\n",
        b"RES 202 OK\r\n",
        b"RES  202 OK\r\n",
        b"PONGX\r\n",
        b"...\r\n",
        b"\r\n",
    ] {
        let err = decode_all(bad).unwrap_err();
        assert!(
            matches!(err, DecodeError::Malformed { .. }),
            "{bad:?}: {err:?}"
        );
    }
}

#[test]
fn invalid_utf8_is_an_error() {
    let err = decode_all(b"201 X OK\r\n\xff\xfe\r\n").unwrap_err();
    assert!(matches!(err, DecodeError::InvalidUtf8));
}

#[test]
fn truncated_stream_is_reported() {
    for partial in [
        &b"202 PLAY"[..],
        b"200 CLS OK\r\nA\r\n",
        b"201 VERSION OK\r\n",
    ] {
        let err = decode_all(partial).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err:?}");
    }
    assert!(decode_all(b"").unwrap().is_empty());
}

#[test]
fn frame_limit_applies_to_lines_and_bodies() {
    let mut codec = AmcpCodec::new(16);
    let mut buf = BytesMut::from(&b"202 A VERY LONG STATUS"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(DecodeError::FrameTooLarge { limit: 16 })
    ));

    let mut codec = AmcpCodec::new(16);
    let mut buf = BytesMut::from(&b"200 X OK\r\nabcdefg"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(DecodeError::FrameTooLarge { .. })
    ));

    // Exactly at the limit is fine.
    let mut codec = AmcpCodec::new(10);
    let mut buf = BytesMut::from(&b"202 X OK\r\n"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_some());
}

#[test]
fn split_crlf_across_reads() {
    let mut codec = AmcpCodec::default();
    let mut buf = BytesMut::from(&b"202 PLAY OK\r"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(b"\n");
    assert_eq!(
        codec.decode(&mut buf).unwrap(),
        Some(reply(None, 202, "PLAY OK", Body::None))
    );
}

#[test]
fn encodes_requests_and_rejects_bad_input() {
    let mut codec = AmcpCodec::default();
    let mut dst = BytesMut::new();
    codec
        .encode(Outgoing::request("a1", "PLAY 1-10 AMB"), &mut dst)
        .unwrap();
    codec.encode(&Outgoing::plain("PING"), &mut dst).unwrap();
    assert_eq!(&dst[..], b"REQ a1 PLAY 1-10 AMB\r\nPING\r\n");

    for bad in ["", "  ", "PLAY\r\n", "A\nB", "A\rB"] {
        assert!(matches!(
            codec.encode(Outgoing::plain(bad), &mut dst),
            Err(WriteError::InvalidLine(_))
        ));
    }
    for bad in ["", "a b", "a.b", "é"] {
        assert!(matches!(
            codec.encode(Outgoing::request(bad, "VERSION"), &mut dst),
            Err(WriteError::InvalidId(_))
        ));
    }
    assert_eq!(&dst[..], b"REQ a1 PLAY 1-10 AMB\r\nPING\r\n");
}

#[test]
fn reply_helpers() {
    let r = Reply {
        req_id: None,
        code: 200,
        status: "CLS OK".into(),
        body: Body::Lines(vec!["a".into()]),
    };
    assert!(r.is_success());
    assert_eq!(r.data_lines(), ["a".to_owned()]);
    assert_eq!(r.body_text(), None);
    assert_eq!(r.command_word(), Some("CLS"));
}
