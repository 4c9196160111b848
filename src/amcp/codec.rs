//! AMCP reply decoder and request encoder for `tokio_util::codec::Framed`: turns the server's byte
//! stream into [`Frame`]s and writes [`Outgoing`] command lines, never panicking on any input.
//!
//! Framing follows docs/amcp-notes.md §1.3 and the recordings in `tests/fixtures`: lines end
//! only at `\r\n` (a bare `\n` or `\r` is data), the status code alone decides how many data lines
//! follow, and any code is accepted whatever its text (`504 QUEUE OVERFLOW`, `402  ERROR`).

use std::io;

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Default upper bound for one frame (status line plus data, terminators included).
pub const DEFAULT_MAX_FRAME: usize = 4 * 1024 * 1024;

/// How much of an offending line a [`DecodeError::Malformed`] keeps: enough to diagnose, not a
/// copy of a multi-megabyte line in a log message.
const MALFORMED_EXCERPT: usize = 256;

/// One unit read from the server: a reply to a command or the answer to a `PING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A status line and its data.
    Reply(Reply),
    /// `PONG` with the text after `PONG ` (empty for a bare `PONG`).
    Pong(String),
}

impl Frame {
    /// The `RES` id of a reply; `None` for a reply without one and for `PONG`.
    pub fn req_id(&self) -> Option<&str> {
        match self {
            Frame::Reply(reply) => reply.req_id.as_deref(),
            Frame::Pong(_) => None,
        }
    }
}

/// A decoded reply: `[RES <id> ]<code> <status>` plus the data lines its code implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The id from a `RES <id> ` prefix.
    pub req_id: Option<String>,
    /// The three-digit status code.
    pub code: u16,
    /// Everything after the code and its one separating space, verbatim (`" ERROR"` for `402  ERROR`).
    pub status: String,
    /// The data lines, shaped by the code.
    pub body: Body,
}

impl Reply {
    /// True for 2xx codes.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The data lines as a slice: all lines of a 200, the single line of a 201/400, none otherwise.
    pub fn data_lines(&self) -> &[String] {
        match &self.body {
            Body::None => &[],
            Body::Line(line) => std::slice::from_ref(line),
            Body::Lines(lines) => lines,
        }
    }

    /// The single data line of a 201 (or the echo of a 400).
    pub fn body_text(&self) -> Option<&str> {
        match &self.body {
            Body::Line(line) => Some(line),
            _ => None,
        }
    }

    /// The first word of the status text (`PLAY` in `202 PLAY OK`), if any.
    pub fn command_word(&self) -> Option<&str> {
        self.status.split(' ').find(|word| !word.is_empty())
    }
}

/// Data that follows a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Codes without data (202, 4xx except 400, 5xx).
    None,
    /// The one line of a 201 or the echo line of a 400; may be empty or contain bare `\n`.
    Line(String),
    /// The lines of a 200, without the terminating empty line (possibly none).
    Lines(Vec<String>),
}

/// A line to send to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Written as `REQ <id> <line>\r\n`; the reply carries `RES <id> `.
    Request { id: String, line: String },
    /// Written as `<line>\r\n` (for `PING`, which must not carry `REQ`, and for servers without REQ).
    Plain(String),
}

impl Outgoing {
    /// A `REQ <id> <line>` request.
    pub fn request(id: impl Into<String>, line: impl Into<String>) -> Self {
        Outgoing::Request {
            id: id.into(),
            line: line.into(),
        }
    }

    /// A line sent without `REQ`.
    pub fn plain(line: impl Into<String>) -> Self {
        Outgoing::Plain(line.into())
    }

    /// Checks what the encoder checks, without writing.
    pub fn validate(&self) -> Result<(), WriteError> {
        match self {
            Outgoing::Request { id, line } => {
                validate_id(id)?;
                validate_line(line)
            }
            Outgoing::Plain(line) => validate_line(line),
        }
    }
}

