//! The HTTP client of `onair health`: one `GET` over plain TCP with hyper's HTTP/1.1 client (the
//! daemon's own server stack), answers capped at [`MAX_RESPONSE`]. Plain `http://` only: the daemon
//! does not serve TLS (put a proxy in front and check the daemon directly).

use std::fmt;
use std::io;
use std::net::Ipv6Addr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
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

/// Sends `GET target` with `extra` headers and reads the whole answer (hyper's HTTP/1.1 client on
/// one TCP connection). Not bounded in time: wrap it in a timeout.
pub async fn get(target: &Target, extra: &[(&str, &str)]) -> Result<Response, GetError> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(GetError::Connect)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| GetError::Malformed(e.to_string()))?;
    // The connection is driven beside the request and ends with it (`Connection: close`).
    let driver = tokio::spawn(conn);
    let mut request = hyper::Request::get(target.path.as_str())
        .header(hyper::header::HOST, target.authority())
        .header(
            hyper::header::USER_AGENT,
            concat!("onair-health/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| GetError::Malformed(format!("bad request header: {e}")))?;
    let result = async {
        let response = sender.send_request(request).await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => classify(*e),
                Err(e) => GetError::Malformed(e.to_string()),
            })?
            .to_bytes()
            .to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    result
}

/// A broken connection is the daemon's failure (CRITICAL); an answer that is not HTTP means
/// something else listens there (UNKNOWN).
fn classify(e: hyper::Error) -> GetError {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        GetError::Malformed(e.to_string())
    } else {
        GetError::Io(io::Error::other(e.to_string()))
    }
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

    /// Serves `answer` verbatim to one connection (after reading the request) and closes.
    async fn canned(answer: &'static [u8]) -> Target {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer).await;
        });
        Target::parse(&format!("http://127.0.0.1:{port}/health")).unwrap()
    }

    #[tokio::test]
    async fn answers_by_length_chunks_or_close() {
        let full = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        assert_eq!(get(&full, &[]).await.unwrap().body, b"ok");
        let chunked = canned(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(get(&chunked, &[]).await.unwrap().body, b"ok!");
        let close = canned(b"HTTP/1.0 503 Service Unavailable\r\n\r\ndown").await;
        let r = get(&close, &[]).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"down"[..]));
    }

    #[tokio::test]
    async fn garbage_is_malformed_and_a_cut_answer_is_a_failure() {
        let ssh = canned(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        assert!(matches!(get(&ssh, &[]).await, Err(GetError::Malformed(_))));
        let cut = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok").await;
        assert!(get(&cut, &[]).await.is_err());
        let bad_header = canned(b"").await;
        assert!(matches!(
            get(&bad_header, &[("X-Bad", "a\r\nb")]).await,
            Err(GetError::Malformed(_))
        ));
    }
}
