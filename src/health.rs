//! `onair health`: asks a daemon for `GET /health` and turns the answer into a Nagios-style line and
//! exit code, for cron, systemd, Kubernetes exec probes and monitoring agents.
//!
//! | exit | label    | when |
//! |------|----------|------|
//! | 0    | OK       | `status` is `ok` |
//! | 1    | WARNING  | `status` is `degraded` and at least one CasparCG server is connected |
//! | 2    | CRITICAL | `status` is `down`; no CasparCG server connected (off air: `status` is `degraded`, but nothing can play out); nothing listens; connection failed; no answer within the timeout; an HTTP 502/503/504 without a health document (a proxy in front of a dead daemon) |
//! | 3    | UNKNOWN  | invalid URL; the answer is not HTTP, not JSON, or not the health document |
//!
//! With a main/backup pair the line is followed by one line per server (Nagios' long output).
//!
//! - [`client`]: the minimal HTTP/1.1 GET used here (and by tests).
//! - [`servers`]: what the document says about each CasparCG server.
//! - [`cluster`]: the node's role in cluster mode.

pub mod client;
mod cluster;
mod servers;

use std::time::Duration;

use serde_json::Value;

use client::{GetError, Target};

/// The check's outcome, ordered like the exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Verdict {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
            Verdict::Unknown => "UNKNOWN",
        }
    }
}

/// What the daemon said, or why it said nothing useful.
enum Outcome {
    Document(Verdict, Value),
    Failed(Verdict, String),
}

/// Runs the check against `url` (the daemon's base URL; `/health` is appended) within `timeout`.
/// Returns the exit code and what to print on stdout: one line, or with `json` the health document
/// (or `{"check": …, "error": …}` when there is none). `token` (an operator or viewer token) is
/// sent as a bearer token: with tokens configured, the daemon shows only the status and
/// content-free reasons without one.
pub async fn check(url: &str, timeout: Duration, json: bool, token: Option<&str>) -> (u8, String) {
    let outcome = evaluate(url, timeout, token).await;
    let (verdict, text) = match (&outcome, json) {
        (Outcome::Document(v, doc), true) => (
            *v,
            serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string()),
        ),
        (Outcome::Failed(v, message), true) => (
            *v,
            serde_json::json!({ "check": v.label(), "error": message }).to_string(),
        ),
        (Outcome::Document(v, doc), false) => (*v, line(*v, &summary(doc))),
        (Outcome::Failed(v, message), false) => (*v, line(*v, &clean(message))),
    };
    (verdict.code(), text)
}

fn line(v: Verdict, text: &str) -> String {
    format!("ONAIR {} - {text}", v.label())
}

async fn evaluate(url: &str, timeout: Duration, token: Option<&str>) -> Outcome {
    let target = match Target::parse(url) {
        Ok(t) if t.path.trim_end_matches('/').ends_with("/health") => Target {
            path: t.path.trim_end_matches('/').to_owned(),
            ..t
        },
        Ok(t) => t.join("/health"),
        Err(e) => return Outcome::Failed(Verdict::Unknown, format!("invalid URL {url:?}: {e}")),
    };
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Accept", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    let response = match tokio::time::timeout(timeout, client::get(&target, &headers)).await {
        Err(_) => {
            let m = format!("no answer from {target} within {timeout:?}");
            return Outcome::Failed(Verdict::Critical, m);
        }
        Ok(Err(e @ (GetError::Connect(_) | GetError::Io(_)))) => {
            return Outcome::Failed(Verdict::Critical, format!("{target}: {e}"));
        }
        Ok(Err(e @ GetError::Malformed(_))) => {
            return Outcome::Failed(Verdict::Unknown, format!("{target}: {e}"));
        }
        Ok(Ok(r)) => r,
    };
    let doc = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .filter(is_health_document);
    match doc {
        Some(doc) => Outcome::Document(verdict(&doc), doc),
        None => {
            let kind = response.header("content-type").unwrap_or("no content type");
            let what = format!(
                "{target}: HTTP {} ({kind}) is not the onair health document",
                response.status
            );
            // A gateway error means whatever is behind the proxy is not answering: the daemon is down.
            let verdict = if matches!(response.status, 502..=504) {
                Verdict::Critical
            } else {
                Verdict::Unknown
            };
            Outcome::Failed(verdict, what)
        }
    }
}

