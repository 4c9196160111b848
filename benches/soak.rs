//! Long soak/chaos run: `cargo bench --bench soak` (ONAIR_SOAK_SECS, default 600; ONAIR_SOAK_CLIENTS,
//! default 50). Same harness as the 60 s test (`tests/soak/mod.rs`): prints one JSON line per
//! minute and the final report as JSON, and exits non-zero if an invariant broke.

#[path = "../tests/soak/mod.rs"]
mod harness;

use std::time::Duration;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env_u64("ONAIR_SOAK_SECS", 600);
    let params = harness::Params {
        duration: Duration::from_secs(secs),
        clients: env_u64("ONAIR_SOAK_CLIENTS", 50) as usize,
        op_interval: Duration::from_millis(env_u64("ONAIR_SOAK_OP_MS", 100)),
        chaos_every: (Duration::from_millis(500), Duration::from_secs(5)),
        speed: 4.0,
        // Growth is measured against the RSS after the first minute (or a sixth of short runs).
        warmup: Duration::from_secs((secs / 6).min(60)),
        report_every: Some(Duration::from_secs(60)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(harness::run(params));
    println!(
        "{}",
        serde_json::json!({"soak": serde_json::to_value(&report).expect("report")})
    );
    let broken = report.commands_issued != report.commands_acked
        || report.hung != 0
        || report.unexpected_acks != 0
        || report.seq_gaps != 0
        || report.pending_while_down_max != 0
        || report.pending_at_end != 0;
    if broken {
        eprintln!("soak: an invariant broke");
        std::process::exit(1);
    }
    if report.rss_growth_after_warmup > 0.10 {
        eprintln!(
            "soak: RSS grew {:.1} % after warm-up (target 10 %)",
            report.rss_growth_after_warmup * 100.0
        );
    }
}
