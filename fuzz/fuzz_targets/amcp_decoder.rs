//! Fuzzes the AMCP reply decoder: no panics on any bytes, identical frames whether the input
//! arrives at once or in small reads, buffered data bounded by the frame limit, and decoded
//! frames re-serialize to bytes that decode to the same frames.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use onair::amcp::codec::{AmcpCodec, Body, DEFAULT_MAX_FRAME, Frame};
use tokio_util::codec::Decoder;

struct Outcome {
    frames: Vec<Frame>,
    failed: bool,
}

fn decode(input: &[u8], limit: usize, chunk: usize) -> Outcome {
    let mut codec = AmcpCodec::new(limit);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => {
                    return Outcome {
                        frames,
                        failed: true,
                    };
                }
            }
        }
        assert!(buf.len() + codec.pending_frame_bytes() <= limit);
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {
                return Outcome {
                    frames,
                    failed: false,
                };
            }
            Err(_) => {
                return Outcome {
                    frames,
                    failed: true,
                };
            }
        }
    }
}

/// The wire form of frames, as a server would write them.
fn serialize(frames: &[Frame]) -> Vec<u8> {
    let mut out = String::new();
    for frame in frames {
        match frame {
            Frame::Pong(args) if args.is_empty() => out.push_str("PONG\r\n"),
            Frame::Pong(args) => out.push_str(&format!("PONG {args}\r\n")),
            Frame::Reply(reply) => {
                if let Some(id) = &reply.req_id {
                    out.push_str(&format!("RES {id} "));
                }
                out.push_str(&format!("{:03} {}\r\n", reply.code, reply.status));
                match &reply.body {
                    Body::None => {}
                    Body::Line(line) => out.push_str(&format!("{line}\r\n")),
                    Body::Lines(lines) => {
                        for line in lines {
                            out.push_str(&format!("{line}\r\n"));
                        }
                        out.push_str("\r\n");
                    }
                }
            }
        }
    }
    out.into_bytes()
}

fuzz_target!(|data: &[u8]| {
    // Two header bytes choose the frame limit and the read size; the rest is the byte stream.
    let (header, input) = data.split_at(data.len().min(2));
    let limit = 16 + usize::from(header.first().copied().unwrap_or(255)) * 16;
    let chunk = 1 + usize::from(header.get(1).copied().unwrap_or(255));

    let whole = decode(input, limit, input.len());
    let split = decode(input, limit, chunk);
    assert_eq!(whole.frames, split.frames);
    assert_eq!(whole.failed, split.failed);

    let again = decode(&serialize(&whole.frames), DEFAULT_MAX_FRAME, usize::MAX);
    assert!(!again.failed);
    assert_eq!(again.frames, whole.frames);
});