/// The verdict on a health document: its status, except that no CasparCG server connected is
/// CRITICAL. The daemon calls a lost CasparCG `degraded` (it works and keeps trying, and a restart
/// would not help), but for whoever watches the station it is off air.
fn verdict(doc: &Value) -> Verdict {
    let by_status = match doc.get("status").and_then(Value::as_str) {
        Some("ok") => Verdict::Ok,
        Some("degraded") => Verdict::Warning,
        _ => Verdict::Critical,
    };
    if servers::off_air(doc) {
        by_status.max(Verdict::Critical)
    } else {
        by_status
    }
}

/// The shape `check` relies on: a `status` it knows and a `version`.
fn is_health_document(doc: &Value) -> bool {
    let status = doc.get("status").and_then(Value::as_str);
    matches!(status, Some("ok" | "degraded" | "down"))
        && (doc.get("version").is_some_and(Value::is_string) || is_restricted(doc))
}

/// The document a daemon with tokens shows a caller without one: status and reasons only.
fn is_restricted(doc: &Value) -> bool {
    doc.get("restricted").and_then(Value::as_bool) == Some(true)
        && doc.get("reasons").is_some_and(Value::is_array)
}

fn restricted_summary(doc: &Value) -> String {
    let status = doc.get("status").and_then(Value::as_str).unwrap_or("down");
    let reasons = reasons(doc);
    let hint = "details need --token (or ONAIR_TOKEN)";
    if reasons.is_empty() {
        format!("{status} ({hint})")
    } else {
        format!("{status}: {} ({hint})", reasons.join("; "))
    }
}

/// The document's reasons, each cleaned to one line.
fn reasons(doc: &Value) -> Vec<String> {
    doc.get("reasons")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(clean).collect())
        .unwrap_or_default()
}

