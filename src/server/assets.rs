//! The web control page: `/` and its modules and style under `/assets/`, embedded in the binary so a
//! single file deploys (no build step, no CDN; see `docs/web-client.md`).
//!
//! Every answer carries `Cache-Control: no-cache` with an `ETag`, so a browser revalidates after a
//! daemon upgrade instead of mixing old and new modules, and gets a cheap 304 otherwise. The page
//! also gets a Content-Security-Policy that only allows the daemon's own scripts, styles and
//! WebSocket, and forbids framing (a playout control page must not be clickjacked).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// One embedded file.
struct Asset {
    /// The route, e.g. `/assets/app.js`.
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page at `/`.
const INDEX: Asset = Asset {
    path: "/",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../assets/index.html"),
};

/// Everything the page loads. A file added to `assets/` must be listed here; the tests check that
/// every file the page or a module refers to is served.
const FILES: &[Asset] = &[
    Asset {
        path: "/assets/app.js",
        content_type: JS,
        body: include_str!("../../assets/app.js"),
    },
    Asset {
        path: "/assets/client.js",
        content_type: JS,
        body: include_str!("../../assets/client.js"),
    },
    Asset {
        path: "/assets/dom.js",
        content_type: JS,
        body: include_str!("../../assets/dom.js"),
    },
    Asset {
        path: "/assets/graphics.js",
        content_type: JS,
        body: include_str!("../../assets/graphics.js"),
    },
    Asset {
        path: "/assets/graphics-dialogs.js",
        content_type: JS,
        body: include_str!("../../assets/graphics-dialogs.js"),
    },
    Asset {
        path: "/assets/graphics-view.js",
        content_type: JS,
        body: include_str!("../../assets/graphics-view.js"),
    },
    Asset {
        path: "/assets/servers.js",
        content_type: JS,
        body: include_str!("../../assets/servers.js"),
    },
    Asset {
        path: "/assets/state.js",
        content_type: JS,
        body: include_str!("../../assets/state.js"),
    },
    Asset {
        path: "/assets/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/style.css"),
    },
];

/// `/` and `/assets/*`.
pub fn routes() -> Router<Arc<AppState>> {
    router()
}

/// The routes for any router state (they read none), so tests need no daemon.
fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router =
        Router::new().route(
            INDEX.path,
            get(|headers: HeaderMap| async move {
                serve(&INDEX, &headers, Some(page_policy(&headers)))
            }),
        );
    for asset in FILES {
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve(asset, &headers, None) }),
        );
    }
    router
}

/// A strong validator of the embedded bytes: it changes whenever a file does (across builds too).
fn etag(asset: &Asset) -> String {
    let mut hasher = DefaultHasher::new();
    asset.body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

fn serve(asset: &Asset, headers: &HeaderMap, csp: Option<HeaderValue>) -> Response {
    let tag = etag(asset);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    if let Some(csp) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// The page's Content-Security-Policy: only its own files, and WebSocket connections to the host it
/// was loaded from. `'self'` covers `ws:`/`wss:` in current browsers; the explicit `ws://<Host>`
/// is for older ones. A `Host` with characters outside a host:port is left out rather than echoed.
fn page_policy(headers: &HeaderMap) -> HeaderValue {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    let connect = match host {
        Some(host) => format!("'self' ws://{host} wss://{host}"),
        None => "'self'".to_owned(),
    };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_path(path: &str, extra: &[(&'static str, &str)]) -> Response {
        let mut req = Request::get(path).header("host", "127.0.0.1:8250");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        router::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn every_file_is_served_with_its_type_and_no_cache() {
        for asset in std::iter::once(&INDEX).chain(FILES) {
            let r = get_path(asset.path, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(header_of(&r, header::CONTENT_TYPE), asset.content_type);
            assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
            assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert!(header_of(&r, header::ETAG).starts_with('"'));
            let body = to_bytes(r.into_body(), 1 << 20).await.unwrap();
            assert_eq!(body, asset.body.as_bytes(), "{}", asset.path);
        }
    }

    #[tokio::test]
    async fn the_page_has_a_strict_policy_allowing_its_own_websocket() {
        let r = get_path("/", &[]).await;
        let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' ws://127.0.0.1:8250 wss://127.0.0.1:8250"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY");

        // A Host that could smuggle a directive is not echoed.
        let headers =
            HeaderMap::from_iter([(header::HOST, HeaderValue::from_static("a; script-src *"))]);
        let csp = page_policy(&headers);
        assert!(!csp.to_str().unwrap().contains("script-src *"));
    }

    #[tokio::test]
    async fn a_matching_etag_gets_304() {
        let tag = etag(&FILES[0]);
        let r = get_path(FILES[0].path, &[("if-none-match", &tag)]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header_of(&r, header::ETAG), tag);
        let r = get_path(FILES[0].path, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_assets_are_404() {
        let r = get_path("/assets/nope.js", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    /// Every `assets/…` the page refers to and every `./x.js` a module imports is embedded, so a new
    /// module cannot be forgotten in [`FILES`] (the page would break only in a browser).
    #[test]
    fn every_referenced_file_is_embedded() {
        let served: Vec<&str> = FILES.iter().map(|a| a.path).collect();
        let mut referenced = Vec::new();
        for quote in ['"', '\''] {
            for part in INDEX.body.split(quote).skip(1).step_by(2) {
                if let Some(rest) = part.strip_prefix("assets/") {
                    referenced.push(format!("/assets/{rest}"));
                }
            }
        }
        for asset in FILES.iter().filter(|a| a.content_type == JS) {
            for line in asset.body.lines() {
                let line = line.trim();
                if !(line.starts_with("import ") || line.starts_with("} from ")) {
                    continue;
                }
                if let Some(spec) = line.split('\'').nth(1)
                    && let Some(name) = spec.strip_prefix("./")
                {
                    referenced.push(format!("/assets/{name}"));
                }
            }
        }
        assert!(referenced.iter().any(|r| r == "/assets/app.js"));
        assert!(referenced.iter().any(|r| r == "/assets/state.js"));
        for r in &referenced {
            assert!(
                served.contains(&r.as_str()),
                "{r} is referenced but not embedded"
            );
        }
    }
}
