//! Shared helpers for the integration tests that talk to a real simulator over real sockets.
//!
//! Use it from a test file with `mod common;` and then `use common::*;` (or named imports).
//!
//! - **Simulators**: [`sim_config`] builds a [`SimConfig`] for a dialect and channel formats on
//!   `127.0.0.1:0` with a stepped clock; [`start`] starts it. Time only moves when the test calls
//!   `sim.step(n)`, so frame-exact assertions are deterministic.
//! - **AMCP**: [`AmcpClient`] is a raw test client over `tokio::net::TcpStream`: it writes raw bytes
//!   or lines and reads decoded [`Frame`]s through the production [`AmcpCodec`]. Every read fails
//!   the test after [`TIMEOUT`] instead of hanging; [`AmcpClient::ping_barrier`] proves that nothing
//!   else was sent before it (the `PONG` must be the next frame).
//! - **OSC**: [`OscReceiver`] binds UDP on `127.0.0.1:0` and decodes datagrams with
//!   `rosc::decoder::decode_udp` into [`Datagram`]s (time tag, flattened messages, size).
//!
//! Every helper panics with a message saying what was awaited, so a failing test reads like a
//! protocol transcript rather than a timeout.

// Each test crate compiles this module separately and uses only part of it.
#![allow(dead_code)]

pub mod daemon;
pub mod nats;
pub mod pair;
pub mod proxy;
pub mod schedule;
pub mod schedule_run;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use onair::amcp::body::{ChannelState, parse_info_xml};
use onair::amcp::codec::{AmcpCodec, Body, DecodeError, Frame, Reply};
use onair::sim::media::{SimMedia, VideoFormat};
use onair::sim::{Dialect, Sim, SimConfig};
use rosc::{OscMessage, OscPacket, OscType};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::codec::FramedRead;

/// How long any single wait may take before the test fails. Generous: a healthy simulator answers
/// in microseconds, so hitting this means a reply that will never come.
pub const TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Simulators
// ---------------------------------------------------------------------------------------------

/// A video format by name; panics on an unknown name.
pub fn format(name: &str) -> VideoFormat {
    VideoFormat::parse(name).unwrap_or_else(|| panic!("unknown video format {name:?}"))
}

/// A simulator on `127.0.0.1:0` speaking `dialect`, one channel per entry of `formats`, the
/// 20-clip virtual library (CLIP1, CLIP2, SHORT, LOGO, …), no automatic OSC and a stepped clock.
pub fn sim_config(dialect: Dialect, formats: &[&str]) -> SimConfig {
    SimConfig {
        dialect,
        formats: formats.iter().map(|f| format(f)).collect(),
        ..SimConfig::for_tests()
    }
}

/// The recordings' library: `CLIP1`, `CLIP2` (10 s at 50 fps), `SHORT` (2 s at 50 fps), template
/// `TEST`, media scanner up.
pub fn recorded_library() -> SimMedia {
    SimMedia::virtual_library(3)
}

/// Starts a simulator, failing the test if the port cannot be bound. Use a stepped clock
/// ([`sim_config`] does) unless the test really needs time to pass by itself.
pub async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.expect("simulator starts")
}

/// A 2.4 simulator with one `640x360p2500` channel (25 frames per second, like the 2.4.3
/// recordings) and the recordings' library.
pub async fn start_v24() -> Sim {
    let mut config = sim_config(Dialect::V24, &["640x360p2500"]);
    config.media = recorded_library();
    start(config).await
}

// ---------------------------------------------------------------------------------------------
// AMCP client
// ---------------------------------------------------------------------------------------------

/// What the next read from the server produced.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    /// The server closed the connection (cleanly, between frames).
    Eof,
    /// The codec refused the bytes (garbage, truncated frame) or the socket failed.
    Error(DecodeError),
}