/// Text from the daemon on one line: no control characters, no `|` (Nagios' performance-data
/// separator), bounded length.
fn clean(text: &str) -> String {
    const MAX: usize = 400;
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `CasparCG 2.4.3 connected, 1 playlist playing, 0 alarms`, preceded by the reasons when not ok, and
/// followed by Nagios performance data; with a pair, `2 of 2 CasparCG servers connected` and then
/// one line per server.
fn summary(doc: &Value) -> String {
    if is_restricted(doc) {
        return restricted_summary(doc);
    }
    let at = |path: &[&str]| path.iter().try_fold(doc, |v, k| v.get(k));
    let u64_at = |path: &[&str]| at(path).and_then(Value::as_u64);
    let pair = servers::pair(doc);
    let caspar = if let Some(pair) = &pair {
        pair.connected_text()
    } else if at(&["caspar", "connected"]).and_then(Value::as_bool) == Some(true) {
        match at(&["caspar", "server_version"]).and_then(Value::as_str) {
            Some(v) => format!("CasparCG {} connected", clean(v)),
            None => "CasparCG connected".to_owned(),
        }
    } else {
        "CasparCG not connected".to_owned()
    };
    let playing = u64_at(&["playout", "playing"]).unwrap_or(0);
    let alarms = u64_at(&["alarms", "count"]).unwrap_or(0);
    let mut facts = format!(
        "{caspar}, {} playing, {}",
        plural(playing, "playlist"),
        plural(alarms, "alarm")
    );
    if let Some(role) = cluster::role(doc) {
        facts = format!("{facts}, {role}");
    }
    let status = doc.get("status").and_then(Value::as_str).unwrap_or("down");
    let reasons = reasons(doc);
    let text = if reasons.is_empty() {
        facts
    } else if status == "down" {
        format!("down: {}", reasons.join("; "))
    } else {
        format!("{status}: {} - {facts}", reasons.join("; "))
    };
    let mut perf = Vec::new();
    if let Some(v) = u64_at(&["uptime_seconds"]) {
        perf.push(format!("uptime={v}s"));
    }
    if let Some(v) = at(&["caspar", "rtt", "p50_ms"]).and_then(Value::as_f64) {
        perf.push(format!("rtt_p50={v}ms"));
    }
    if let Some(v) = u64_at(&["websocket", "clients"]) {
        perf.push(format!("ws_clients={v}"));
    }
    perf.push(format!("alarms={alarms}"));
    if let Some(v) = u64_at(&["memory", "rss_bytes"]) {
        perf.push(format!("rss={v}B"));
    }
    if let Some(pair) = &pair {
        perf.extend(pair.perf());
    }
    let first = format!("{text} | {}", perf.join(" "));
    match pair {
        Some(pair) => format!("{first}\n{}", pair.lines().join("\n")),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ok_line_names_the_server_and_counts() {
        let doc = json!({
            "status": "ok", "reasons": [], "version": "0.1.0", "uptime_seconds": 5,
            "caspar": { "connected": true, "server_version": "2.4.3", "rtt": { "p50_ms": 0.4 } },
            "playout": { "playing": 1 }, "alarms": { "count": 0 }, "websocket": { "clients": 2 },
        });
        assert_eq!(
            line(Verdict::Ok, &summary(&doc)),
            "ONAIR OK - CasparCG 2.4.3 connected, 1 playlist playing, 0 alarms \
             | uptime=5s rtt_p50=0.4ms ws_clients=2 alarms=0"
        );
    }

    #[test]
    fn degraded_line_leads_with_reasons_and_stays_on_one_line() {
        let doc = json!({
            "status": "degraded", "version": "0.1.0",
            "reasons": ["CasparCG not connected (down: x\ny | z)"],
            "caspar": { "connected": false }, "playout": { "playing": 2 }, "alarms": { "count": 1 },
        });
        let s = summary(&doc);
        assert!(
            s.starts_with("degraded: CasparCG not connected (down: x y / z) - CasparCG not connected, 2 playlists playing, 1 alarm |"),
            "{s}"
        );
        assert!(!s.contains('\n'));
    }

    #[test]
    fn a_restricted_document_is_summarised_without_invented_facts() {
        let doc = json!({ "status": "degraded", "reasons": ["CasparCG not connected"], "restricted": true });
        assert!(is_health_document(&doc));
        assert_eq!(
            line(Verdict::Warning, &summary(&doc)),
            "ONAIR WARNING - degraded: CasparCG not connected (details need --token (or ONAIR_TOKEN))"
        );
        let ok = json!({ "status": "ok", "reasons": [], "restricted": true });
        assert_eq!(summary(&ok), "ok (details need --token (or ONAIR_TOKEN))");
    }

    #[test]
    fn only_the_health_document_counts() {
        assert!(is_health_document(
            &json!({ "status": "ok", "version": "1" })
        ));
        assert!(!is_health_document(
            &json!({ "status": "fine", "version": "1" })
        ));
        assert!(!is_health_document(&json!({ "status": "ok" })));
        assert!(!is_health_document(&json!([1, 2])));
    }

    #[test]
    fn a_pair_is_counted_on_the_first_line_and_described_after_it() {
        let server = |name: &str, role: &str, connected: bool| {
            json!({ "name": name, "role": role, "connected": connected, "in_step": connected,
                    "state": if connected { "connected" } else { "down: refused" } })
        };
        let doc = |main: bool, backup: bool, status: &str| {
            json!({
                "status": status, "version": "0.1.0",
                "reasons": if status == "ok" { json!([]) } else { json!(["something"]) },
                "caspar": { "connected": main },
                "servers": [server("main", "main", main), server("backup", "backup", backup)],
                "playout": { "playing": 1 }, "alarms": { "count": 1 },
            })
        };
        let one_down = doc(true, false, "degraded");
        assert_eq!(verdict(&one_down), Verdict::Warning);
        assert_eq!(
            summary(&one_down),
            "degraded: something - 1 of 2 CasparCG servers connected, 1 playlist playing, 1 alarm \
             | alarms=1 servers_up=1 servers_in_step=1\n\
             main \"main\": connected, in step\n\
             backup \"backup\": down: refused"
        );
        assert_eq!(verdict(&doc(false, true, "degraded")), Verdict::Warning);
        assert_eq!(verdict(&doc(false, false, "degraded")), Verdict::Critical);
        assert_eq!(verdict(&doc(true, true, "ok")), Verdict::Ok);
        // One server, as before pairs, but off air is CRITICAL too.
        let single =
            json!({ "status": "degraded", "version": "1", "caspar": { "connected": false } });
        assert_eq!(verdict(&single), Verdict::Critical);
        assert!(!summary(&single).contains('\n'));
    }

    #[tokio::test]
    async fn invalid_url_is_unknown() {
        let (code, out) = check("https://x", Duration::from_secs(1), false, None).await;
        assert_eq!(code, 3);
        assert!(out.starts_with("ONAIR UNKNOWN - invalid URL"), "{out}");
        let (code, out) = check("ftp://x", Duration::from_secs(1), true, None).await;
        assert_eq!(code, 3);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["check"], "UNKNOWN");
    }
}
