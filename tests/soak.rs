//! 60-second soak/chaos run in `cargo test` (ONAIR_SOAK_SECS overrides the length): the daemon, a
//! sped-up simulator, 10 watchers and an operator, with the simulator restarted, stalled,
//! disconnected, slowed down and made to send garbage at random. See `tests/soak/mod.rs`.
//!
//! Invariants asserted: every command got exactly one ack (none hung, none duplicated), no `seq`
//! gaps on any live connection, the AMCP pending table empty whenever the link was seen down and
//! after it reconnected at the end. RSS growth after warm-up is measured and asserted only loosely
//! (≤ 50 %): this is a debug build in a process shared with the test harness and 11 clients, and
//! allocator pools vary; the ≤ 10 % target is checked by the release bench (`benches/soak.rs`).
//!
//! The pair variant (issue 17) runs the same against a main/backup pair with faults on either side
//! or both, and asserts besides that neither side's layer was empty outside its own downtime (plus
//! 2 s to be back in step), and that no last frame it held there lasted that long (shorter holds
//! are reported: see the test). `ONAIR_TEST_LOG=<file>` writes the engine's and
//! the simulators' debug log of the pair run there (what a failing gap needs to be understood).

#[path = "soak/mod.rs"]
mod harness;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::chaos::FaultWindow;
use harness::gaps::analyse;
use harness::pair::{Recorder, Shows, Trace};