/// A raw AMCP test client: one TCP connection, writes exactly what it is given, decodes replies
/// with the production codec.
pub struct AmcpClient {
    reader: FramedRead<OwnedReadHalf, AmcpCodec>,
    writer: OwnedWriteHalf,
    local: SocketAddr,
}

impl AmcpClient {
    /// Connects or fails the test.
    pub async fn connect(addr: SocketAddr) -> Self {
        match tokio::time::timeout(TIMEOUT, Self::try_connect(addr)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!("cannot connect to the simulator at {addr}: {e}"),
            Err(_) => panic!("connecting to {addr} took more than {TIMEOUT:?}"),
        }
    }

    /// Connects, returning the error (e.g. `ConnectionRefused`) instead of failing.
    pub async fn try_connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let (rd, wr) = stream.into_split();
        Ok(AmcpClient {
            reader: FramedRead::new(rd, AmcpCodec::default()),
            writer: wr,
            local,
        })
    }

    /// This end's address (the IP the server sends automatic OSC to).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Writes `bytes` in one `write_all` (one TCP write, as the recordings did).
    pub async fn write_raw(&mut self, bytes: impl AsRef<[u8]>) {
        self.writer
            .write_all(bytes.as_ref())
            .await
            .expect("write to the simulator");
    }

    /// Writes one command line followed by CRLF.
    pub async fn send(&mut self, line: &str) {
        self.write_raw(format!("{line}\r\n")).await;
    }

    /// Writes several lines, each CRLF-terminated, in a single write (pipelining).
    pub async fn send_all<S: AsRef<str>>(&mut self, lines: &[S]) {
        let mut text = String::new();
        for l in lines {
            text.push_str(l.as_ref());
            text.push_str("\r\n");
        }
        self.write_raw(text).await;
    }

    /// The next event, or `None` if nothing arrives within `wait`.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<Event> {
        let next = tokio::time::timeout(wait, self.reader.next()).await.ok()?;
        Some(match next {
            None => Event::Eof,
            Some(Ok(frame)) => Event::Frame(frame),
            Some(Err(e)) => Event::Error(e),
        })
    }

    /// The next event; fails the test after [`TIMEOUT`].
    pub async fn next_event(&mut self) -> Event {
        self.next_event_within(TIMEOUT).await.unwrap_or_else(|| {
            panic!("no frame, EOF or error from the simulator within {TIMEOUT:?}")
        })
    }

    /// The next decoded frame; fails the test on timeout, EOF or a decode error.
    pub async fn next_frame(&mut self) -> Frame {
        match self.next_event().await {
            Event::Frame(f) => f,
            Event::Eof => panic!("the simulator closed the connection while a frame was expected"),
            Event::Error(e) => panic!("undecodable reply from the simulator: {e}"),
        }
    }

    /// The next `n` frames.
    pub async fn frames(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next_frame().await);
        }
        out
    }

    /// The next frame, which must be a status reply (not `PONG`).
    pub async fn next_reply(&mut self) -> Reply {
        match self.next_frame().await {
            Frame::Reply(r) => r,
            other => panic!("expected a reply, got {}", render(&other)),
        }
    }

    /// Sends `REQ <id> <line>` and returns the next frame, which must be `RES <id> …`.
    pub async fn request(&mut self, id: &str, line: &str) -> Reply {
        self.send(&format!("REQ {id} {line}")).await;
        let reply = self.next_reply().await;
        assert_eq!(
            reply.req_id.as_deref(),
            Some(id),
            "reply to `REQ {id} {line}` carries another id: {}",
            render_reply(&reply)
        );
        reply
    }

    /// Sends a plain line (no REQ) and returns the next frame, which must be a reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.send(line).await;
        self.next_reply().await
    }

    /// Reads as many frames as `wire` (server bytes, e.g. `"RES a 202 PLAY OK\r\n"`) decodes to
    /// and asserts they are exactly those, in order.
    pub async fn expect(&mut self, wire: &str) {
        let expected: Vec<String> = decode_all(wire.as_bytes()).iter().map(render).collect();
        let got: Vec<String> = self
            .frames(expected.len())
            .await
            .iter()
            .map(render)
            .collect();
        assert_eq!(got, expected, "unexpected reply frames");
    }

    /// Sends `line` and expects exactly the frames of `wire` in reply (see [`AmcpClient::expect`]).
    pub async fn exchange(&mut self, line: &str, wire: &str) {
        self.send(line).await;
        self.expect(wire).await;
    }

    /// Sends `PING <marker>` and asserts that the very next frame is `PONG <marker>`.
    ///
    /// PONG is written from the server's read path, after every earlier line of this connection
    /// was parsed, so this proves that no parser-level reply (400, 402, 504, …) for earlier lines
    /// is outstanding and that nothing else arrived in between. It does *not* flush the command
    /// queues: a queued reply may still come later.
    pub async fn ping_barrier(&mut self, marker: &str) {
        self.send(&format!("PING {marker}")).await;
        match self.next_frame().await {
            Frame::Pong(m) if m == marker => {}
            other => panic!(
                "expected `PONG {marker}` as the next frame, got {}",
                render(&other)
            ),
        }
    }

    /// `INFO <channel>` (via REQ) parsed into a [`ChannelState`].
    pub async fn info(&mut self, channel: u16) -> ChannelState {
        let reply = self.request("info", &format!("INFO {channel}")).await;
        assert_eq!(reply.code, 201, "INFO {channel}: {}", render_reply(&reply));
        let xml = reply.body_text().expect("INFO n has one data line");
        parse_info_xml(xml).unwrap_or_else(|e| panic!("INFO {channel} XML does not parse: {e}"))
    }

    /// Asserts that the server closes the connection without sending anything more.
    pub async fn expect_eof(&mut self) {
        match self.next_event().await {
            Event::Eof => {}
            Event::Frame(f) => panic!("expected EOF, got {}", render(&f)),
            Event::Error(e) => panic!("expected a clean EOF, got {e}"),
        }
    }

    /// Closes the write side (the server sees EOF) and drops the connection.
    pub async fn close(mut self) {
        let _ = self.writer.shutdown().await;
    }
}

