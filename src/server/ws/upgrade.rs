//! The WebSocket handshake (RFC 6455 over HTTP/1.1), done here instead of by axum's
//! `WebSocketUpgrade` so that a session owns tokio-tungstenite's stream itself.
//!
//! axum's `WebSocket` accepts only whole messages, and tungstenite writes a whole message into one
//! per-connection buffer that keeps its largest size for the connection's life: with a 1.9 MB
//! snapshot on connect, 1,000 clients held 1.85 GB. The raw stream takes `Message::Frame`, so the
//! writer ([`super::writer`]) sends big messages as fragments and no buffer grows past one.
//!
//! The checks and refusals are axum's (same statuses and bodies), so clients see no difference.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The server side of an upgraded `/ws` connection.
pub(crate) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A request that asks for a WebSocket, with what it takes to switch protocols.
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request is not a WebSocket handshake (answered before any of the handler's checks, as
/// axum's extractor did).
#[derive(Debug)]
pub(crate) struct NotWebSocket(StatusCode, &'static str);

impl IntoResponse for NotWebSocket {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotWebSocket;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        check(&parts.headers)?;
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or(NotWebSocket(
                StatusCode::BAD_REQUEST,
                "`Sec-WebSocket-Key` header missing",
            ))?;
        // Present only on a connection served with upgrades (ours always are).
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NotWebSocket(
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present",
        ))?;
        Ok(Upgrade { key, on_upgrade })
    }
}

/// The handshake's headers (the route already requires `GET`; the server speaks HTTP/1.1 only).
fn check(headers: &HeaderMap) -> Result<(), NotWebSocket> {
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(NotWebSocket(
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !is(headers, header::UPGRADE, "websocket") {
        return Err(NotWebSocket(
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include 'websocket'",
        ));
    }
    if !is(headers, header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(NotWebSocket(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    Ok(())
}

fn is(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether a comma-separated header (e.g. `Connection: keep-alive, Upgrade`) has `token`.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl Upgrade {
    /// Answers `101 Switching Protocols` and runs `session` on the socket once hyper hands it over.
    /// When the upgrade fails (the client went away first), `session` is dropped unrun, with
    /// whatever it holds (e.g. the client's slot).
    pub(crate) fn on_upgrade<F, Fut>(self, config: WebSocketConfig, session: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config));
                    session(socket.await).await;
                }
                Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
            }
        });
        let accept = derive_accept_key(self.key.as_bytes());
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        // Base64 text: always a valid header value.
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn handshake_headers() {
        let ok = [
            (header::CONNECTION, "keep-alive, Upgrade"),
            (header::UPGRADE, "WebSocket"),
            (header::SEC_WEBSOCKET_VERSION, "13"),
        ];
        assert!(check(&headers(&ok)).is_ok());
        let no_upgrade_token = [
            (header::CONNECTION, "keep-alive, upgraded"),
            (header::UPGRADE, "websocket"),
            (header::SEC_WEBSOCKET_VERSION, "13"),
        ];
        assert_eq!(
            check(&headers(&no_upgrade_token)).unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
        let old_version = [
            (header::CONNECTION, "upgrade"),
            (header::UPGRADE, "websocket"),
            (header::SEC_WEBSOCKET_VERSION, "8"),
        ];
        assert!(check(&headers(&old_version)).is_err());
    }

    #[test]
    fn accept_key_of_rfc_6455() {
        // RFC 6455 section 1.3's example.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
