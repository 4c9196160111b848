//! A client's writer task: sends what its [`Outbox`] holds, big messages as fragments.
//!
//! tungstenite formats every frame into one per-connection buffer before writing it to the socket,
//! and that buffer keeps the capacity of the largest frame it ever held for as long as the
//! connection lives. A snapshot of a 10,000-item rundown is 1.9 MB, so sent as one frame it left
//! every client holding 1.9 MB (1.85 GB for 1,000 clients). Sent as frames of at most [`FRAGMENT`]
//! bytes, one WebSocket message split per RFC 6455 section 5.4 (a text frame without FIN, then
//! continuation frames, the last with FIN), the buffer never grows past one fragment; browsers and
//! tungstenite clients reassemble the message and see no difference. The text is shared with other
//! clients and each fragment is a slice of it, so nothing is copied but into the socket buffer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::outbox::Outbox;

/// Payload bytes per frame of a fragmented message: with [`WRITE_COALESCE`], what each connection's
/// write buffer grows to at most (24 KiB × 1,000 clients = 24 MB); big enough that a 2 MB snapshot
/// costs only ~120 frames (10 header bytes and one write each).
pub(crate) const FRAGMENT: usize = 16 * 1024;

/// Frames are gathered up to this many bytes before tungstenite writes them to the socket (a flush
/// at the end of each batch writes the rest). With 16 edits in flight a client gets ~17 small
/// messages at once (the events and its ack); written one by one they cost a system call each and
/// wake the client as often, which was the writers' main cost. The buffer holds at most this plus
/// one fragment.
pub(crate) const WRITE_COALESCE: usize = 8 * 1024;

/// The most tungstenite may buffer for one connection: what [`WRITE_COALESCE`] gathers, a fragment
/// with its header, plus a pong or close frame it queued itself. The writer never gets near it; it
/// is the hard bound should that ever change, a failed write (the client reconnects) instead of a
/// buffer that grows.
pub(crate) const MAX_WRITE_BUFFER: usize = 4 * FRAGMENT;

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteEnd {
    /// The queue was closed and everything in it sent (or a close frame went out).
    Done,
    /// The socket refused a write (the client is gone).
    Failed,
    /// A write did not complete within the timeout: the client stopped reading.
    Stuck,
}

/// Messages written per flush.
const BATCH: usize = 64;

