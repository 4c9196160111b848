//! Who may talk to the daemon, decided from a request's headers: the `Host` allowlist (against DNS
//! rebinding), the browser `Origin` allowlist, and bearer tokens (compared in constant time).
//!
//! Tokens are never logged or echoed: a rejected request only learns that its token was wrong.
//! docs/operations.md ("Exposing onair beyond localhost") explains the attacks these checks stop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{AppState, WsStats};
use crate::config::ServerConfig;
use crate::protocol::Role;

/// The local address a request arrived on, put in its extensions by [`super::listen`]: the
/// daemon's own address as the client reached it, which is what `Host` must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr(pub SocketAddr);

/// Which port a loopback name or address must carry to count as this daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Any port: for `Host`, where a loopback name cannot come from a rebinding page whatever its
    /// port, and SSH tunnels or local proxies change the port (`ssh -L 9000:localhost:8250`).
    Any,
    /// The port the connection arrived on: for `Origin`, where another local service's page
    /// (`http://localhost:3000`) must not pass for the daemon's own page.
    Own,
}

/// Whether `host` (a `Host` header value, or the authority of an `Origin`) names this daemon:
/// `localhost`, a loopback address or the local address the connection arrived on (with the port
/// `port` asks for), or an entry of `server.allowed_hosts` (`name` for any port, `name:port` for
/// one).
///
/// A DNS-rebinding page reaches 127.0.0.1 under the attacker's own name, and the browser then sends
/// that name in `Host`; refusing names we do not own is what closes the hole. An IP literal or
/// `localhost` cannot be rebound, so only other names need listing.
pub fn host_allowed(host: &str, local: SocketAddr, port: Port, allowed_hosts: &[String]) -> bool {
    if host.contains('@') {
        return false;
    }
    let Ok(authority) = host.parse::<Authority>() else {
        return false;
    };
    let name = authority.host().trim_end_matches('.').to_ascii_lowercase();
    let given_port = authority.port_u16().unwrap_or(80);
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let port_ok = port == Port::Any || given_port == local.port();
    if port_ok {
        if name == "localhost" {
            return true;
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let ip = ip.to_canonical();
            if ip.is_loopback() || ip == local.ip().to_canonical() {
                return true;
            }
        }
    }
    allowed_hosts
        .iter()
        .any(|entry| match entry.parse::<Authority>() {
            Ok(a) => {
                a.host().trim_end_matches('.').eq_ignore_ascii_case(&name)
                    && a.port_u16().is_none_or(|p| p == given_port)
            }
            Err(_) => false,
        })
}

/// Refuses, before any routing or upgrade, a request whose `Host` is not one of the daemon's names
/// (421 Misdirected Request). A request without `Host` (HTTP/1.0 scripts) is let through: browsers
/// always send one, so its absence cannot come from a rebinding page.
pub async fn require_own_host(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let local = request
        .extensions()
        .get::<LocalAddr>()
        .map_or(state.config.listen, |l| l.0);
    let verdict = match request.headers().get(header::HOST) {
        None => true,
        Some(v) => v
            .to_str()
            .is_ok_and(|h| host_allowed(h, local, Port::Any, &state.config.allowed_hosts)),
    };
    if verdict {
        return next.run(request).await;
    }
    WsStats::inc(&state.http.misdirected);
    tracing::debug!(path = %request.uri().path(), "request refused: Host is not one of this daemon's names");
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        "421 misdirected request: this Host is not one of this daemon's names (see server.allowed_hosts)\n",
    )
        .into_response()
}

/// Whether a request's `Origin` may open `/ws`.
///
/// No `Origin` means a non-browser client (scripts, the console), which a cross-site page cannot
/// forge; browsers always send one, so the allowlist is what stops a random web page from driving
/// the playout with the operator's loopback access. The daemon's own page is allowed: an `http(s)`
/// origin whose authority passes [`host_allowed`] with [`Port::Own`] (checked on its own, never by comparing with
/// `Host`, which the client chooses).
pub fn origin_allowed(
    headers: &HeaderMap,
    allowed_origins: &[String],
    local: SocketAddr,
    allowed_hosts: &[String],
) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed_origins
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let lower = origin.to_ascii_lowercase();
    let authority = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    authority.is_some_and(|a| !a.contains('/') && host_allowed(a, local, Port::Own, allowed_hosts))
}

/// The token of a request: `Authorization: Bearer <t>` first, else `query` (the `token` query
/// parameter, for browsers, which cannot set headers on a WebSocket).
pub fn token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    bearer(headers).or(query)
}

/// The credential of `Authorization: Bearer <t>` (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Whether any operator or viewer token is configured: then content needs a token.
pub fn tokens_configured(config: &ServerConfig) -> bool {
    !config.operator_tokens.is_empty() || !config.viewer_tokens.is_empty()
}

