//! What the health document says about cluster mode, for the `onair health` line.

use serde_json::Value;

use super::clean;

/// Cluster mode's part of the line: `leader playout-1 (term 12)`, `follower of playout-1`, or
/// `cluster role unknown`; `None` without cluster mode.
pub(super) fn role(doc: &Value) -> Option<String> {
    let c = doc.get("cluster")?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(clean);
    let node = text("node").unwrap_or_default();
    Some(match (text("role").as_deref(), text("leader")) {
        (Some("leader"), _) => {
            let mut line = match c.get("term").and_then(Value::as_u64) {
                Some(term) => format!("leader {node} (term {term})"),
                None => format!("leader {node}"),
            };
            // Between winning the lease and having the journal applied up to its length.
            if c.pointer("/journal/driving").and_then(Value::as_bool) == Some(false) {
                line.push_str(", applying the journal before driving");
            }
            line
        }
        (Some("follower"), Some(leader)) => {
            let behind = c
                .pointer("/journal/behind")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let lag = c.pointer("/journal/lag_ms").and_then(Value::as_f64);
            let ready = c.get("ready_to_lead").and_then(Value::as_bool) != Some(false);
            let mut line = format!("{node} follower of {leader}");
            if let (n @ 1.., Some(ms)) = (behind, lag) {
                line.push_str(&format!(", {n} entries behind ({ms:.0} ms)"));
            }
            if !ready {
                line.push_str(", not ready to take over yet");
            }
            line
        }
        (Some("follower"), None) => format!("{node} follower (no leader yet)"),
        _ => format!("{node} cluster role unknown"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn the_line_names_the_cluster_role() {
        let doc = |cluster: Value| {
            json!({
                "status": "ok", "reasons": [], "caspar": { "connected": true },
                "playout": { "playing": 0 }, "alarms": { "count": 0 }, "cluster": cluster,
            })
        };
        let lead = super::super::summary(&doc(
            json!({"node": "a", "role": "leader", "term": 12, "leader": "a"}),
        ));
        assert!(lead.contains("0 alarms, leader a (term 12) |"), "{lead}");
        let syncing = super::super::summary(&doc(json!({"node": "a", "role": "leader",
            "term": 12, "leader": "a", "journal": {"driving": false}})));
        assert!(
            syncing.contains("leader a (term 12), applying the journal before driving |"),
            "{syncing}"
        );
        let follow = super::super::summary(&doc(
            json!({"node": "b", "role": "follower", "leader": "a"}),
        ));
        assert!(follow.contains("b follower of a |"), "{follow}");
        let behind = super::super::summary(&doc(json!({"node": "b", "role": "follower",
            "leader": "a", "journal": {"behind": 12, "lag_ms": 80.4}})));
        assert!(
            behind.contains("b follower of a, 12 entries behind (80 ms) |"),
            "{behind}"
        );
        let fresh = super::super::summary(&doc(
            json!({"node": "b", "role": "follower", "leader": "a", "ready_to_lead": false}),
        ));
        assert!(
            fresh.contains("b follower of a, not ready to take over yet |"),
            "{fresh}"
        );
        let unknown = super::super::summary(&doc(
            json!({"node": "b", "role": "unknown", "leader": null}),
        ));
        assert!(unknown.contains("b cluster role unknown"), "{unknown}");
    }
}