/// Sends queued messages until the queue is closed; every batch must be written within `timeout`,
/// so a client that stops reading cannot hold the task (or its memory) forever.
pub(crate) async fn write<W>(
    mut sink: W,
    outbox: Arc<Outbox>,
    timeout: Duration,
    sent: impl Fn(u64) + Send,
) -> WriteEnd
where
    W: Sink<Message> + Unpin,
{
    loop {
        let batch = outbox.next_batch(BATCH).await;
        if batch.is_empty() {
            return WriteEnd::Done;
        }
        let texts = batch
            .iter()
            .filter(|o| matches!(o.message, Message::Text(_)))
            .count();
        let closing = batch.iter().any(|o| matches!(o.message, Message::Close(_)));
        let written = tokio::time::timeout(timeout, async {
            for out in batch {
                let cost = out.cost();
                match out.message {
                    Message::Text(text) if text.len() > FRAGMENT => {
                        for frame in fragments(text, FRAGMENT) {
                            sink.feed(Message::Frame(frame)).await?;
                        }
                    }
                    message => sink.feed(message).await?,
                }
                // Handed to the socket (or its one-frame buffer): no longer ours to hold.
                outbox.written(cost);
            }
            sink.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => sent(texts as u64),
            Ok(Err(_)) => return WriteEnd::Failed,
            Err(_) => return WriteEnd::Stuck,
        }
        if closing {
            return WriteEnd::Done;
        }
    }
}

/// The frames of one text message of more than `max` bytes: a text frame without FIN, continuation
/// frames, and a last continuation with FIN, each of at most `max` bytes (`max` ≥ 4) and cut
/// between characters. RFC 6455 allows a cut inside a character, but a client that decodes each
/// fragment as it arrives (a browser's streaming decoder, a debugging proxy) then never sees half
/// of one.
fn fragments(text: Utf8Bytes, max: usize) -> impl Iterator<Item = Frame> {
    let bytes = Bytes::from(text);
    let max = max.max(4);
    let mut at = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let first = at == 0;
        let mut end = (at + max).min(bytes.len());
        // A UTF-8 continuation byte (0b10xx_xxxx) is never the first byte of a character; a
        // character is at most 4 bytes, so this steps back at most 3.
        while end < bytes.len() && bytes[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        let payload = bytes.slice(at..end);
        at = end;
        done = end == bytes.len();
        let opcode = OpCode::Data(if first { Data::Text } else { Data::Continue });
        Some(Frame::message(payload, opcode, done))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

    use crate::server::ws::outbox::{Kind, Out};

    fn parts(text: &str, max: usize) -> Vec<(OpCode, bool, String)> {
        fragments(Utf8Bytes::from(text), max)
            .map(|f| {
                let opcode = f.header().opcode;
                let fin = f.header().is_final;
                let text = String::from_utf8(f.into_payload().to_vec()).expect("whole characters");
                (opcode, fin, text)
            })
            .collect()
    }

    #[test]
    fn fragments_are_cut_between_characters() {
        // "é" is 2 bytes, "€" 3, "🎬" 4: every cut position meets a character's middle somewhere.
        let text = "aé€🎬".repeat(50);
        for max in 4..=12 {
            let parts = parts(&text, max);
            assert!(parts.len() > 1);
            assert_eq!(parts[0].0, OpCode::Data(Data::Text));
            assert!(
                parts[1..]
                    .iter()
                    .all(|p| p.0 == OpCode::Data(Data::Continue))
            );
            assert!(parts.iter().all(|p| p.2.len() <= max && !p.2.is_empty()));
            let fins: Vec<bool> = parts.iter().map(|p| p.1).collect();
            assert_eq!(fins.iter().filter(|f| **f).count(), 1);
            assert!(fins[fins.len() - 1], "only the last has FIN");
            let whole: String = parts.into_iter().map(|p| p.2).collect();
            assert_eq!(whole, text);
        }
    }

    #[test]
    fn a_text_that_fits_is_one_frame() {
        assert_eq!(
            parts("abc", 8),
            [(OpCode::Data(Data::Text), true, "abc".to_owned())]
        );
        assert_eq!(
            parts("", 8),
            [(OpCode::Data(Data::Text), true, String::new())]
        );
    }

    /// Through tungstenite on both ends (in memory): the reader gets one whole text message, and
    /// the writer's buffer is never asked to hold more than [`MAX_WRITE_BUFFER`] (a bigger frame
    /// would fail the write).
    #[tokio::test]
    async fn a_big_text_arrives_whole() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let config = WebSocketConfig::default()
            .write_buffer_size(WRITE_COALESCE)
            .max_write_buffer_size(MAX_WRITE_BUFFER);
        let server = WebSocketStream::from_raw_socket(a, Role::Server, Some(config)).await;
        let mut client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        let big = "snapshot ✓ ".repeat(100_000);
        let outbox = Arc::new(Outbox::new(8, 1 << 20));
        outbox
            .push(Out::text(Kind::Snapshot, Utf8Bytes::from(big.as_str())))
            .unwrap();
        outbox
            .push(Out::text(Kind::Event, Utf8Bytes::from("small")))
            .unwrap();
        let writer = tokio::spawn(write(
            server,
            Arc::clone(&outbox),
            Duration::from_secs(10),
            |_| {},
        ));
        let got = match client.next().await {
            Some(Ok(Message::Text(got))) => got,
            other => panic!("a text message expected, got {other:?}"),
        };
        assert_eq!(got.len(), big.len());
        assert!(got.as_str() == big);
        let Some(Ok(Message::Text(small))) = client.next().await else {
            panic!("the next message")
        };
        assert_eq!(small.as_str(), "small");
        outbox.close_with(Vec::new());
        assert_eq!(writer.await.unwrap(), WriteEnd::Done);
    }
}