/// Why the byte stream could not be decoded; the connection should be reset.
#[derive(thiserror::Error, Debug)]
pub enum DecodeError {
    /// A frame (or a single unterminated line) grew beyond the configured limit.
    #[error("AMCP frame exceeds {limit} bytes")]
    FrameTooLarge { limit: usize },
    /// A line is not valid UTF-8.
    #[error("AMCP reply is not valid UTF-8")]
    InvalidUtf8,
    /// A line where a status line was expected is neither a status line nor `PONG`.
    #[error("malformed AMCP status line: {line:?}")]
    Malformed { line: String },
    /// The stream ended inside a frame.
    #[error("AMCP stream ended inside a frame ({pending_bytes} bytes pending)")]
    Truncated { pending_bytes: usize },
    /// Transport error surfaced through `Framed`.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Why an [`Outgoing`] line was refused.
#[derive(thiserror::Error, Debug)]
pub enum WriteError {
    /// The line is empty, blank, or contains CR or LF (the server would split or misread it).
    #[error("invalid AMCP command line: {0:?}")]
    InvalidLine(String),
    /// A request id must be non-empty `[A-Za-z0-9_-]`, so the `RES` prefix stays unambiguous.
    #[error("invalid AMCP request id: {0:?}")]
    InvalidId(String),
    /// Transport error surfaced through `Framed`.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A status line that still waits for its data.
#[derive(Debug)]
struct Pending {
    req_id: Option<String>,
    code: u16,
    status: String,
}

#[derive(Debug, Default)]
enum State {
    /// The next line is a status line or `PONG`.
    #[default]
    Status,
    /// Inside a 200: collecting lines until an empty one.
    Lines(Pending, Vec<String>),
    /// After a 201 or 400 status line: exactly one more line.
    OneLine(Pending),
}

/// Decoder of server replies and encoder of command lines.
#[derive(Debug)]
pub struct AmcpCodec {
    max_frame_bytes: usize,
    state: State,
    /// Wire bytes of the current frame already consumed from the buffer.
    frame_bytes: usize,
    /// Prefix of the buffer already searched for `\r\n`, so bytes arriving one at a time are
    /// never rescanned (keeps long lines and 1-byte reads linear).
    scanned: usize,
}

impl Default for AmcpCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

enum Head {
    Pong(String),
    Status(Pending),
}

impl AmcpCodec {
    /// A codec that refuses frames larger than `max_frame_bytes` (wire bytes, terminators included).
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes,
            state: State::Status,
            frame_bytes: 0,
            scanned: 0,
        }
    }

    /// The configured frame limit.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Wire bytes of the frame in progress that the codec holds outside the read buffer.
    pub fn pending_frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    fn reset(&mut self) {
        self.state = State::Status;
        self.frame_bytes = 0;
        self.scanned = 0;
    }

    /// Takes the next complete line out of `buf` (without its `\r\n`), enforcing the frame limit.
    fn next_line(&mut self, buf: &mut BytesMut) -> Result<Option<String>, DecodeError> {
        let Some(end) = self.find_terminator(buf) else {
            if self.frame_bytes.saturating_add(buf.len()) > self.max_frame_bytes {
                return Err(DecodeError::FrameTooLarge {
                    limit: self.max_frame_bytes,
                });
            }
            return Ok(None);
        };
        let wire_len = end + 2;
        let total = self.frame_bytes.saturating_add(wire_len);
        if total > self.max_frame_bytes {
            return Err(DecodeError::FrameTooLarge {
                limit: self.max_frame_bytes,
            });
        }
        let line = buf.get(..end).ok_or(DecodeError::InvalidUtf8)?;
        let text = std::str::from_utf8(line)
            .map_err(|_| DecodeError::InvalidUtf8)?
            .to_owned();
        buf.advance(wire_len);
        self.frame_bytes = total;
        self.scanned = 0;
        Ok(Some(text))
    }

    /// Index of the first `\r\n` in `buf`, resuming where the previous call stopped.
    fn find_terminator(&mut self, buf: &[u8]) -> Option<usize> {
        let mut from = self.scanned.min(buf.len());
        while let Some(rel) = buf.get(from..).and_then(|rest| memchr::memchr(b'\n', rest)) {
            let lf = from + rel;
            if lf > 0 && buf.get(lf - 1) == Some(&b'\r') {
                return Some(lf - 1);
            }
            from = lf + 1;
        }
        // A trailing `\r` may still be completed by the next read, and is re-checked then
        // through the look-behind above, so the whole buffer counts as scanned.
        self.scanned = buf.len();
        None
    }

