//! Admission checks done before the upgrade: the browser `Origin` allowlist, the token → role
//! mapping (compared in constant time), and the client-count limits.
//!
//! Tokens are never logged or echoed: a rejected request only learns that its token was wrong.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, header};

use crate::config::ServerConfig;
use crate::server::protocol::Role;

/// Whether a request's `Origin` may open `/ws`.
///
/// No `Origin` means a non-browser client (scripts, the console), which a cross-site page cannot
/// forge; browsers always send one, so the allowlist is what stops a random web page from driving
/// the playout with the operator's loopback access. The daemon's own page (`Origin` equal to
/// `http(s)://<Host>`) is always allowed.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.is_some_and(|host| {
        ["http://", "https://"].iter().any(|scheme| {
            origin
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                && origin
                    .get(scheme.len()..)
                    .is_some_and(|h| h.eq_ignore_ascii_case(host))
        })
    })
}

/// The token of a request: `Authorization: Bearer <t>` first, else the `token` query parameter
/// (browsers cannot set headers on a WebSocket).
pub(crate) fn token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    bearer.or(query)
}

/// The role a token grants, or `None` (reject with 401). With no tokens configured at all everyone
/// is an operator: the daemon then only listens on loopback (the configuration refuses otherwise).
pub(crate) fn role(config: &ServerConfig, token: Option<&str>) -> Option<Role> {
    if config.operator_tokens.is_empty() && config.viewer_tokens.is_empty() {
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
    tokens.iter().fold(false, |found, t| {
        found | constant_time_eq(t.as_bytes(), token)
    })
}

/// Equality whose running time depends only on the lengths, not on where the bytes differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Why a client was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_clients` reached (503).
    Total,
    /// `max_clients_per_ip` reached for this address (429).
    PerIp,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Client slots, taken before the upgrade and given back when the connection ends (or the upgrade
/// fails), so the limits also count connections that are still upgrading.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    counts: Mutex<Counts>,
}

/// A taken slot; dropping it frees it.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Counts change in one step under the lock, so a poisoned lock is still consistent.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for `ip` if both limits allow it.
    pub(crate) fn take(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<Slot, Refused> {
        let mut counts = self.lock();
        if counts.total >= max_total {
            return Err(Refused::Total);
        }
        let n = counts.per_ip.entry(ip).or_insert(0);
        if *n >= max_per_ip {
            return Err(Refused::PerIp);
        }
        *n += 1;
        counts.total += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
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

    #[test]
    fn origins() {
        let allowed = vec!["https://panel.example.com".to_owned()];
        assert!(origin_allowed(&headers(&[]), &allowed));
        assert!(origin_allowed(
            &headers(&[("origin", "https://PANEL.example.com/")]),
            &allowed
        ));
        assert!(origin_allowed(
            &headers(&[
                ("origin", "http://127.0.0.1:8250"),
                ("host", "127.0.0.1:8250")
            ]),
            &[]
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:8250")
            ]),
            &allowed
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("origin", "http://127.0.0.1:9999"),
                ("host", "127.0.0.1:8250")
            ]),
            &[]
        ));
        assert!(!origin_allowed(&headers(&[("origin", "null")]), &[]));
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
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"\0"));
    }

    #[test]
    fn slots_are_counted_and_freed() {
        let slots = Arc::new(Slots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = slots.take(a, 3, 2).unwrap();
        let _s2 = slots.take(a, 3, 2).unwrap();
        assert_eq!(slots.take(a, 3, 2).unwrap_err(), Refused::PerIp);
        let _s3 = slots.take(b, 3, 2).unwrap();
        assert_eq!(slots.take(b, 3, 2).unwrap_err(), Refused::Total);
        drop(s1);
        assert!(slots.take(a, 3, 2).is_ok());
    }
}