/// The role a token grants, or `None` (reject with 401). With no tokens configured at all everyone
/// is an operator: the daemon then only listens on loopback (the configuration refuses otherwise).
pub fn role(config: &ServerConfig, token: Option<&str>) -> Option<Role> {
    if !tokens_configured(config) {
        return Some(Role::Operator);
    }
    let token = token?.as_bytes();
    if any_matches(&config.operator_tokens, token) {
        Some(Role::Operator)
    } else if any_matches(&config.viewer_tokens, token) {
        Some(Role::Viewer)
    } else {
        None
    }
}

/// Compares against every configured token without stopping at the first match, so the time taken
/// does not tell which (or how many) tokens exist.
fn any_matches(tokens: &[String], token: &[u8]) -> bool {
    tokens
        .iter()
        .fold(false, |found, t| found | token_eq(t.as_bytes(), token))
}

/// Equality whose running time does not depend on where the bytes differ (`subtle`), so a caller
/// cannot find a token byte by byte. Only the length may leak, as with any such compare.
pub fn token_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8250);

    #[test]
    fn own_names_only() {
        let none: &[String] = &[];
        let any = |h: &str| host_allowed(h, LOCAL, Port::Any, none);
        let own = |h: &str| host_allowed(h, LOCAL, Port::Own, none);
        for ok in [
            "127.0.0.1:8250",
            "localhost:8250",
            "LOCALHOST:8250",
            "localhost.:8250",
            "[::1]:8250",
            "127.0.0.2:8250",
        ] {
            assert!(any(ok) && own(ok), "{ok}");
        }
        for tunnel in ["localhost:9000", "127.0.0.1", "[::1]:1"] {
            assert!(any(tunnel) && !own(tunnel), "{tunnel}");
        }
        for bad in [
            "attacker.example:8250",
            "attacker.example",
            "localhost.attacker.example:8250",
            "10.0.0.5:8250",
            "user@localhost:8250",
            "",
            "local host:8250",
        ] {
            assert!(!any(bad) && !own(bad), "{bad}");
        }
        let wide = SocketAddr::from(([10, 0, 0, 5], 8250));
        assert!(host_allowed("10.0.0.5:8250", wide, Port::Own, none));
        let extra = vec!["onair.studio.lan".to_owned(), "panel.lan:443".to_owned()];
        let listed = |h: &str| host_allowed(h, LOCAL, Port::Own, &extra);
        assert!(listed("onair.studio.lan:8250"));
        assert!(listed("ONAIR.studio.lan"));
        assert!(listed("panel.lan:443"));
        assert!(!listed("panel.lan:8250"));
        let port80 = SocketAddr::from(([127, 0, 0, 1], 80));
        assert!(
            host_allowed("localhost", port80, Port::Own, none),
            "no port means 80"
        );
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://panel.example.com".to_owned()];
        let check = |pairs: &[(&'static str, &str)], allowed: &[String]| {
            origin_allowed(&headers(pairs), allowed, LOCAL, &[])
        };
        assert!(check(&[], &allowed));
        assert!(check(&[("origin", "https://PANEL.example.com/")], &allowed));
        assert!(check(&[("origin", "http://127.0.0.1:8250")], &[]));
        assert!(check(&[("origin", "http://localhost:8250")], &[]));
        assert!(!check(&[("origin", "http://evil.example")], &allowed));
        assert!(!check(&[("origin", "http://127.0.0.1:9999")], &[]));
        assert!(!check(&[("origin", "null")], &[]));
        // Trust never comes from Host: a rebinding page sends matching Host and Origin.
        assert!(!check(
            &[
                ("origin", "http://attacker.example:8250"),
                ("host", "attacker.example:8250")
            ],
            &[]
        ));
        assert!(!check(&[("origin", "http://127.0.0.1:8250/x")], &[]));
    }

    #[test]
    fn tokens_and_roles() {
        let mut config = ServerConfig::default();
        assert_eq!(role(&config, None), Some(Role::Operator), "no tokens: open");
        config.operator_tokens = vec!["op-secret".into()];
        config.viewer_tokens = vec!["view-secret".into()];
        assert_eq!(role(&config, Some("op-secret")), Some(Role::Operator));
        assert_eq!(role(&config, Some("view-secret")), Some(Role::Viewer));
        assert_eq!(role(&config, Some("op-secre")), None);
        assert_eq!(role(&config, Some("")), None);
        assert_eq!(role(&config, None), None);

        let h = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(token(&h, Some("q")), Some("abc"));
        assert_eq!(token(&headers(&[]), Some("q")), Some("q"));
        let basic = headers(&[("authorization", "Basic abc")]);
        assert_eq!(token(&basic, None), None);
    }

    #[test]
    fn constant_time_compare() {
        assert!(token_eq(b"abc", b"abc"));
        assert!(token_eq(b"", b""));
        assert!(!token_eq(b"abc", b"abd"));
        assert!(!token_eq(b"abc", b"abc\0"));
        assert!(!token_eq(b"", b"\0"));
    }
}