/// A frame as it was on the wire (CRLF shown as `⏎`), for assertion messages and comparisons.
pub fn render(frame: &Frame) -> String {
    match frame {
        Frame::Pong(m) if m.is_empty() => "PONG⏎".into(),
        Frame::Pong(m) => format!("PONG {m}⏎"),
        Frame::Reply(r) => render_reply(r),
    }
}

/// A reply as it was on the wire (CRLF shown as `⏎`, bare LF as `\n`).
pub fn render_reply(r: &Reply) -> String {
    let mut out = String::new();
    if let Some(id) = &r.req_id {
        out.push_str(&format!("RES {id} "));
    }
    out.push_str(&format!("{:03}", r.code));
    if !r.status.is_empty() {
        out.push(' ');
        out.push_str(&r.status);
    }
    out.push('⏎');
    match &r.body {
        Body::None => {}
        Body::Line(l) => out.push_str(&format!("{}⏎", l.replace('\n', "\\n"))),
        Body::Lines(lines) => {
            for l in lines {
                out.push_str(&format!("{l}⏎"));
            }
            out.push('⏎');
        }
    }
    out
}

/// Decodes a complete byte string (e.g. a recorded `recv`) into frames; panics on garbage or on a
/// trailing partial frame.
pub fn decode_all(bytes: &[u8]) -> Vec<Frame> {
    use tokio_util::codec::Decoder;
    let mut codec = AmcpCodec::default();
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(frame) = codec
        .decode_eof(&mut buf)
        .unwrap_or_else(|e| panic!("cannot decode {:?}: {e}", String::from_utf8_lossy(bytes)))
    {
        out.push(frame);
    }
    out
}

