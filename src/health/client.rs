//! A minimal HTTP/1.1 client for `onair health`: one `GET` over plain TCP, with bounded reads.
//!
//! Why not hyper-util: the check needs one request to a daemon that is normally on loopback, and
//! a hand-written GET keeps the dependency list (and `Cargo.toml`) unchanged, starts instantly and
//! is small enough to read in full. It sends `Connection: close`, understands `Content-Length`,
//! chunked bodies and read-to-close, and refuses answers over [`MAX_RESPONSE`]. Plain `http://`
//! only: the daemon does not serve TLS (put a proxy in front and check the daemon directly).

use std::fmt;
use std::io;
use std::net::Ipv6Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer accepted (head and body), in bytes; a health document is a few kilobytes.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// Where to send a request: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address; IPv6 without brackets.
    pub host: String,
    pub port: u16,
    /// Absolute path, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `http://host[:port][/path]` (the scheme may be left out). No user info, query or
    /// fragment; nothing that could break the request line or the `Host` header.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err("https is not supported: the daemon serves plain http".into());
            }
            Some((scheme, _)) => return Err(format!("unsupported scheme {scheme:?}")),
            None => url,
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if path.contains(['?', '#']) {
            return Err("a query or fragment is not supported".into());
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) || !path.is_ascii() {
            return Err("the path has spaces or control characters".into());
        }
        if authority.contains('@') {
            return Err("user information in the URL is not supported".into());
        }
        let (host, port) = split_host_port(authority)?;
        Ok(Target {
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// The same server with `path` appended to this target's path (`/base` + `/health`).
    pub fn join(&self, path: &str) -> Target {
        let base = self.path.trim_end_matches('/');
        Target {
            path: format!("{base}/{}", path.trim_start_matches('/')),
            ..self.clone()
        }
    }

    /// `host` or `host:port` as the `Host` header wants it.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, rest) = v6.split_once(']').ok_or("unclosed '[' in the address")?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = match rest {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':' after ']'")?),
        };
        (addr, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':');
    if host.is_empty() || !host.chars().all(host_ok) {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port number"))?,
    };
    Ok((host.to_owned(), port))
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request failed.
#[derive(Debug)]
pub enum GetError {
    /// No TCP connection (refused, unreachable, name not resolved).
    Connect(io::Error),
    /// The connection failed while talking.
    Io(io::Error),
    /// The answer is not HTTP, or too large.
    Malformed(String),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Connect(e) => write!(f, "cannot connect: {e}"),
            GetError::Io(e) => write!(f, "connection failed: {e}"),
            GetError::Malformed(e) => write!(f, "not an HTTP answer: {e}"),
        }
    }
}

impl std::error::Error for GetError {}

/// Sends `GET target` with `extra` headers and reads the whole answer. Not bounded in time: wrap it
/// in a timeout.
pub async fn get(target: &Target, extra: &[(&str, &str)]) -> Result<Response, GetError> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(GetError::Connect)?;
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: onair-health/{}\r\nConnection: close\r\n",
        target.path,
        target.authority(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in extra {
        // Header injection guard: the values come from the caller, never from the network.
        if (name.as_bytes().iter().chain(value.as_bytes())).any(|b| *b == b'\r' || *b == b'\n') {
            return Err(GetError::Malformed("header with a line break".into()));
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(GetError::Io)?;

    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(response) = parse(&buf, false)? {
            return Ok(response);
        }
        let n = stream.read(&mut chunk).await.map_err(GetError::Io)?;
        if n == 0 {
            return parse(&buf, true)?
                .ok_or_else(|| GetError::Malformed("connection closed mid-answer".into()));
        }
        if buf.len() + n > MAX_RESPONSE {
            return Err(GetError::Malformed(format!(
                "answer larger than {MAX_RESPONSE} bytes"
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A complete response from `buf`, `None` while more bytes are needed; `closed` when the peer has
/// closed (then a body without length ends here).
fn parse(buf: &[u8], closed: bool) -> Result<Option<Response>, GetError> {
    let bad = |m: &str| GetError::Malformed(m.to_owned());
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        // Fail fast on garbage instead of waiting for a blank line that never comes.
        let n = buf.len().min(5);
        if buf[..n] != b"HTTP/"[..n] || buf.len() > 64 * 1024 || (closed && !buf.is_empty()) {
            return Err(bad("no HTTP status line"));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    let status = match code {
        Some(code) if version.starts_with("HTTP/1.") && (100..1000).contains(&code) => code,
        _ => return Err(bad("bad status line")),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &buf[head_end + 4..];
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return Ok(dechunk(rest)?.map(|body| Response { body, ..response }));
    }
    if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if rest.len() < len {
            return if closed {
                Err(bad("body shorter than Content-Length"))
            } else {
                Ok(None)
            };
        }
        response.body = rest[..len].to_vec();
        return Ok(Some(response));
    }
    if closed || matches!(status, 204 | 304) {
        response.body = rest.to_vec();
        return Ok(Some(response));
    }
    Ok(None)
}

/// The decoded body once the last chunk has arrived.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, GetError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| GetError::Malformed("bad chunk size".into()))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| GetError::Malformed("bad chunk size".into()))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            return Ok(find(data, b"\r\n").map(|_| body));
        }
        if size > MAX_RESPONSE || data.len() < size + 2 {
            return if size > MAX_RESPONSE {
                Err(GetError::Malformed("chunk too large".into()))
            } else {
                Ok(None)
            };
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_join() {
        let t = Target::parse("http://127.0.0.1:8250").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8250, "/")
        );
        assert_eq!(
            t.join("/health").to_string(),
            "http://127.0.0.1:8250/health"
        );
        let t = Target::parse("HTTP://[::1]:9/base/").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.join("health").to_string(), "http://[::1]:9/base/health");
        assert_eq!(Target::parse("localhost").unwrap().port, 80);
        for bad in [
            "https://x",
            "ftp://x",
            "http://x:0",
            "http://x:99999",
            "http://u@x",
            "http://x/a b",
            "http://x/?q",
            "http://[::1",
            "http://x y",
            "http://",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_parse_by_length_chunks_or_close() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(parse(full, false).unwrap().unwrap().body, b"ok");
        assert!(parse(&full[..full.len() - 1], false).unwrap().is_none());
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false).unwrap().unwrap().body, b"ok!");
        assert!(
            parse(&chunked[..chunked.len() - 2], false)
                .unwrap()
                .is_none()
        );
        let close = b"HTTP/1.0 503 Service Unavailable\r\n\r\ndown";
        assert!(parse(close, false).unwrap().is_none());
        let r = parse(close, true).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"down"[..]));
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(parse(b"SSH-2.0-OpenSSH\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
        assert!(parse(b"HT", true).is_err());
        assert!(parse(b"HT", false).unwrap().is_none());
    }
}
