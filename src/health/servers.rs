//! What `onair health` reads about the CasparCG servers in the `/health` document: whether any is
//! connected (none is CRITICAL), and for a main/backup pair a count, performance data and one line
//! per server.

use serde_json::Value;

use super::clean;

/// True when no CasparCG server is connected: the station cannot play out. Read from `servers`
/// (this daemon), else `caspar.connected` (a daemon from before pairs), else, in the restricted
/// document, from the reason the daemon gives only in that case.
pub(super) fn off_air(doc: &Value) -> bool {
    if let Some(servers) = doc.get("servers").and_then(Value::as_array)
        && !servers.is_empty()
    {
        return !servers.iter().any(|s| flag(s, "connected"));
    }
    if let Some(connected) = doc.pointer("/caspar/connected").and_then(Value::as_bool) {
        return !connected;
    }
    super::reasons(doc)
        .iter()
        .any(|r| r.starts_with("CasparCG not connected"))
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

/// The `servers` of a document that lists more than one: a main/backup pair. (A single server is
/// described by the first line alone, as it always was.)
pub(super) struct Pair<'a> {
    servers: &'a [Value],
}

pub(super) fn pair(doc: &Value) -> Option<Pair<'_>> {
    let servers = doc.get("servers")?.as_array()?;
    (servers.len() > 1).then_some(Pair { servers })
}

impl Pair<'_> {
    fn up(&self) -> usize {
        self.servers.iter().filter(|s| flag(s, "connected")).count()
    }

    /// `1 of 2 CasparCG servers connected`.
    pub fn connected_text(&self) -> String {
        format!(
            "{} of {} CasparCG servers connected",
            self.up(),
            self.servers.len()
        )
    }

    /// `servers_up=2 servers_in_step=2`, and the backup's drift while it is measured.
    pub fn perf(&self) -> Vec<String> {
        let in_step = self
            .servers
            .iter()
            .filter(|s| flag(s, "connected") && flag(s, "in_step"))
            .count();
        let mut perf = vec![
            format!("servers_up={}", self.up()),
            format!("servers_in_step={in_step}"),
        ];
        // One drift figure (a pair has one backup): Nagios labels must be unique.
        if let Some(d) = self
            .servers
            .iter()
            .find_map(|s| s.get("drift_frames").and_then(Value::as_i64))
        {
            perf.push(format!("drift_frames={d}"));
        }
        perf
    }

    /// One line per server, in the document's order (the main first).
    pub fn lines(&self) -> Vec<String> {
        self.servers.iter().map(line).collect()
    }
}

/// `backup "backup": down: connect failed: …, out of step` or
/// `main "main": connected, CasparCG 2.4.3, in step, lead, rtt p50 0.4 ms`.
fn line(s: &Value) -> String {
    let text = |k: &str| s.get(k).and_then(Value::as_str);
    let role = text("role").unwrap_or("server");
    let name = text("name").unwrap_or("?");
    let connected = flag(s, "connected");
    let mut parts = vec![text("state").unwrap_or("unknown").to_owned()];
    if connected && let Some(v) = text("server_version") {
        parts.push(format!("CasparCG {v}"));
    }
    // A server that is down is out of step by definition; its state says why.
    match s
        .get("in_step")
        .and_then(Value::as_bool)
        .filter(|_| connected)
    {
        Some(true) => parts.push("in step".to_owned()),
        Some(false) => parts.push(match text("note") {
            Some(note) => format!("out of step: {note}"),
            None => "out of step".to_owned(),
        }),
        None => {}
    }
    if flag(s, "lead") {
        parts.push("lead".to_owned());
    }
    if let Some(d) = s.get("drift_frames").and_then(Value::as_i64) {
        let unit = if d.abs() == 1 { "frame" } else { "frames" };
        parts.push(format!("drift {d} {unit}"));
    }
    // The last catch-up belongs to the connection it ended; a server that is down has none yet.
    if connected && let Some(ms) = s.get("resync_ms").and_then(Value::as_u64) {
        parts.push(format!("last catch-up {ms} ms"));
    }
    let missing = s
        .get("missing")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if missing > 0 {
        parts.push(format!("{missing} clip(s) missing"));
    }
    if connected && let Some(p50) = s.pointer("/rtt/p50_ms").and_then(Value::as_f64) {
        parts.push(format!("rtt p50 {p50} ms"));
    }
    clean(&format!("{role} {name:?}: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn off_air_is_read_from_servers_then_caspar_then_reasons() {
        let pair = |a: bool, b: bool| {
            json!({ "caspar": { "connected": a },
                    "servers": [{ "connected": a }, { "connected": b }] })
        };
        assert!(!off_air(&pair(false, true)), "the backup plays");
        assert!(!off_air(&pair(true, false)));
        assert!(off_air(&pair(false, false)));
        assert!(off_air(&json!({ "caspar": { "connected": false } })));
        assert!(!off_air(&json!({ "caspar": { "connected": true } })));
        let restricted =
            |r: &str| json!({ "status": "degraded", "reasons": [r], "restricted": true });
        assert!(off_air(&restricted("CasparCG not connected")));
        assert!(!off_air(&restricted("backup server not connected")));
        assert!(!off_air(&json!({ "status": "ok", "reasons": [] })));
    }

    #[test]
    fn a_line_per_server_says_what_matters() {
        let doc = json!({ "servers": [
            { "name": "main", "role": "main", "connected": true, "state": "connected",
              "server_version": "2.4.3", "in_step": true, "lead": true, "rtt": { "p50_ms": 0.4 },
              "missing": [] },
            { "name": "b|k", "role": "backup", "connected": false, "state": "down: refused\n",
              "in_step": false, "note": null, "lead": false, "resync_ms": 120,
              "missing": ["CLIP2"] },
        ]});
        let p = pair(&doc).expect("a pair");
        assert_eq!(p.connected_text(), "1 of 2 CasparCG servers connected");
        assert_eq!(p.perf(), ["servers_up=1", "servers_in_step=1"]);
        assert_eq!(
            p.lines(),
            [
                "main \"main\": connected, CasparCG 2.4.3, in step, lead, rtt p50 0.4 ms",
                "backup \"b/k\": down: refused , 1 clip(s) missing",
            ]
        );
        assert!(pair(&json!({ "servers": [{ "name": "main" }] })).is_none());
    }
}