    fn finish(&mut self, pending: Pending, body: Body) -> Frame {
        self.frame_bytes = 0;
        Frame::Reply(Reply {
            req_id: pending.req_id,
            code: pending.code,
            status: pending.status,
            body,
        })
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            let Some(line) = self.next_line(buf)? else {
                return Ok(None);
            };
            match std::mem::take(&mut self.state) {
                State::Status => match parse_head(&line)? {
                    Head::Pong(args) => {
                        self.frame_bytes = 0;
                        return Ok(Some(Frame::Pong(args)));
                    }
                    Head::Status(pending) => match pending.code {
                        200 => self.state = State::Lines(pending, Vec::new()),
                        201 | 400 => self.state = State::OneLine(pending),
                        _ => return Ok(Some(self.finish(pending, Body::None))),
                    },
                },
                State::Lines(pending, mut lines) => {
                    if line.is_empty() {
                        return Ok(Some(self.finish(pending, Body::Lines(lines))));
                    }
                    lines.push(line);
                    self.state = State::Lines(pending, lines);
                }
                State::OneLine(pending) => {
                    return Ok(Some(self.finish(pending, Body::Line(line))));
                }
            }
        }
    }
}

/// Parses a line that must be a status line or `PONG`.
fn parse_head(line: &str) -> Result<Head, DecodeError> {
    if line == "PONG" {
        return Ok(Head::Pong(String::new()));
    }
    if let Some(args) = line.strip_prefix("PONG ") {
        return Ok(Head::Pong(args.to_owned()));
    }
    let malformed = || DecodeError::Malformed {
        line: excerpt(line),
    };
    let (req_id, rest) = match line.strip_prefix("RES ") {
        Some(after) => {
            let (id, rest) = after.split_once(' ').ok_or_else(malformed)?;
            if id.is_empty() {
                return Err(malformed());
            }
            (Some(id.to_owned()), rest)
        }
        None => (None, line),
    };
    let bytes = rest.as_bytes();
    let digits = bytes.get(..3).ok_or_else(malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    // The three digits are ASCII, so byte offset 3 is a char boundary.
    let status = match rest.get(3..) {
        Some("") | None => String::new(),
        Some(tail) => tail.strip_prefix(' ').ok_or_else(malformed)?.to_owned(),
    };
    Ok(Head::Status(Pending {
        req_id,
        code,
        status,
    }))
}

fn excerpt(line: &str) -> String {
    if line.len() <= MALFORMED_EXCERPT {
        return line.to_owned();
    }
    let mut end = MALFORMED_EXCERPT;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", line.get(..end).unwrap_or_default())
}

impl Decoder for AmcpCodec {
    type Item = Frame;
    type Error = DecodeError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let result = self.decode_inner(buf);
        if result.is_err() {
            // The link is reset after any error; start clean if the codec is reused.
            self.reset();
        }
        result
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() && matches!(self.state, State::Status) => Ok(None),
            None => {
                let pending_bytes = self.frame_bytes + buf.len();
                self.reset();
                Err(DecodeError::Truncated { pending_bytes })
            }
        }
    }
}

fn validate_line(line: &str) -> Result<(), WriteError> {
    if line.trim().is_empty() || line.contains(['\r', '\n']) {
        return Err(WriteError::InvalidLine(line.to_owned()));
    }
    Ok(())
}

fn validate_id(id: &str) -> Result<(), WriteError> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WriteError::InvalidId(id.to_owned()))
    }
}

impl Encoder<&Outgoing> for AmcpCodec {
    type Error = WriteError;

    fn encode(&mut self, item: &Outgoing, dst: &mut BytesMut) -> Result<(), WriteError> {
        item.validate()?;
        match item {
            Outgoing::Request { id, line } => {
                dst.reserve(4 + id.len() + 1 + line.len() + 2);
                dst.put_slice(b"REQ ");
                dst.put_slice(id.as_bytes());
                dst.put_u8(b' ');
                dst.put_slice(line.as_bytes());
            }
            Outgoing::Plain(line) => {
                dst.reserve(line.len() + 2);
                dst.put_slice(line.as_bytes());
            }
        }
        dst.put_slice(b"\r\n");
        Ok(())
    }
}

impl Encoder<Outgoing> for AmcpCodec {
    type Error = WriteError;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> Result<(), WriteError> {
        <Self as Encoder<&Outgoing>>::encode(self, &item, dst)
    }
}

#[cfg(test)]
mod tests;