/// The two soaks of this file run one after the other: each loads both cores of the CI machine,
/// and the RSS figures are the whole process's.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn secs(default: u64) -> u64 {
    std::env::var("ONAIR_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn params(secs: u64, pair: bool) -> harness::Params {
    harness::Params {
        heap_bytes: None,
        before_teardown: None,
        duration: Duration::from_secs(secs),
        clients: 10,
        op_interval: Duration::from_millis(100),
        chaos_every: (Duration::from_millis(500), Duration::from_secs(3)),
        speed: 4.0,
        warmup: Duration::from_secs(secs / 6),
        report_every: None,
        pair,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_chaos_keeps_every_invariant() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let report = harness::run(params(secs(60), false)).await;
    let json = serde_json::to_string_pretty(&report).expect("report");
    println!("{json}");

    assert!(report.commands_issued > 0, "{json}");
    assert_eq!(report.commands_issued, report.commands_acked, "{json}");
    assert_eq!(report.hung, 0, "{json}");
    assert_eq!(report.unexpected_acks, 0, "{json}");
    assert_eq!(report.seq_gaps, 0, "{json}");
    assert!(report.events_min > 0, "{json}");
    assert_eq!(report.pending_while_down_max, 0, "{json}");
    assert_eq!(report.pending_at_end, 0, "{json}");
    assert!(report.chaos.values().sum::<u64>() > 0, "{json}");
    assert!(report.asrun_starts > 0, "{json}");
    assert!(report.rss_growth_after_warmup <= 0.5, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pair_soak_with_faults_on_both_sides_has_no_gap_outside_downtime() {
    let _alone = ONE_AT_A_TIME.lock().await;
    if let Ok(path) = std::env::var("ONAIR_TEST_LOG") {
        let file = std::fs::File::create(path).expect("log file");
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("onair=debug"))
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
    let report = harness::run(params(secs(45), true)).await;
    let json = serde_json::to_string_pretty(&report).expect("report");
    println!("{json}");

    assert!(report.commands_issued > 0, "{json}");
    assert_eq!(report.commands_issued, report.commands_acked, "{json}");
    assert_eq!(report.hung, 0, "{json}");
    assert_eq!(report.unexpected_acks, 0, "{json}");
    assert_eq!(report.seq_gaps, 0, "{json}");
    assert_eq!(report.pending_while_down_max, 0, "{json}");
    assert_eq!(report.pending_at_end, 0, "{json}");
    let pair = report.pair.as_ref().expect("pair report");
    assert!(pair.samples > 0, "{json}");
    for side in &pair.sides {
        assert!(side.faults_total > 0, "no fault hit {}: {json}", side.name);
        assert_eq!(side.gaps_outside_downtime, 0, "{}: {json}", side.name);
        // A last frame held outside the side's downtime is reported (`held_outside_downtime`,
        // `held_behind_other_side`, each with its longest) and bounded, not forbidden. Two kinds
        // remain (2026-12-05):
        // 1. in 1 of 32 runs here and one CI run, a main running late (its queue flooded, or just
        //    brought back in step) held up its backup's next item, 0.09 s and 0.29 s
        //    (docs/operations.md, "Main and backup servers");
        // 2. once in CI, a backup brought in step after a restart held the end of a 0.5 s item
        //    1.7 s later with no fault on either side, 0.35 s until the recording stopped (8.8 ms
        //    of it past the 2 s allowance).
        // A hold as long as the allowance to get back in step is playout stuck, and fails the run.
        // Both are open engine work (docs/benchmarks.md, "Chaos soak against the pair").
        for (what, longest) in [
            ("held", side.held_outside_max_ms),
            (
                "held behind the other side",
                side.held_behind_other_side_max_ms,
            ),
        ] {
            assert!(
                longest < pair.resync_allowance_ms,
                "{}: {what} {longest} ms: {json}",
                side.name
            );
        }
    }
}

fn ms_after(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// A fault's window, the link outage it causes and the allowance after are not gaps; what the
/// layer misses outside them is, empty or held, on the side where it happened.
#[test]
fn only_what_lies_outside_a_sides_own_downtime_is_a_gap() {
    let t0 = Instant::now();
    let shows = |v: &[(u64, Shows)]| -> Vec<(Instant, Shows, Option<String>)> {
        v.iter()
            .map(|&(ms, s)| (ms_after(t0, ms), s, None))
            .collect()
    };
    let main = Trace {
        // Empty during a restart and 200 ms after the link is back (inside the allowance);
        // later held for 500 ms and empty for 200 ms with nothing wrong on this side.
        shows: shows(&[
            (0, Shows::Playing),
            (1_000, Shows::Empty),
            (1_500, Shows::Playing),
            (5_000, Shows::Held),
            (5_500, Shows::Playing),
            (6_000, Shows::Empty),
            (6_200, Shows::Playing),
        ]),
        link: vec![
            (ms_after(t0, 0), true),
            (ms_after(t0, 950), false),
            (ms_after(t0, 1_300), true),
        ],
        ..Trace::default()
    };
    let backup = Trace {
        // Empty from a drop until 100 ms after the allowance, then once more without cause; a
        // last frame held for 300 ms without cause.
        shows: shows(&[
            (0, Shows::Playing),
            (10_000, Shows::Empty),
            (12_500, Shows::Playing),
            (13_000, Shows::Empty),
            (13_100, Shows::Playing),
            (15_000, Shows::Held),
            (15_300, Shows::Playing),
        ]),
        link: vec![
            (ms_after(t0, 0), true),
            (ms_after(t0, 10_010), false),
            (ms_after(t0, 10_400), true),
        ],
        ..Trace::default()
    };
    let rec = Recorder {
        traces: vec![Mutex::new(main), Mutex::new(backup)],
        samples: Mutex::new(0),
        max_step: Mutex::new(Duration::ZERO),
        started: Mutex::new(Some(t0)),
        stopped: Mutex::new(Some(ms_after(t0, 20_000))),
    };
    let fault = |side, kind, from, to| FaultWindow {
        side,
        kind,
        from: ms_after(t0, from),
        to: ms_after(t0, to),
    };
    let faults = [
        fault(0, "restart", 900, 1_200),
        fault(0, "reply_delay", 4_800, 5_200),
        fault(1, "drop_connections", 10_000, 10_000),
    ];
    let names = ["main".to_owned(), "backup".to_owned()];
    let r = analyse(&rec, &names, &faults, 0, t0, &[(0, 0), (0, 0)]);
    let (m, b) = (&r.sides[0], &r.sides[1]);

    assert_eq!(m.downtime_windows, 1);
    assert!((m.downtime_ms_total - 400.0).abs() < 1.0, "{m:?}");
    assert_eq!(m.link_downs_other, 0);
    assert_eq!(m.not_playing_intervals, 3);
    // The hold under the main's own reply delay is its slowness, not a gap.
    assert_eq!(
        (
            m.gaps_outside_downtime,
            m.held_outside_downtime,
            m.held_while_slow
        ),
        (1, 0, 1)
    );
    assert!((m.gap_outside_max_ms - 200.0).abs() < 1.0, "{m:?}");
    assert_eq!(m.resync_ms_sim.count, 1);
    assert!((m.resync_ms_sim.max - 200.0).abs() < 1.0, "{m:?}");

    assert_eq!(b.downtime_windows, 1);
    assert!((b.downtime_ms_total - 400.0).abs() < 1.0, "{b:?}");
    assert_eq!(b.gaps_outside_downtime, 2);
    assert_eq!((b.held_outside_downtime, b.held_while_slow), (1, 0));
    assert!((b.held_outside_max_ms - 300.0).abs() < 1.0, "{b:?}");
    // Only the part after the allowance counts: 12,400 → 12,500.
    assert!((b.gap_outside_max_ms - 100.0).abs() < 1.0, "{b:?}");

    let kinds: Vec<(&str, &str)> = r.gaps.iter().map(|g| (g.side.as_str(), g.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("main", "held"),
            ("main", "empty"),
            ("backup", "empty"),
            ("backup", "empty"),
            ("backup", "held")
        ]
    );
    assert_eq!(r.gaps[0].faults_here, ["reply_delay"]);
}
