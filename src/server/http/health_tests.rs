//! Unit tests of the health rules: quantiles, the store probe, memory, and the servers' reasons.

use super::*;

const BOUNDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

fn cumulative(per_bucket: &[u64]) -> Vec<u64> {
    per_bucket
        .iter()
        .scan(0, |acc, n| {
            *acc += n;
            Some(*acc)
        })
        .collect()
}

#[test]
fn quantile_interpolates_inside_the_bucket() {
    // 10 samples, all in (0.5 ms, 1 ms].
    let mut b = vec![0u64; BOUNDS.len() + 1];
    b[3] = 10;
    let c = cumulative(&b);
    let p50 = quantile(&c, &BOUNDS, 0.5).unwrap();
    assert!((p50 - 0.00075).abs() < 1e-9, "{p50}");
    assert_eq!(quantile(&[0; 15], &BOUNDS, 0.5), None);
    assert_eq!(quantile(&[], &BOUNDS, 0.5), None);
}

#[test]
fn quantile_in_the_inf_bucket_is_the_largest_bound() {
    let mut b = vec![0u64; BOUNDS.len() + 1];
    b[BOUNDS.len()] = 3;
    assert_eq!(quantile(&cumulative(&b), &BOUNDS, 0.99), Some(5.0));
}

#[test]
fn store_probe_failure_is_read_from_ok_or_writable() {
    assert_eq!(store_failure(&json!({ "ok": true, "saves": 3 })), None);
    assert_eq!(store_failure(&json!({})), None);
    assert_eq!(
        store_failure(&json!({ "ok": false, "last_error": "disk full" })).as_deref(),
        Some("disk full")
    );
    assert!(store_failure(&json!({ "writable": false })).is_some());
}

#[test]
fn rss_is_known_on_linux() {
    if cfg!(target_os = "linux") {
        assert!(rss_bytes().is_some_and(|b| b > 0));
    }
}

mod servers {
    use std::time::SystemTime;

    use crate::protocol::link::LinkReport;
    use crate::protocol::{ServerRole, ServerView};

    use super::super::servers::{ServerCheck, gather, none_connected, pair_reasons};
    use super::*;

    fn up() -> LinkReport {
        LinkReport {
            status: LinkStatus::Connected {
                server_version: "2.4.3".into(),
                since: SystemTime::UNIX_EPOCH,
                req_supported: true,
            },
            stats: LinkStats::default(),
        }
    }

    fn down(reason: &str) -> LinkReport {
        LinkReport {
            status: LinkStatus::Disconnected {
                reason: reason.into(),
                since: SystemTime::UNIX_EPOCH,
            },
            stats: LinkStats::default(),
        }
    }

    fn view(name: &str, role: ServerRole, in_step: bool, note: Option<&str>) -> ServerView {
        ServerView {
            name: name.into(),
            role,
            connected: true,
            in_step,
            note: note.map(str::to_owned),
            ..ServerView::default()
        }
    }

    fn pair(main: LinkReport, backup: LinkReport, views: &[ServerView]) -> Vec<ServerCheck> {
        gather(
            vec![("main".into(), main), ("backup".into(), backup)],
            views,
        )
    }

    fn reasons(servers: &[ServerCheck], detail: bool) -> Vec<String> {
        let mut r: Vec<String> = none_connected(servers, detail).into_iter().collect();
        pair_reasons(servers, detail, &mut r);
        r
    }

    #[test]
    fn a_single_server_down_keeps_the_old_wording() {
        let one = gather(vec![("main".into(), down("refused"))], &[]);
        assert_eq!(
            reasons(&one, true),
            ["CasparCG not connected (down: refused)"]
        );
        assert_eq!(reasons(&one, false), ["CasparCG not connected"]);
        let one = gather(vec![("main".into(), up())], &[]);
        assert!(reasons(&one, true).is_empty());
    }

    #[test]
    fn one_side_down_or_out_of_step_names_the_server() {
        let views = [
            view("main", ServerRole::Main, true, None),
            view(
                "backup",
                ServerRole::Backup,
                false,
                Some("LOADBG failed: 404"),
            ),
        ];
        let s = pair(up(), down("refused"), &views);
        assert_eq!(
            reasons(&s, true),
            ["backup server \"backup\" not connected (down: refused)"]
        );
        assert_eq!(reasons(&s, false), ["backup server not connected"]);
        let s = pair(up(), up(), &views);
        assert_eq!(
            reasons(&s, true),
            ["backup server \"backup\" out of step: LOADBG failed: 404"]
        );
        assert_eq!(reasons(&s, false), ["backup server out of step"]);
        // The main away, the backup plays: the main is named, the station is still connected.
        let s = pair(down("refused"), up(), &[]);
        assert_eq!(
            reasons(&s, true),
            ["main server \"main\" not connected (down: refused)"]
        );
    }

    #[test]
    fn both_down_is_not_connected_naming_each() {
        let s = pair(down("refused"), down("reset"), &[]);
        assert_eq!(
            reasons(&s, true),
            [
                "CasparCG not connected (main server \"main\": down: refused; \
              backup server \"backup\": down: reset)"
            ]
        );
        assert_eq!(reasons(&s, false), ["CasparCG not connected"]);
    }

    #[test]
    fn a_server_only_the_engine_knows_is_kept() {
        let views = [
            view("main", ServerRole::Main, true, None),
            view("backup", ServerRole::Backup, true, None),
        ];
        let s = gather(vec![("main".into(), up())], &views);
        assert_eq!(s.len(), 2);
        assert!(s[1].link.is_none() && s[1].connected() && s[1].in_step());
        let doc = super::super::servers::section(&s);
        assert_eq!(doc[1]["name"], "backup");
        assert_eq!(doc[1]["role"], "backup");
        assert_eq!(doc[0]["in_step"], true);
    }
}