/// A local port that was free a moment ago (bound to `127.0.0.1:0`, then released), for the
/// rare case where a port must be named up front (the CLI's `--listen`).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    l.local_addr().expect("probe port address").port()
}

// ---------------------------------------------------------------------------------------------
// OSC receiver
// ---------------------------------------------------------------------------------------------

/// One received OSC datagram.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Size on the wire.
    pub len: usize,
    /// The bundle's time tag as one 64-bit number (the server's is a counter).
    pub time_tag: u64,
    /// Every message of the bundle (nested bundles flattened), in order.
    pub messages: Vec<OscMessage>,
    pub from: SocketAddr,
}

impl Datagram {
    /// The message with this address, if present.
    pub fn get(&self, addr: &str) -> Option<&OscMessage> {
        self.messages.iter().find(|m| m.addr == addr)
    }

    /// The message with this address; fails the test if absent.
    pub fn expect(&self, addr: &str) -> &OscMessage {
        self.get(addr).unwrap_or_else(|| {
            let addrs: Vec<&str> = self.messages.iter().map(|m| m.addr.as_str()).collect();
            panic!("no OSC message {addr} in datagram with {addrs:#?}")
        })
    }
}

/// The OSC type tag string of a message's arguments (`ff`, `s`, `T`, `h`, …).
pub fn type_tags(msg: &OscMessage) -> String {
    msg.args
        .iter()
        .map(|a| match a {
            OscType::Int(_) => 'i',
            OscType::Float(_) => 'f',
            OscType::String(_) => 's',
            OscType::Blob(_) => 'b',
            OscType::Time(_) => 't',
            OscType::Long(_) => 'h',
            OscType::Double(_) => 'd',
            OscType::Char(_) => 'c',
            OscType::Color(_) => 'r',
            OscType::Midi(_) => 'm',
            OscType::Bool(true) => 'T',
            OscType::Bool(false) => 'F',
            OscType::Nil => 'N',
            OscType::Inf => 'I',
            OscType::Array(_) => '[',
        })
        .collect()
}

fn flatten(packet: OscPacket, out: &mut Vec<OscMessage>) -> Option<u64> {
    match packet {
        OscPacket::Message(m) => {
            out.push(m);
            None
        }
        OscPacket::Bundle(b) => {
            let tag = (u64::from(b.timetag.seconds) << 32) | u64::from(b.timetag.fractional);
            for p in b.content {
                flatten(p, out);
            }
            Some(tag)
        }
    }
}

/// A UDP socket on `127.0.0.1:0` that decodes what the simulator sends.
pub struct OscReceiver {
    socket: UdpSocket,
    port: u16,
}

impl OscReceiver {
    pub async fn bind() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind an OSC receiver");
        let port = socket.local_addr().expect("OSC receiver address").port();
        OscReceiver { socket, port }
    }

    /// The UDP port to give the simulator (`osc_port`, `OSC SUBSCRIBE <port>`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next datagram, or `None` if none arrives within `wait`. Fails the test on a datagram
    /// that is not a valid OSC bundle.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Datagram> {
        let mut buf = vec![0u8; 65_536];
        let (len, from) = tokio::time::timeout(wait, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .expect("UDP receive");
        let (rest, packet) = rosc::decoder::decode_udp(&buf[..len])
            .unwrap_or_else(|e| panic!("undecodable OSC datagram of {len} bytes: {e:?}"));
        assert!(rest.is_empty(), "trailing bytes after the OSC packet");
        let mut messages = Vec::new();
        let time_tag = flatten(packet, &mut messages)
            .unwrap_or_else(|| panic!("OSC datagram is a bare message, not a bundle"));
        Some(Datagram {
            len,
            time_tag,
            messages,
            from,
        })
    }

    /// The next datagram; fails the test after [`TIMEOUT`].
    pub async fn recv(&mut self) -> Datagram {
        self.recv_within(TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("no OSC datagram on port {} within {TIMEOUT:?}", self.port))
    }
}
